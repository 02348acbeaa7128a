import type { FrameEvent } from '../native/types.js';
import { LatencyWindow, type Percentiles } from '../util/LatencyWindow.js';
import type { DetectionEvent } from './DetectionService.js';

/** The stages a detected frame goes through, as stamped (monotonic µs). */
export const STAGES = ['decode', 'queue_preprocess', 'infer', 'postprocess', 'total'] as const;
export type Stage = (typeof STAGES)[number];

/** Each stage's time (ms) for one detected frame; `emittedUs` = when its detections came out. */
export function stageTimes(ev: DetectionEvent, emittedUs: number): Record<Stage, number> {
  const s = ev.stamps;
  return {
    decode: (s.decodedUs - s.recvUs) / 1000, // first packet received → frame decoded
    queue_preprocess: (s.preprocessedUs - s.decodedUs) / 1000, // waiting for the detector, letterbox
    infer: (s.inferredUs - s.preprocessedUs) / 1000, // the model (ONNX Runtime's threads)
    postprocess: (s.postprocessedUs - s.inferredUs) / 1000, // head decode, NMS, letterbox undone
    total: (emittedUs - s.recvUs) / 1000, // packet → detections out
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
  readonly windows = Object.fromEntries(STAGES.map((s) => [s, new LatencyWindow(WINDOW)])) as Record<
    Stage,
    LatencyWindow
  >;
  private coldPending = true;
  private openedAt: number | null = null;
  cold: { totalMs: number; openToDetectionMs: number | null; at: string } | null = null;
  /** Arrival interval between consecutive decoded frames (first packet to first packet, ms). */
  readonly interval = new LatencyWindow(WINDOW);
  /**
   * Interarrival jitter (ms) as RFC 3550 §6.4.1 defines it for RTP: the smoothed |difference|
   * between two frames' arrival interval and their pts interval.
   */
  jitterMs = 0;
  /**
   * After the detector, per viewer: detections out → handed to a socket (the live server adds
   * these), and received by a browser → drawn over their frame (the browsers' own reports).
   */
  readonly delivery = { send: new LatencyWindow(WINDOW), display: new LatencyWindow(WINDOW) };
  private prev: { session: number; recvUs: number; ptsUs: number } | null = null;

  /** A session opened (start or reconnect): its first detection is a cold start. */
  opened(nowMs: number): void {
    this.coldPending = true;
    this.openedAt = nowMs;
  }

  /** Every decoded frame of the camera (detected or not). */
  frame(ev: FrameEvent): void {
    if (ev.ptsUs === null) return;
    const p = this.prev;
    if (p && p.session === ev.session && ev.ptsUs > p.ptsUs) {
      const arrival = (ev.recvUs - p.recvUs) / 1000;
      this.interval.add(arrival);
      this.jitterMs += (Math.abs(arrival - (ev.ptsUs - p.ptsUs) / 1000) - this.jitterMs) / 16;
    }
    this.prev = { session: ev.session, recvUs: ev.recvUs, ptsUs: ev.ptsUs };
  }

  /** Inter-frame interval percentiles and jitter (ms). */
  timing(): { intervalMs: Percentiles | null; jitterMs: number } {
    return { intervalMs: this.interval.percentiles(), jitterMs: Math.round(this.jitterMs * 10) / 10 };
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

  /** Every stage of the frame path, first packet → overlay drawn. */
  percentiles(): Record<Stage | 'send' | 'display', Percentiles | null> {
    const detector = Object.fromEntries(STAGES.map((s) => [s, this.windows[s].percentiles()])) as Record<
      Stage,
      Percentiles | null
    >;
    return { ...detector, send: this.delivery.send.percentiles(), display: this.delivery.display.percentiles() };
  }
}
