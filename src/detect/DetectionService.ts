import { EventEmitter } from 'node:events';

import { BUDGET_DEFAULTS, type BudgetConfig } from '../budget/budgetConfig.js';
import { BudgetGuard, type BudgetEvent } from '../budget/BudgetGuard.js';
import type { DeviceBatchHandle, InputNorm, LetterboxResult, LetterboxTarget } from '../native/types.js';
import { LatencyWindow, monoNowUs, type Percentiles } from '../util/LatencyWindow.js';
import type { Logger } from '../util/logger.js';
import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';

/** What the service needs of a camera: its newest frame, letterboxed natively. */
export interface FrameSource {
  letterbox(dst: LetterboxTarget, size: number, norm: InputNorm, minSeq?: number): Promise<LetterboxResult | null>;
}

/** What it needs of a detector. */
export interface Detector {
  /** The largest batch the model takes (1 for a model whose batch dimension is fixed). */
  readonly maxBatch: number;
  /**
   * GPU input batches the cameras' letterboxes write straight into (frame i → slot i), for a
   * GPU backend: the tensor never comes to the host. With two, the next batch is letterboxed
   * while the one before it is inferred. Absent or empty: one host tensor, a batch at a time.
   */
  readonly deviceInputs?: readonly DeviceBatchHandle[];
  /**
   * `boxes.length` letterboxed frames, one after the other in `input` (a host tensor or one of
   * deviceInputs); their detections in the same order. Sets `stamps.inferredUs` when the
   * model's outputs are back, before post-processing.
   */
  detectBatch(
    input: Float32Array | DeviceBatchHandle,
    boxes: Letterbox[],
    stamps?: { inferredUs?: number },
  ): Promise<Detection[][]>;
}

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

/** Detections of one frame, with the frame's stamps (monotonic µs) through every stage. */
export interface DetectionEvent {
  camera: string;
  seq: number;
  ptsUs: number;
  width: number;
  height: number;
  /** First packet received, decoded, letterboxed, model outputs back, boxes out of post-processing. */
  stamps: { recvUs: number; decodedUs: number; preprocessedUs: number; inferredUs: number; postprocessedUs: number };
  detections: Detection[];
}

/** What the service announces; the compiler checks names and payloads. */
export interface DetectionServiceEvents {
  /** A batch was launched (as it goes). */
  batch: [ev: BatchEvent];
  /** One frame's detections: the typed stream the live view publishes. */
  detections: [ev: DetectionEvent];
  /** A camera's latency budget was breached, or is kept again. */
  budget: [ev: BudgetEvent];
}

/** Why a decoded frame was not inferred. */
export const DROP_REASONS = ['behind', 'stale', 'every_nth', 'fps', 'gone', 'error'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** A camera's detection settings: its latency budget and policy, target fps. */
export interface CameraDetectOptions {
  /** Packet received → detections out; null = no budget. */
  budgetMs: number | null;
  budget: BudgetConfig;
  /** At most this many inferences per second for the camera; null = as many as the detector gives. */
  targetFps: number | null;
  /** Test only: every inference of this camera takes this much longer (a slowed stage). */
  inferDelayMs: number;
}

export const NO_BUDGET: CameraDetectOptions = {
  budgetMs: null,
  budget: BUDGET_DEFAULTS,
  targetFps: null,
  inferDelayMs: 0,
};

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
  budget: { ms: number; policy: string; state: 'ok' | 'breach'; engaged: boolean; breaches: number } | null;
  fps: number;
  inferMs: { p50: number; p99: number } | null;
  lastObjects: Record<string, number>;
  lastDetections: Detection[];
  lastSeq: number | null;
  lastError: string | null;
}

