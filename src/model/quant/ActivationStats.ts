/**
 * Per-tensor activation statistics for INT8 calibration: |x| maxima (pass 1), then |x|
 * histograms over [0, absmax] (pass 2), and the two ways to pick a clipping threshold.
 */
export const BINS = 2048;
const LEVELS = 128; // symmetric int8: 0..127 on each side

export class ActivationStats {
  absMax = 0;
  readonly hist = new Float64Array(BINS);
  count = 0;

  observeMax(data: Float32Array): void {
    let m = this.absMax;
    for (let i = 0; i < data.length; i++) {
      const a = Math.abs(data[i]!);
      if (a > m) m = a;
    }
    this.absMax = m;
  }

  observeHist(data: Float32Array): void {
    if (this.absMax === 0) return;
    const k = BINS / this.absMax;
    for (let i = 0; i < data.length; i++) {
      const b = Math.min(BINS - 1, Math.floor(Math.abs(data[i]!) * k));
      this.hist[b] = this.hist[b]! + 1;
    }
    this.count += data.length;
  }

  get binWidth(): number {
    return this.absMax / BINS;
  }

  /** The |x| value below which `percent` of all observed values lie. */
  percentile(percent: number): number {
    const target = (this.count * percent) / 100;
    let acc = 0;
    for (let i = 0; i < BINS; i++) {
      acc += this.hist[i]!;
      if (acc >= target) return (i + 1) * this.binWidth;
    }
    return this.absMax;
  }

  /**
   * The threshold whose 128-level quantisation of the clipped distribution loses the least
   * information (minimum KL divergence), as TensorRT's entropy calibrator chooses it.
   */
  entropy(): number {
    const h = this.hist;
    let best = BINS;
    let bestKl = Infinity;
    const p = new Float64Array(BINS);
    const q = new Float64Array(BINS);
    for (let i = LEVELS; i <= BINS; i++) {
      // reference: the first i bins, everything beyond folded into the last one
      let outliers = 0;
      for (let j = i; j < BINS; j++) outliers += h[j]!;
      for (let j = 0; j < i; j++) p[j] = h[j]!;
      p[i - 1] = p[i - 1]! + outliers;
      // candidate: the first i bins merged into 128 levels, spread back over non-empty bins
      const per = i / LEVELS;
      for (let l = 0; l < LEVELS; l++) {
        const start = Math.floor(l * per);
        const end = l === LEVELS - 1 ? i : Math.floor((l + 1) * per);
        let sum = 0;
        let nonzero = 0;
        for (let j = start; j < end; j++) {
          sum += h[j]!;
          if (h[j]! > 0) nonzero++;
        }
        for (let j = start; j < end; j++) q[j] = h[j]! > 0 ? sum / nonzero : 0;
      }
      let ps = 0;
      let qs = 0;
      for (let j = 0; j < i; j++) {
        ps += p[j]!;
        qs += q[j]!;
      }
      if (ps === 0 || qs === 0) continue;
      let kl = 0;
      for (let j = 0; j < i; j++) {
        const pj = p[j]! / ps;
        if (pj === 0) continue;
        const qj = q[j]! / qs;
        kl += qj > 0 ? pj * Math.log(pj / qj) : pj * 20; // a value q cannot represent: heavy cost
      }
      if (kl < bestKl) {
        bestKl = kl;
        best = i;
      }
    }
    return (best + 0.5) * this.binWidth;
  }

  /**
   * The threshold with the least expected squared error of the quantised values: the rounding
   * noise of a step (step² / 12 for every value inside the range) plus the clipping error
   * ((|x| − threshold)² for every value beyond it), from the histogram (bin centres).
   */
  mse(): number {
    const h = this.hist;
    const w = this.binWidth;
    // suffix sums over bins beyond a cut: count, Σx, Σx²
    const n = new Float64Array(BINS + 1);
    const sx = new Float64Array(BINS + 1);
    const sxx = new Float64Array(BINS + 1);
    for (let j = BINS - 1; j >= 0; j--) {
      const x = (j + 0.5) * w;
      n[j] = n[j + 1]! + h[j]!;
      sx[j] = sx[j + 1]! + h[j]! * x;
      sxx[j] = sxx[j + 1]! + h[j]! * x * x;
    }
    let best = BINS;
    let bestErr = Infinity;
    for (let i = 16; i <= BINS; i++) {
      const t = i * w;
      const step = t / (LEVELS - 1);
      const inside = n[0]! - n[i]!;
      const clipped = sxx[i]! - 2 * t * sx[i]! + t * t * n[i]!;
      const err = (inside * step * step) / 12 + clipped;
      if (err < bestErr) {
        bestErr = err;
        best = i;
      }
    }
    return best * w;
  }

  /** Fraction of observed values beyond `threshold` (clipped by the quantiser). */
  saturation(threshold: number): number {
    if (this.count === 0) return 0;
    const from = Math.min(BINS, Math.ceil(threshold / this.binWidth));
    let n = 0;
    for (let i = from; i < BINS; i++) n += this.hist[i]!;
    return n / this.count;
  }
}
