import { EventEmitter } from 'node:events';

import { BUDGET_DEFAULTS, type BudgetConfig } from '../budget/budgetConfig.js';
import { BudgetGuard } from '../budget/BudgetGuard.js';
import type { InputNorm, LetterboxResult } from '../native/types.js';
import { LatencyWindow, monoNowUs } from '../util/LatencyWindow.js';
import type { Logger } from '../util/logger.js';
import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';

/** What the service needs of a camera: its newest frame, letterboxed natively. */
export interface FrameSource {
  letterbox(dst: Float32Array, size: number, norm: InputNorm, minSeq?: number): Promise<LetterboxResult | null>;
}

/** What it needs of a detector. */
export interface Detector {
  /** Sets `stamps.inferredUs` when the model's outputs are back, before post-processing. */
  detect(input: Float32Array, lb: Letterbox, stamps?: { inferredUs?: number }): Promise<Detection[]>;
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

export const NO_BUDGET: CameraDetectOptions = { budgetMs: null, budget: BUDGET_DEFAULTS, targetFps: null, inferDelayMs: 0 };

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
  /** Decoded frames not yet inferred nor dropped (the newest, waiting for its turn). */
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
  /** Every frame up to this seq was inferred or counted as dropped. */
  doneSeq: number;
  /** Why frames after doneSeq waited: the reason they get if a newer one is taken. */
  waitReason: DropReason;
  lastTakeMs: number;
  /** The last SERVICE_FRAMES service times (letterbox → detections, ms) for the stale-frame test. */
  service: number[];
  /** The last inferred frame's first packet → decoded (ms). */
  decodeMs: number;
  stats: CameraDetectStats;
  times: LatencyWindow;  // recent inference times, ms
  doneAt: number[];  // recent completion times (ms), for fps
}

const WINDOW = 200;
const SERVICE_FRAMES = 4;

/**
 * One detector shared by every camera: round-robin over cameras that have a frame newer than
 * their last inferred one; at most one inference in flight (it uses every core already). When
 * it falls behind, only each camera's newest frame is taken and the skipped ones are counted.
 * Emits 'detections' (DetectionEvent): the typed stream the live view publishes; 'budget'
 * (BudgetEvent) when a camera's latency budget is breached or recovers. Every decoded frame is
 * either inferred or counted as dropped, with the reason.
 */
