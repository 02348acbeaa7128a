import { LatencyWindow } from '../util/LatencyWindow.js';
import type { Detection } from './Detection.js';
import type { DropReason } from './DropLedger.js';
import type { BudgetStats } from './FramePolicy.js';

export interface CameraDetectStats {
  framesInferred: number;
  /** Decoded frames never inferred (sum of dropReasons). */
  dropped: number;
  /**
   * behind: a newer frame won while the detector was busy; stale: the budget policy dropped a
   * frame that could no longer make the budget; every_nth: skipped by that policy; fps: over
   * the camera's target fps; gone: the frame left the pool (new session) before its turn;
   * error: the detector failed on it.
   */
  dropReasons: Record<DropReason, number>;
  /** Decoded frames waiting for their turn (not dropped, nor in a batch yet). */
  pending: number;
  /** The latency budget: null without one. */
  budget: BudgetStats | null;
  fps: number;
  inferMs: { p50: number; p99: number } | null;
  lastObjects: Record<string, number>;
  lastDetections: Detection[];
  lastSeq: number | null;
  lastError: string | null;
}

/** Recent inference times and completions kept per camera (fps over the last 5 s of them). */
const WINDOW = 200;
const FPS_SPAN_MS = 5000;

/** One camera's inference results: how many, how fast, what was seen last, the last error. */
export class CameraStats {
  framesInferred = 0;
  lastObjects: Record<string, number> = {};
  lastDetections: Detection[] = [];
  lastSeq: number | null = null;
  lastError: string | null = null;
  /** Recent inference times, ms. */
  private readonly times = new LatencyWindow(WINDOW);
  /** Recent completion times (performance.now ms), for fps. */
  private readonly doneAt: number[] = [];

  /** Frame `seq` was inferred in `ms` and is done at `nowMs`. */
  inferred(seq: number, detections: Detection[], ms: number, nowMs: number): void {
    this.framesInferred++;
    this.times.add(ms);
    this.doneAt.push(nowMs);
    if (this.doneAt.length > WINDOW) this.doneAt.shift();
    const objects: Record<string, number> = {};
    for (const d of detections) objects[d.label] = (objects[d.label] ?? 0) + 1;
    this.lastObjects = objects;
    this.lastDetections = detections;
    this.lastSeq = seq;
    this.lastError = null;
  }

  /** Inferences per second over the last few seconds, one decimal. */
  fps(nowMs: number): number {
    const recent = this.doneAt.filter((t) => nowMs - t < FPS_SPAN_MS);
    const first = recent[0];
    return first !== undefined && recent.length > 1
      ? Math.round(((recent.length - 1) / ((nowMs - first) / 1000)) * 10) / 10
      : 0;
  }

  inferMs(): { p50: number; p99: number } | null {
    const p = this.times.percentiles();
    return p ? { p50: p.p50, p99: p.p99 } : null;
  }
}
