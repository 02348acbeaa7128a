import { BUDGET_DEFAULTS, type BudgetConfig } from '../budget/budgetConfig.js';
import { BudgetGuard, type BudgetEvent } from '../budget/BudgetGuard.js';
import type { DropReason } from './DropLedger.js';

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

/** A camera's budget as its stats show it. */
export interface BudgetStats {
  ms: number;
  policy: string;
  state: 'ok' | 'breach';
  engaged: boolean;
  breaches: number;
}

export type Admission = { ok: true } | { ok: false; reason: DropReason; retryMs?: number };

/** Service times (letterbox → detections) the stale-frame test looks back on. */
const SERVICE_FRAMES = 4;

/**
 * Which frames one camera may take, and when: its target fps, and its latency budget's guard
 * and policy (every_nth while engaged; newest_wins drops frames that can no longer make it).
 */
export class FramePolicy {
  readonly guard: BudgetGuard | null;
  private lastTakeMs = -Infinity;
  /** The last SERVICE_FRAMES service times (letterbox → detections, ms). */
  private readonly service: number[] = [];
  /** The last inferred frame's first packet → decoded (ms). */
  private decodeMs = 0;

  constructor(
    id: string,
    private readonly opts: CameraDetectOptions,
  ) {
    this.guard = opts.budgetMs === null ? null : new BudgetGuard(id, opts.budgetMs, opts.budget);
  }

  /** Whether the camera may take a frame now; if not, why its waiting frames would be dropped. */
  admits(nowMs: number, newestSeq: number, lastSeq: number | null): Admission {
    const fps = this.opts.targetFps;
    if (fps !== null && nowMs - this.lastTakeMs < 1000 / fps)
      return { ok: false, reason: 'fps', retryMs: this.lastTakeMs + 1000 / fps - nowMs };
    const g = this.guard;
    if (g?.cfg.policy === 'every_nth' && g.engaged(nowMs) && lastSeq !== null && newestSeq - lastSeq < g.cfg.every_nth)
      return { ok: false, reason: 'every_nth' };
    return { ok: true };
  }

  /**
   * newest_wins while engaged: the newest frame (`ageMs` since its first packet) is stale when its
   * age plus the expected service time would overrun the budget, and a fresh frame could still
   * make it (otherwise dropping would only starve the camera).
   */
  stale(nowMs: number, ageMs: number): boolean {
    const g = this.guard;
    if (!g || g.cfg.policy !== 'newest_wins' || !g.engaged(nowMs) || this.service.length === 0) return false;
    const expected = this.expectedMs();
    return this.decodeMs + expected < g.budgetMs && ageMs + expected > g.budgetMs;
  }

  /** What is left of the budget for a frame `ageMs` old, after its expected service time; null without a budget. */
  budgetLeftMs(ageMs: number): number | null {
    return this.guard ? this.guard.budgetMs - ageMs - this.expectedMs() : null;
  }

  /** The camera's frame went into a batch at `nowMs` (target fps counts from there). */
  took(nowMs: number): void {
    this.lastTakeMs = nowMs;
  }

  /** A frame was inferred: its service time (letterbox → detections) and decode time, ms. */
  served(serviceMs: number, decodeMs: number): void {
    this.service.push(serviceMs);
    if (this.service.length > SERVICE_FRAMES) this.service.shift();
    this.decodeMs = decodeMs;
  }

  /** A frame's packet-to-detection latency: the budget's breach or recovery it caused, if any. */
  observe(totalMs: number, nowMs: number, policyDrops: number): BudgetEvent | null {
    return this.guard?.observe(totalMs, nowMs, policyDrops) ?? null;
  }

  stats(nowMs: number): BudgetStats | null {
    const g = this.guard;
    return g
      ? { ms: g.budgetMs, policy: g.cfg.policy, state: g.state, engaged: g.engaged(nowMs), breaches: g.breaches }
      : null;
  }

  /** The slowest of the recent service times (0 before the first). */
  private expectedMs(): number {
    return this.service.length ? Math.max(...this.service) : 0;
  }
}