interface CamState {
  id: string;
  source: FrameSource;
  opts: CameraDetectOptions;
  guard: BudgetGuard | null;
  newestSeq: number;
  /** recvUs of the newest frame (its first packet, monotonic µs). */
  newestRecvUs: number;
  /** Every frame up to this seq was taken into a batch or counted as dropped. */
  doneSeq: number;
  /** Why frames after doneSeq waited: the reason they get if a newer one is taken. */
  waitReason: DropReason;
  lastTakeMs: number;
  /** When its newest frame event came (performance.now ms), and its pts. */
  lastFrameMs: number;
  lastPtsUs: number | null;
  /** The camera's frame interval (ms), from its pts (arrival times jitter and burst). */
  intervalMs: number | null;
  /** The last SERVICE_FRAMES service times (letterbox → detections, ms) for the stale-frame test. */
  service: number[];
  /** The last inferred frame's first packet → decoded (ms). */
  decodeMs: number;
  stats: CameraDetectStats;
  times: LatencyWindow; // recent inference times, ms
  doneAt: number[]; // recent completion times (ms), for fps
}

const WINDOW = 200;
const SERVICE_FRAMES = 4;
/** A camera's frame is overdue (not waited for) this share of its interval late (at least 5 ms): jitter. */
const OVERDUE_SHARE = 0.25;
const overdueSlack = (intervalMs: number) => Math.max(5, intervalMs * OVERDUE_SHARE);

/** A camera's frame in a batch: its letterbox and its slot in the batch's input. */
interface Taken {
  cam: CamState;
  lb: LetterboxResult;
  slot: number;
}

/**
 * One detector shared by every camera: batches of the newest frames of cameras that have one
 * newer than their last inferred one, gathered round-robin (BatchOptions); one batch inferred at
 * a time (the detector uses every core, or its GPU, already), and with two GPU input batches the
 * next one is letterboxed meanwhile. When it falls behind, only each
 * camera's newest frame is taken and the skipped ones are counted. Emits 'batch' (BatchEvent)
 * as each batch goes.
 * Emits 'detections' (DetectionEvent): the typed stream the live view publishes; 'budget'
 * (BudgetEvent) when a camera's latency budget is breached or recovers. Every decoded frame is
 * either inferred or counted as dropped, with the reason.
 */
export class DetectionService extends EventEmitter<DetectionServiceEvents> {
  private readonly cams = new Map<string, CamState>();
  private readonly order: string[] = [];
  private next = 0;
  /** Batches launched and not finished, with when each launched (performance.now()). */
  private readonly inFlight = new Set<{ since: number }>();
  /** A batch is letterboxing its frames (one at a time; the next may start once it infers). */
  private gathering = false;
  /** Input buffers no batch holds: the GPU input batches, or null for the one host tensor. */
  private readonly free: Array<DeviceBatchHandle | null>;
  /** Settles when the last batch queued for inference is done: batches infer in launch order. */
  private inferTail: Promise<void> = Promise.resolve();
  /** When frames started waiting with none finished since (null: nothing waiting since the last batch). */
  private waitingFrom: number | null = null;
  /** Batches have failed since this performance.now() with none detecting since (null: the last one did), and why. */
  private failing: { since: number; message: string } | null = null;
  private closed = false;
  private readonly input: Float32Array;
  private readonly frameLen: number;
  private readonly batch: BatchOptions;
  private fpsTimer: NodeJS.Timeout | null = null;
  private batchTimer: NodeJS.Timeout | null = null;
  /** When the oldest frame of the batch being gathered became ready (performance.now ms). */
  private waitSince: number | null = null;
  private readonly batchCounts = {
    batches: 0,
    frames: 0,
    launches: { full: 0, ready: 0, timeout: 0 } as Record<BatchLaunch, number>,
  };
  private readonly batchWaits = new LatencyWindow(WINDOW);