export class DetectionService extends EventEmitter {
  private readonly cams = new Map<string, CamState>();
  private readonly order: string[] = [];
  private next = 0;
  private busy = false;
  private closed = false;
  private readonly input: Float32Array;
  private fpsTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly detector: Detector,
    private readonly size: number,
    private readonly norm: InputNorm,
    private readonly log: Logger,
  ) {
    super();
    this.input = new Float32Array(3 * size * size);  // the one preallocated input tensor
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
      service: [],
      decodeMs: 0,
      times: new LatencyWindow(WINDOW),
      doneAt: [],
      stats: {
        framesInferred: 0, dropped: 0, dropReasons: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>, pending: 0,
        budget: null, fps: 0, inferMs: null, lastObjects: {}, lastDetections: [], lastSeq: null, lastError: null,
      },
    });
    this.order.push(id);
  }

  /** Test only: slows this camera's inference stage by `ms` from now on. */
  setInferDelay(id: string, ms: number): void {
    const cam = this.cams.get(id);
    if (cam) cam.opts.inferDelayMs = ms;
  }

  /** A camera decoded frame `seq` (called from its frame events). */
  frame(id: string, seq: number, recvUs = 0): void {
    const cam = this.cams.get(id);
    if (!cam) return;
    if (cam.doneSeq < 0) cam.doneSeq = seq - 1;  // counting starts at the first frame seen
    if (seq > cam.newestSeq) {
      cam.newestSeq = seq;
      cam.newestRecvUs = recvUs;
    }
    this.pump();
  }

  /** Frames (doneSeq, upTo) were not inferred, for `reason`; doneSeq moves to upTo. */
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
      budget: g ? { ms: g.budgetMs, policy: g.cfg.policy, state: g.state, engaged: g.engaged(now), breaches: g.breaches } : null,
      fps: recent.length > 1 ? Math.round(((recent.length - 1) / ((now - (recent[0] as number)) / 1000)) * 10) / 10 : 0,
      inferMs: infer ? { p50: infer.p50, p99: infer.p99 } : null,
    };
  }

  close(): void {
    this.closed = true;
    if (this.fpsTimer) clearTimeout(this.fpsTimer);
  }

  /** Whether the camera may take a frame now; if not, why its waiting frames would be dropped. */
  private admits(cam: CamState, nowMs: number): { ok: true } | { ok: false; reason: DropReason; retryMs?: number } {
    const fps = cam.opts.targetFps;
    if (fps !== null && nowMs - cam.lastTakeMs < 1000 / fps) return { ok: false, reason: 'fps', retryMs: cam.lastTakeMs + 1000 / fps - nowMs };
    const g = cam.guard;
    if (g?.cfg.policy === 'every_nth' && g.engaged(nowMs) && cam.stats.lastSeq !== null && cam.newestSeq - cam.stats.lastSeq < g.cfg.every_nth) {
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
    if (!g || g.cfg.policy !== 'newest_wins' || !g.engaged(nowMs) || cam.service.length === 0 || cam.newestRecvUs === 0) return false;
    const expected = Math.max(...cam.service);
    const ageMs = (monoNowUs() - cam.newestRecvUs) / 1000;
    const fresh = cam.decodeMs + expected;
    return fresh < g.budgetMs && ageMs + expected > g.budgetMs;
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const now = performance.now();
    let retry = Infinity;
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
        this.drop(cam, cam.newestSeq, cam.waitReason);          // older waiting frames
        this.drop(cam, cam.newestSeq, 'stale', true);           // and the newest one
        cam.waitReason = 'behind';
        continue;
      }
      this.next = (this.next + k + 1) % this.order.length;
      this.busy = true;
      cam.lastTakeMs = now;
      this.run(cam).finally(() => {
        this.busy = false;
        this.pump();
      });
      return;
    }
    if (retry < Infinity && !this.fpsTimer) {
      this.fpsTimer = setTimeout(() => {
        this.fpsTimer = null;
        this.pump();
      }, Math.max(1, Math.ceil(retry)));
    }
  }

  private async run(cam: CamState): Promise<void> {
    try {
      const startUs = monoNowUs();
      const lb = await cam.source.letterbox(this.input, this.size, this.norm, cam.doneSeq + 1);
      if (!lb || this.closed) {
        this.drop(cam, cam.newestSeq, 'gone', true);  // the newer frame is gone (new session): wait for the next
        cam.waitReason = 'behind';
        return;
      }
      const t0 = performance.now();
      if (cam.opts.inferDelayMs > 0) await new Promise((r) => setTimeout(r, cam.opts.inferDelayMs));
      const model: { inferredUs?: number } = {};
      const detections = await this.detector.detect(this.input, {
        scale: lb.scale, padX: lb.padX, padY: lb.padY, srcWidth: lb.width, srcHeight: lb.height, size: this.size,
      }, model);
      const postprocessedUs = monoNowUs();
      const inferredUs = model.inferredUs ?? postprocessedUs;
      const ms = performance.now() - t0;
      this.drop(cam, lb.seq, cam.waitReason);
      cam.waitReason = 'behind';
      cam.doneSeq = lb.seq;
      cam.service.push((postprocessedUs - startUs) / 1000);
      if (cam.service.length > SERVICE_FRAMES) cam.service.shift();
      cam.decodeMs = (lb.decodedUs - lb.recvUs) / 1000;
      cam.stats.framesInferred++;
      cam.times.add(ms);
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
        stamps: { recvUs: lb.recvUs, decodedUs: lb.decodedUs, preprocessedUs: lb.doneUs, inferredUs, postprocessedUs },
        detections,
      };
      this.emit('detections', ev);
      const g = cam.guard;
      if (g) {
        const policyDrops = cam.stats.dropReasons.stale + cam.stats.dropReasons.every_nth;
        const change = g.observe((postprocessedUs - lb.recvUs) / 1000, performance.now(), policyDrops);
        if (change) this.emit('budget', change);
      }
    } catch (err) {
      this.drop(cam, cam.newestSeq, 'error', true);
      cam.stats.lastError = (err as Error).message;
      this.log.error({ camera: cam.id, err: (err as Error).message }, 'detection failed');
    }
  }
}
