import type { BudgetEventMessage } from '../protocol/control.js';
import type { BudgetConfig, BudgetPolicy } from './budgetConfig.js';

/** A breach or a recovery of one camera's latency budget (the protocol's message, policy typed). */
export interface BudgetEvent extends BudgetEventMessage {
  policy: BudgetPolicy;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 10) / 10;
};

/**
 * One camera's budget state with hysteresis: `breach_frames` detected frames in a row over
 * budget_ms make a breach; `recover_frames` in a row within it make the recovery. The policy is
 * engaged from the breach until `hold_seconds` after the recovery.
 */
export class BudgetGuard {
  state: 'ok' | 'breach' = 'ok';
  breaches = 0;
  private run: number[] = []; // latencies of the current run (over budget, or within it)
  private since = 0; // breach start (ms, monotonic)
  private engagedUntil = 0;
  private droppedAtBreach = 0;

  constructor(
    readonly camera: string,
    readonly budgetMs: number,
    readonly cfg: BudgetConfig,
  ) {}

  /** Whether the policy acts now. */
  engaged(nowMs: number): boolean {
    return this.state === 'breach' || nowMs < this.engagedUntil;
  }

  /**
   * One detected frame's packet-to-detection latency; returns the transition it caused, if any.
   * `droppedByPolicy` = the camera's policy drops so far (for the recovery's count).
   */
  observe(totalMs: number, nowMs: number, droppedByPolicy: number): BudgetEvent | null {
    const over = totalMs > this.budgetMs;
    const wanted = this.state === 'ok' ? over : !over; // what moves the state on
    if (!wanted) {
      this.run = [];
      return null;
    }
    this.run.push(totalMs);
    const base = {
      camera: this.camera,
      at: new Date().toISOString(),
      budgetMs: this.budgetMs,
      policy: this.cfg.policy,
    };
    if (this.state === 'ok' && this.run.length >= this.cfg.breach_frames) {
      const ev: BudgetEvent = { ...base, kind: 'breach', latencyMs: median(this.run), durationMs: null, dropped: null };
      this.state = 'breach';
      this.breaches++;
      this.since = nowMs;
      this.droppedAtBreach = droppedByPolicy;
      this.run = [];
      return ev;
    }
    if (this.state === 'breach' && this.run.length >= this.cfg.recover_frames) {
      const ev: BudgetEvent = {
        ...base,
        kind: 'recovered',
        latencyMs: median(this.run),
        durationMs: Math.round(nowMs - this.since),
        dropped: droppedByPolicy - this.droppedAtBreach,
      };
      this.state = 'ok';
      this.engagedUntil = nowMs + this.cfg.hold_seconds * 1000;
      this.run = [];
      return ev;
    }
    return null;
  }
}
