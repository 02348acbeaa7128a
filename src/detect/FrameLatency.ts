import { LatencyWindow, type Percentiles } from '../util/LatencyWindow.js';
import type { DetectionEvent } from './DetectionService.js';

/** The stages a detected frame goes through, as stamped (monotonic µs). */
export const STAGES = ['decode', 'queue_preprocess', 'infer', 'total'] as const;
export type Stage = (typeof STAGES)[number];

/** Each stage's time (ms) for one detected frame; `emittedUs` = when its detections came out. */
export function stageTimes(ev: DetectionEvent, emittedUs: number): Record<Stage, number> {
  const s = ev.stamps;
  return {
    decode: (s.decodedUs - s.recvUs) / 1000,             // first packet received → frame decoded
    queue_preprocess: (s.preprocessedUs - s.decodedUs) / 1000,  // waiting for the detector, letterbox
    infer: (s.inferredUs - s.preprocessedUs) / 1000,      // inference + post-processing
    total: (emittedUs - s.recvUs) / 1000,                 // packet → detections out
  };
}

const WINDOW = 1000;

/**
 * One camera's recent per-stage latencies (the newest WINDOW frames) and its cold starts: the
 * first detection after the camera (re)connected is reported apart, not mixed into the warm
 * percentiles.
 */
export class FrameLatency {
  /** Each stage's newest WINDOW warm samples. */
  readonly windows = Object.fromEntries(STAGES.map((s) => [s, new LatencyWindow(WINDOW)])) as Record<Stage, LatencyWindow>;
  private coldPending = true;
  private openedAt: number | null = null;
  cold: { totalMs: number; openToDetectionMs: number | null; at: string } | null = null;

  /** A session opened (start or reconnect): its first detection is a cold start. */
  opened(nowMs: number): void {
    this.coldPending = true;
    this.openedAt = nowMs;
  }

  add(t: Record<Stage, number>, nowMs: number): void {
    if (this.coldPending) {
      this.coldPending = false;
      this.cold = {
        totalMs: Math.round(t.total * 10) / 10,
        openToDetectionMs: this.openedAt === null ? null : Math.round(nowMs - this.openedAt),
        at: new Date().toISOString(),
      };
      return;
    }
    for (const s of STAGES) this.windows[s].add(t[s]);
  }

  percentiles(): Record<Stage, Percentiles | null> {
    return Object.fromEntries(STAGES.map((s) => [s, this.windows[s].percentiles()])) as Record<Stage, Percentiles | null>;
  }
}