  constructor(
    private readonly detector: Detector,
    private readonly size: number,
    private readonly norm: InputNorm,
    private readonly log: Logger,
    batch: BatchOptions = { maxSize: 1, timeoutMs: 0 },
  ) {
    super();
    const maxSize = Math.max(1, Math.min(batch.maxSize, detector.maxBatch));
    if (maxSize < batch.maxSize)
      log.warn({ asked: batch.maxSize, model: detector.maxBatch }, 'the model takes smaller batches than configured');
    this.batch = { maxSize, timeoutMs: batch.timeoutMs };
    this.frameLen = 3 * size * size;
    const device = detector.deviceInputs ?? [];
    this.free = device.length ? [...device] : [null];
    this.input = new Float32Array(device.length ? 0 : maxSize * this.frameLen); // the one preallocated host tensor
  }

  addCamera(id: string, source: FrameSource, opts: CameraDetectOptions = NO_BUDGET): void {
    this.cams.set(id, {
      id,
      source,
      opts: { ...opts },
      guard: opts.budgetMs === null ? null : new BudgetGuard(id, opts.budgetMs, opts.budget),
      newestSeq: 0,
      newestRecvUs: 0,
      doneSeq: -1,
      waitReason: 'behind',
      lastTakeMs: -Infinity,
      lastFrameMs: -Infinity,
      lastPtsUs: null,
      intervalMs: null,
      service: [],
      decodeMs: 0,
      times: new LatencyWindow(WINDOW),
      doneAt: [],
      stats: {
        framesInferred: 0,
        dropped: 0,
        dropReasons: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
        pending: 0,
        budget: null,
        fps: 0,
        inferMs: null,
        lastObjects: {},
        lastDetections: [],
        lastSeq: null,
        lastError: null,
      },
    });
    this.order.push(id);
  }

  /** Stops detecting on a camera (config reload); a batch running with its frame finishes, its result for this camera not emitted. */
  removeCamera(id: string): void {
    if (!this.cams.delete(id)) return;
    const i = this.order.indexOf(id);
    this.order.splice(i, 1);
    if (this.next > i) this.next--;
    if (this.next >= this.order.length) this.next = 0;
  }

  /** Test only: slows this camera's inference stage by `ms` from now on. */
  setInferDelay(id: string, ms: number): void {
    const cam = this.cams.get(id);
    if (cam) cam.opts.inferDelayMs = ms;
  }

  /** A camera decoded frame `seq` (called from its frame events). */
  frame(id: string, seq: number, recvUs = 0, ptsUs: number | null = null): void {
    const cam = this.cams.get(id);
    if (!cam) return;
    if (cam.doneSeq < 0) cam.doneSeq = seq - 1; // counting starts at the first frame seen
    if (seq > cam.newestSeq) {
      const now = performance.now();
      this.waitingFrom ??= now;
      // The pts step of consecutive frames; outside 2 ms..1 s it is a new session or a jump.
      const step =
        ptsUs !== null && cam.lastPtsUs !== null && seq === cam.newestSeq + 1 ? (ptsUs - cam.lastPtsUs) / 1000 : NaN;
      if (step >= 2 && step <= 1000)
        cam.intervalMs = cam.intervalMs === null ? step : cam.intervalMs * 0.9 + step * 0.1;
      cam.lastPtsUs = ptsUs;
      cam.lastFrameMs = now;
      cam.newestSeq = seq;
      cam.newestRecvUs = recvUs;
    }
    this.pump();
  }

  /** Frames (doneSeq, upTo) were not taken, for `reason`; doneSeq moves to upTo. */
  private drop(cam: CamState, upTo: number, reason: DropReason, inclusive = false): void {
    const n = upTo - cam.doneSeq - (inclusive ? 0 : 1);
    if (n > 0) {
      cam.stats.dropReasons[reason] += n;
      cam.stats.dropped += n;
    }
    cam.doneSeq = Math.max(cam.doneSeq, inclusive ? upTo : upTo - 1);
  }

