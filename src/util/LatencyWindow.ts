/** Monotonic microseconds on the clock the addon's stamps use (CLOCK_MONOTONIC, process.hrtime). */
export function monoNowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  n: number;
}

/** The newest `size` samples (ms) in a ring, and their percentiles rounded to 0.1 ms. */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  add(ms: number): void {
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next++ % this.size] = ms;
  }

  /** null while empty. */
  percentiles(): Percentiles | null {
    const sorted = [...this.samples].sort((a, b) => a - b);
    if (sorted.length === 0) return null;
    const at = (p: number) =>
      Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 10) / 10;
    return { p50: at(50), p95: at(95), p99: at(99), n: sorted.length };
  }
}
