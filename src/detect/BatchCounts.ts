import { LatencyWindow, type Percentiles } from '../util/LatencyWindow.js';
import type { BatchLaunch, BatchOptions } from './BatchScheduler.js';

export interface BatchStats {
  maxSize: number;
  timeoutMs: number;
  batches: number;
  frames: number;
  /** Frames per batch (mean). */
  meanSize: number;
  launches: Record<BatchLaunch, number>;
  /** First frame waiting → batch launched (ms), over recent batches. */
  waitMs: Percentiles | null;
}

/** Recent batches whose wait the percentiles cover. */
const WINDOW = 200;

/** How batches were formed: how many, how many frames, why they went, how long their first frame waited. */
export class BatchCounts {
  private batches = 0;
  private frames = 0;
  private readonly launches: Record<BatchLaunch, number> = { full: 0, ready: 0, timeout: 0 };
  private readonly waits = new LatencyWindow(WINDOW);

  launched(launch: BatchLaunch, frames: number, waitMs: number): void {
    this.waits.add(waitMs);
    this.batches++;
    this.frames += frames;
    this.launches[launch]++;
  }

  stats(options: BatchOptions): BatchStats {
    return {
      ...options,
      batches: this.batches,
      frames: this.frames,
      meanSize: this.batches ? Math.round((this.frames / this.batches) * 100) / 100 : 0,
      launches: { ...this.launches },
      waitMs: this.waits.percentiles(),
    };
  }
}