  stats(id: string): CameraDetectStats | null {
    const cam = this.cams.get(id);
    if (!cam) return null;
    const now = performance.now();
    const recent = cam.doneAt.filter((t) => now - t < 5000);
    const infer = cam.times.percentiles();
    const g = cam.guard;
    return {
      ...cam.stats,
      dropReasons: { ...cam.stats.dropReasons },
      pending: Math.max(0, cam.newestSeq - cam.doneSeq),
      budget: g
        ? { ms: g.budgetMs, policy: g.cfg.policy, state: g.state, engaged: g.engaged(now), breaches: g.breaches }
        : null,
      fps: recent.length > 1 ? Math.round(((recent.length - 1) / ((now - (recent[0] as number)) / 1000)) * 10) / 10 : 0,
      inferMs: infer ? { p50: infer.p50, p99: infer.p99 } : null,
    };
  }

  /** How batches were formed: sizes, why they went, how long their first frame waited. */
  batchStats(): BatchStats {
    const c = this.batchCounts;
    const w = this.batchWaits.percentiles();
    return {
      ...this.batch,
      batches: c.batches,
      frames: c.frames,
      meanSize: c.batches ? Math.round((c.frames / c.batches) * 100) / 100 : 0,
      launches: { ...c.launches },
      waitMs: w,
    };
  }

  /** No more batches start, and a running one's results are not emitted. */
  close(): void {
    this.closed = true;
    if (this.fpsTimer) clearTimeout(this.fpsTimer);
    if (this.batchTimer) clearTimeout(this.batchTimer);
  }

  /** Whether the camera may take a frame now; if not, why its waiting frames would be dropped. */
  private admits(cam: CamState, nowMs: number): { ok: true } | { ok: false; reason: DropReason; retryMs?: number } {
    const fps = cam.opts.targetFps;
    if (fps !== null && nowMs - cam.lastTakeMs < 1000 / fps)
      return { ok: false, reason: 'fps', retryMs: cam.lastTakeMs + 1000 / fps - nowMs };
    const g = cam.guard;
    if (
      g?.cfg.policy === 'every_nth' &&
      g.engaged(nowMs) &&
      cam.stats.lastSeq !== null &&
      cam.newestSeq - cam.stats.lastSeq < g.cfg.every_nth
    ) {
      return { ok: false, reason: 'every_nth' };
    }
    return { ok: true };
  }

  /**
   * newest_wins while engaged: the newest frame is stale when its age plus the camera's
   * expected service time (the slowest of its last SERVICE_FRAMES) would overrun the budget, and a fresh
   * frame could still make it (otherwise dropping would only starve the camera).
   */
  private stale(cam: CamState, nowMs: number): boolean {
    const g = cam.guard;
    if (!g || g.cfg.policy !== 'newest_wins' || !g.engaged(nowMs) || cam.service.length === 0 || cam.newestRecvUs === 0)
      return false;
    const expected = Math.max(...cam.service);
    const ageMs = (monoNowUs() - cam.newestRecvUs) / 1000;
    const fresh = cam.decodeMs + expected;
    return fresh < g.budgetMs && ageMs + expected > g.budgetMs;
  }

  /**
   * Whether inference makes progress: null when it does, else why not. Stuck: a batch has run
   * longer than `stuckMs`, or frames have waited that long with no batch finishing (what the
   * service manager's watchdog is told).
   */
  stuck(stuckMs: number, now = performance.now()): string | null {
    if (this.closed) return null;
    const oldest = Math.min(...[...this.inFlight].map((b) => b.since));
    if (now - oldest > stuckMs)
      return `inference has been running one batch for ${((now - oldest) / 1000).toFixed(1)} s`;
    // A batch fails over and over (a detector in a broken state): only a restart helps.
    const f = this.failing;
    if (f && now - f.since > stuckMs)
      return `inference has failed for ${((now - f.since) / 1000).toFixed(1)} s: ${f.message}`;
    // Frames a policy holds back (target_fps, every_nth) are not waiting on the detector.
    const waiting = [...this.cams.values()]
      .filter((c) => c.newestSeq > c.doneSeq && this.admits(c, now).ok)
      .map((c) => c.id);
    if (waiting.length === 0) this.waitingFrom = null; // caught up, or held by a policy
    if (
      this.inFlight.size === 0 &&
      this.waitingFrom !== null &&
      waiting.length > 0 &&
      now - this.waitingFrom > stuckMs
    ) {
      return `frames of ${waiting.join(', ')} waiting ${((now - this.waitingFrom) / 1000).toFixed(1)} s, no inference launched`;
    }
    return null;
  }

