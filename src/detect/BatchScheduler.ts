import { monoNowUs } from '../util/LatencyWindow.js';
import type { DetectCamera } from './DetectCamera.js';

/**
 * Cross-camera batching, like DeepStream's stream muxer: a batch goes when it is full, when
 * every camera whose next frame is due before the batch's deadline has given one, or at the
 * deadline (`timeoutMs` after the first frame waited, shortened so that no camera's budget is
 * overrun by the wait). A camera that stopped sending (its frame is overdue by more than one
 * interval) is not waited for: a dead or stalled camera never holds a batch back.
 */
export interface BatchOptions {
  maxSize: number;
  timeoutMs: number;
}

/** Why a batch went: full, every camera due had a frame (ready), or its deadline passed (timeout). */
export const BATCH_LAUNCHES = ['full', 'ready', 'timeout'] as const;
export type BatchLaunch = (typeof BATCH_LAUNCHES)[number];

/** One batch launched: its cameras, why it went, how long its first frame waited for it. */
export interface BatchEvent {
  cameras: string[];
  launch: BatchLaunch;
  waitMs: number;
}

/** A batch to launch now: its cameras, why it goes, how long its first frame waited. */
export interface NextBatch {
  cameras: DetectCamera[];
  launch: BatchLaunch;
  waitMs: number;
}

/**
 * Which cameras go into the next batch, and when (BatchOptions): the cameras with a waiting
 * frame that their policy admits, gathered round-robin so that every camera gets its turn. When
 * the batch should wait, a timer calls `wake` (the service looks again; so do new frames).
 */
export class BatchScheduler {
  /** Round-robin order of the cameras' ids, and where the next batch starts. */
  private readonly order: string[] = [];
  private next = 0;
  /** When the oldest frame of the batch being gathered became ready (performance.now ms). */
  private waitSince: number | null = null;
  private fpsTimer: NodeJS.Timeout | null = null;
  private batchTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly options: BatchOptions,
    private readonly cams: ReadonlyMap<string, DetectCamera>,
    private readonly wake: () => void,
  ) {}

  add(id: string): void {
    this.order.push(id);
  }

  remove(id: string): void {
    const i = this.order.indexOf(id);
    if (i < 0) return;
    this.order.splice(i, 1);
    if (this.next > i) this.next--;
    if (this.next >= this.order.length) this.next = 0;
  }

  /**
   * The batch to launch at `now`, or null when there is none yet (a timer wakes the service when
   * one may be). Frames too old to make their budget are dropped on the way (newest_wins).
   */
  take(now: number): NextBatch | null {
    let retry = Infinity;
    const ready: Array<{ cam: DetectCamera; k: number }> = [];
    for (let k = 0; k < this.order.length; k++) {
      const id = this.order[(this.next + k) % this.order.length] as string;
      const cam = this.cams.get(id) as DetectCamera;
      if (!cam.waiting()) continue;
      const a = cam.admits(now);
      if (!a.ok) {
        cam.ledger.waitReason = a.reason;
        if (a.retryMs !== undefined) retry = Math.min(retry, a.retryMs);
        continue;
      }
      if (cam.dropIfStale(now)) continue;
      ready.push({ cam, k });
    }
    if (ready.length === 0) {
      // Nothing to gather (its frames were dropped as stale, or a policy holds them): a later
      // frame starts a new wait.
      this.waitSince = null;
      this.clearBatchTimer();
      if (retry < Infinity && !this.fpsTimer) {
        this.fpsTimer = setTimeout(
          () => {
            this.fpsTimer = null;
            this.wake();
          },
          Math.max(1, Math.ceil(retry)),
        );
      }
      return null;
    }
    let launch: BatchLaunch = 'full';
    if (ready.length < this.options.maxSize) {
      this.waitSince ??= now;
      const deadline =
        this.waitSince +
        this.timeoutFor(
          ready.map((r) => r.cam),
          now,
        );
      if (now < deadline) {
        const wake = this.dueBefore(deadline, now, new Set(ready.map((r) => r.cam)));
        if (wake !== null) {
          this.clearBatchTimer();
          // Woken by the frames it waits for (new frames wake the service), else when one of them is overdue.
          this.batchTimer = setTimeout(
            () => {
              this.batchTimer = null;
              this.wake();
            },
            Math.max(1, Math.ceil(Math.min(wake, deadline) - now)),
          );
          return null;
        }
        launch = 'ready';
      } else {
        launch = 'timeout';
      }
    }
    const taken = ready.slice(0, this.options.maxSize);
    this.clearBatchTimer();
    const waitMs = this.waitSince === null ? 0 : now - this.waitSince;
    this.waitSince = null;
    this.next = (this.next + (taken[taken.length - 1] as { k: number }).k + 1) % this.order.length;
    return { cameras: taken.map((t) => t.cam), launch, waitMs };
  }

  /** No more timers. */
  close(): void {
    if (this.fpsTimer) clearTimeout(this.fpsTimer);
    if (this.batchTimer) clearTimeout(this.batchTimer);
  }

  private clearBatchTimer(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
  }

  /**
   * How long after waitSince a batch may wait for more frames: the configured timeout, less
   * where a camera of the batch would overrun its budget (launched at the deadline, its frame's
   * age then plus its expected service time must fit).
   */
  private timeoutFor(cams: DetectCamera[], now: number): number {
    let t = this.options.timeoutMs;
    const nowUs = monoNowUs();
    const waited = now - (this.waitSince ?? now); // the newest frame's age now includes `waited`
    for (const cam of cams) {
      const left = cam.budgetLeftMs(nowUs);
      if (left !== null) t = Math.min(t, waited + left);
    }
    return Math.max(0, t);
  }

  /**
   * Cameras not in the batch yet whose next frame is due before `deadline` and that may take
   * it: the batch waits for them. Not a camera that is overdue (stalled, dead, reconnecting),
   * has no frame interval yet, or would not be admitted (target fps, every_nth). Returns when
   * to look again (the first of them turns overdue then), or null when none is due.
   */
  private dueBefore(deadline: number, now: number, inBatch: Set<DetectCamera>): number | null {
    let wake: number | null = null;
    for (const cam of this.cams.values()) {
      if (inBatch.has(cam)) continue;
      const next = cam.nextFrame();
      if (!next || now > next.late || next.due > deadline || !cam.admits(next.due).ok) continue;
      wake = Math.min(wake ?? Infinity, next.late);
    }
    return wake;
  }
}
