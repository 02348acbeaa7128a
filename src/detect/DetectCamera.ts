import type { InputNorm, LetterboxResult, LetterboxTarget } from '../native/types.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import { CameraStats, type CameraDetectStats } from './CameraStats.js';
import { DropLedger } from './DropLedger.js';
import { FramePolicy, type Admission, type CameraDetectOptions } from './FramePolicy.js';

/** What the service needs of a camera: its newest frame, letterboxed natively. */
export interface FrameSource {
  letterbox(dst: LetterboxTarget, size: number, norm: InputNorm, minSeq?: number): Promise<LetterboxResult | null>;
}

/** A camera's frame is overdue (not waited for) this share of its interval late (at least 5 ms): jitter. */
const OVERDUE_SHARE = 0.25;

/**
 * One camera as the detection service sees it: its newest frame and frame interval, its frame
 * accounting (ledger), what it may take (policy), and its results (stats).
 */
export class DetectCamera {
  readonly opts: CameraDetectOptions;
  readonly ledger = new DropLedger();
  readonly policy: FramePolicy;
  readonly stats = new CameraStats();
  newestSeq = 0;
  /** recvUs of the newest frame (its first packet, monotonic µs); 0 before one. */
  newestRecvUs = 0;
  /** When its newest frame event came (performance.now ms), and its pts. */
  private lastFrameMs = -Infinity;
  private lastPtsUs: number | null = null;
  /** The camera's frame interval (ms), from its pts (arrival times jitter and burst). */
  private intervalMs: number | null = null;

  constructor(
    readonly id: string,
    readonly source: FrameSource,
    opts: CameraDetectOptions,
  ) {
    this.opts = { ...opts };
    this.policy = new FramePolicy(id, this.opts);
  }

  /** Frame `seq` was decoded at `nowMs`; false when it is not newer than the newest one. */
  frame(seq: number, recvUs: number, ptsUs: number | null, nowMs: number): boolean {
    this.ledger.seen(seq);
    if (seq <= this.newestSeq) return false;
    // The pts step of consecutive frames; outside 2 ms..1 s it is a new session or a jump.
    const step =
      ptsUs !== null && this.lastPtsUs !== null && seq === this.newestSeq + 1 ? (ptsUs - this.lastPtsUs) / 1000 : NaN;
    if (step >= 2 && step <= 1000)
      this.intervalMs = this.intervalMs === null ? step : this.intervalMs * 0.9 + step * 0.1;
    this.lastPtsUs = ptsUs;
    this.lastFrameMs = nowMs;
    this.newestSeq = seq;
    this.newestRecvUs = recvUs;
    return true;
  }

  /** Whether frames wait that are not accounted for yet. */
  waiting(): boolean {
    return this.ledger.waiting(this.newestSeq);
  }

  admits(nowMs: number): Admission {
    return this.policy.admits(nowMs, this.newestSeq, this.stats.lastSeq);
  }

  /** Drops the waiting frames when the newest one can no longer make the budget (newest_wins); whether it did. */
  dropIfStale(nowMs: number): boolean {
    if (this.newestRecvUs === 0 || !this.policy.stale(nowMs, this.ageMs(monoNowUs()))) return false;
    this.ledger.stale(this.newestSeq);
    return true;
  }

  /** What is left of the budget for the newest frame at `nowUs` after its expected service; null without a budget or a frame. */
  budgetLeftMs(nowUs: number): number | null {
    return this.newestRecvUs === 0 ? null : this.policy.budgetLeftMs(this.ageMs(nowUs));
  }

  /**
   * When the next frame is due and when it is overdue (performance.now ms); null before the
   * frame interval is known.
   */
  nextFrame(): { due: number; late: number } | null {
    if (this.intervalMs === null) return null;
    const due = this.lastFrameMs + this.intervalMs;
    return { due, late: due + Math.max(5, this.intervalMs * OVERDUE_SHARE) };
  }

  /** The detector failed on this camera's frames: `taken` of its batch and those waiting are dropped. */
  failed(message: string, taken: number): void {
    this.ledger.failed(this.newestSeq, taken);
    this.stats.lastError = message;
  }

  snapshot(nowMs: number): CameraDetectStats {
    const s = this.stats;
    return {
      framesInferred: s.framesInferred,
      dropped: this.ledger.dropped,
      dropReasons: { ...this.ledger.reasons },
      pending: this.ledger.pending(this.newestSeq),
      budget: this.policy.stats(nowMs),
      fps: s.fps(nowMs),
      inferMs: s.inferMs(),
      lastObjects: s.lastObjects,
      lastDetections: s.lastDetections,
      lastSeq: s.lastSeq,
      lastError: s.lastError,
    };
  }

  private ageMs(nowUs: number): number {
    return (nowUs - this.newestRecvUs) / 1000;
  }
}