  private pump(): void {
    if (this.gathering || this.free.length === 0 || this.closed) return;
    const now = performance.now();
    let retry = Infinity;
    const ready: Array<{ cam: CamState; k: number }> = [];
    for (let k = 0; k < this.order.length; k++) {
      const id = this.order[(this.next + k) % this.order.length] as string;
      const cam = this.cams.get(id) as CamState;
      if (cam.newestSeq <= cam.doneSeq) continue;
      const a = this.admits(cam, now);
      if (!a.ok) {
        cam.waitReason = a.reason;
        if (a.retryMs !== undefined) retry = Math.min(retry, a.retryMs);
        continue;
      }
      if (this.stale(cam, now)) {
        this.drop(cam, cam.newestSeq, cam.waitReason); // older waiting frames
        this.drop(cam, cam.newestSeq, 'stale', true); // and the newest one
        cam.waitReason = 'behind';
        continue;
      }
      ready.push({ cam, k });
    }
    if (ready.length === 0) {
      // Nothing to gather (its frames were dropped as stale, or a policy holds them): a later
      // frame starts a new wait.
      this.waitSince = null;
      if (this.batchTimer) clearTimeout(this.batchTimer);
      this.batchTimer = null;
      if (retry < Infinity && !this.fpsTimer) {
        this.fpsTimer = setTimeout(
          () => {
            this.fpsTimer = null;
            this.pump();
          },
          Math.max(1, Math.ceil(retry)),
        );
      }
      return;
    }
    let launch: BatchLaunch = 'full';
    if (ready.length < this.batch.maxSize) {
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
          if (this.batchTimer) clearTimeout(this.batchTimer);
          // Woken by the frames it waits for (frame() pumps), else when one of them is overdue.
          this.batchTimer = setTimeout(
            () => {
              this.batchTimer = null;
              this.pump();
            },
            Math.max(1, Math.ceil(Math.min(wake, deadline) - now)),
          );
          return;
        }
        launch = 'ready';
      } else {
        launch = 'timeout';
      }
    }
    const taken = ready.slice(0, this.batch.maxSize);
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    const waitMs = this.waitSince === null ? 0 : now - this.waitSince;
    this.batchWaits.add(waitMs);
    this.waitSince = null;
    this.batchCounts.batches++;
    this.batchCounts.frames += taken.length;
    this.batchCounts.launches[launch]++;
    this.next = (this.next + (taken[taken.length - 1] as { k: number }).k + 1) % this.order.length;
    const batch = { since: now };
    this.inFlight.add(batch);
    const buffer = this.free.pop() as DeviceBatchHandle | null;
    for (const { cam } of taken) cam.lastTakeMs = now;
    this.emit('batch', { cameras: taken.map((t) => t.cam.id), launch, waitMs } satisfies BatchEvent);
    this.run(
      taken.map((t) => t.cam),
      buffer,
    )
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'detection batch failed'))
      .finally(() => {
        this.inFlight.delete(batch);
        this.free.push(buffer);
        this.waitingFrom = null;
        this.pump();
      });
  }

  /**
   * How long after waitSince a batch may wait for more frames: the configured timeout, less
   * where a camera of the batch would overrun its budget (launched at the deadline, its frame's
   * age then plus its expected service time must fit).
   */
  private timeoutFor(cams: CamState[], now: number): number {
    let t = this.batch.timeoutMs;
    const nowUs = monoNowUs();
    const waited = now - (this.waitSince ?? now);
    for (const cam of cams) {
      if (!cam.guard || cam.newestRecvUs === 0) continue;
      const ageMs = (nowUs - cam.newestRecvUs) / 1000; // now: it has waited `waited` of it
      const expected = cam.service.length ? Math.max(...cam.service) : 0;
      t = Math.min(t, waited + cam.guard.budgetMs - ageMs - expected);
    }
    return Math.max(0, t);
  }

  /**
   * Cameras not in the batch yet whose next frame is due before `deadline` and that may take
   * it: the batch waits for them. Not a camera that is overdue (stalled, dead, reconnecting),
   * has no frame interval yet, or would not be admitted (target fps, every_nth). Returns when
   * to look again (the first of them turns overdue then), or null when none is due.
   */
  private dueBefore(deadline: number, now: number, inBatch: Set<CamState>): number | null {
    let wake: number | null = null;
    for (const cam of this.cams.values()) {
      if (inBatch.has(cam) || cam.intervalMs === null) continue;
      const due = cam.lastFrameMs + cam.intervalMs;
      const late = due + overdueSlack(cam.intervalMs);
      if (now > late || due > deadline || !this.admits(cam, due).ok) continue;
      wake = Math.min(wake ?? Infinity, late);
    }
    return wake;
  }

  /**
   * One batch: its frames letterboxed into `buffer` (the letterbox stage: the next batch may
   * gather into another buffer as soon as this one leaves it), then inferred in its turn.
   */
  private async run(batch: CamState[], buffer: DeviceBatchHandle | null): Promise<void> {
    const startUs = monoNowUs();
    this.gathering = true;
    let frames: Taken[];
    try {
      frames = await this.letterboxAll(batch, buffer);
    } finally {
      this.gathering = false;
    }
    const turn = this.inferTail;
    let done!: () => void;
    this.inferTail = new Promise<void>((r) => (done = r));
    this.pump();
    try {
      await turn;
      if (frames.length) await this.infer(frames, buffer, startUs);
    } finally {
      done();
    }
  }

  /** Letterboxes each camera's newest frame into its slot; the frames taken (their skipped ones are dropped now). */
  private async letterboxAll(batch: CamState[], buffer: DeviceBatchHandle | null): Promise<Taken[]> {
    const target = (i: number): LetterboxTarget =>
      buffer ? { batch: buffer, slot: i } : this.input.subarray(i * this.frameLen, (i + 1) * this.frameLen);
    // A letterbox that throws at once (a closed camera) settles like one that rejects.
    const got = await Promise.all(
      batch.map((cam, i) =>
        Promise.resolve()
          .then(() => cam.source.letterbox(target(i), this.size, this.norm, cam.doneSeq + 1))
          .catch((err: unknown) => err as Error),
      ),
    );
    // Frames that left their pool (a new session) get no slot: in a host tensor the ones after
    // them move up; in a GPU batch their slot runs along and its result is dropped.
    const frames: Taken[] = [];
    got.forEach((lb, i) => {
      const cam = batch[i] as CamState;
      if (lb instanceof Error || !lb || this.closed) {
        if (lb instanceof Error) this.failed(cam, lb);
        else this.drop(cam, cam.newestSeq, 'gone', true); // the newer frame is gone (new session): wait for the next
        cam.waitReason = 'behind';
        return;
      }
      // Taken: the frames it skipped are dropped for why they waited; it is no longer waiting.
      this.drop(cam, lb.seq, cam.waitReason);
      cam.doneSeq = Math.max(cam.doneSeq, lb.seq);
      cam.waitReason = 'behind';
      let slot = i;
      if (!buffer) {
        slot = frames.length;
        if (slot !== i) this.input.copyWithin(slot * this.frameLen, i * this.frameLen, (i + 1) * this.frameLen);
      }
      frames.push({ cam, lb, slot });
    });
    return frames;
  }

  private async infer(frames: Taken[], buffer: DeviceBatchHandle | null, startUs: number): Promise<void> {
    try {
      const t0 = performance.now();
      const delay = Math.max(...frames.map((f) => f.cam.opts.inferDelayMs));
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const model: { inferredUs?: number } = {};
      const box = (lb: LetterboxResult): Letterbox => ({
        scale: lb.scale,
        padX: lb.padX,
        padY: lb.padY,
        srcWidth: lb.width,
        srcHeight: lb.height,
        size: this.size,
      });
      const slots = (frames[frames.length - 1] as Taken).slot + 1;
      const boxes: Letterbox[] = Array.from({ length: slots }, () => box((frames[0] as Taken).lb));
      for (const f of frames) boxes[f.slot] = box(f.lb);
      const found = await this.detector.detectBatch(
        buffer ?? this.input.subarray(0, slots * this.frameLen),
        boxes,
        model,
      );
      const postprocessedUs = monoNowUs();
      const inferredUs = model.inferredUs ?? postprocessedUs;
      const ms = performance.now() - t0;
      for (const { cam, lb, slot } of frames)
        this.finish(cam, lb, found[slot] ?? [], { startUs, inferredUs, postprocessedUs, ms });
    } catch (err) {
      for (const { cam } of frames) this.failed(cam, err as Error, 1);
    }
  }

  /** The detector failed on the camera: its `taken` frames in the batch and those waiting are dropped. */
  private failed(cam: CamState, err: Error, taken = 0): void {
    this.failing = { since: this.failing?.since ?? performance.now(), message: err.message };
    if (this.cams.get(cam.id) !== cam) return;
    cam.stats.dropReasons.error += taken;
    cam.stats.dropped += taken;
    this.drop(cam, cam.newestSeq, 'error', true);
    cam.stats.lastError = err.message;
    this.log.error({ camera: cam.id, err: err.message }, 'detection failed');
  }

  /** One frame of a batch is done: its counters, service time, budget, and its event. */
  private finish(
    cam: CamState,
    lb: LetterboxResult,
    detections: Detection[],
    t: { startUs: number; inferredUs: number; postprocessedUs: number; ms: number },
  ): void {
    this.failing = null;
    // Closed (the daemon stops: its events are already closed), or the camera removed or
    // replaced by a reload while its batch ran: the result goes nowhere.
    if (this.closed || this.cams.get(cam.id) !== cam) return;
    cam.service.push((t.postprocessedUs - t.startUs) / 1000);
    if (cam.service.length > SERVICE_FRAMES) cam.service.shift();
    cam.decodeMs = (lb.decodedUs - lb.recvUs) / 1000;
    cam.stats.framesInferred++;
    cam.times.add(t.ms);
    cam.doneAt.push(performance.now());
    if (cam.doneAt.length > WINDOW) cam.doneAt.shift();
    const objects: Record<string, number> = {};
    for (const d of detections) objects[d.label] = (objects[d.label] ?? 0) + 1;
    cam.stats.lastObjects = objects;
    cam.stats.lastDetections = detections;
    cam.stats.lastSeq = lb.seq;
    cam.stats.lastError = null;
    const ev: DetectionEvent = {
      camera: cam.id,
      seq: lb.seq,
      ptsUs: lb.ptsUs,
      width: lb.width,
      height: lb.height,
      stamps: {
        recvUs: lb.recvUs,
        decodedUs: lb.decodedUs,
        preprocessedUs: lb.doneUs,
        inferredUs: t.inferredUs,
        postprocessedUs: t.postprocessedUs,
      },
      detections,
    };
    this.emit('detections', ev);
    const g = cam.guard;
    if (g) {
      const policyDrops = cam.stats.dropReasons.stale + cam.stats.dropReasons.every_nth;
      const change = g.observe((t.postprocessedUs - lb.recvUs) / 1000, performance.now(), policyDrops);
      if (change) this.emit('budget', change);
    }
  }
}
