import { describe, expect, it } from 'vitest';

import { BUDGET_DEFAULTS } from '../../src/budget/budgetConfig.js';
import { DropLedger } from '../../src/detect/DropLedger.js';
import { FramePolicy, NO_BUDGET } from '../../src/detect/FramePolicy.js';
import { StuckWatch } from '../../src/detect/StuckWatch.js';

describe('DropLedger', () => {
  it('accounts for every frame: taken, or dropped with the reason it waited for', () => {
    const l = new DropLedger();
    l.seen(10); // counting starts at the first frame seen
    expect(l.pending(12)).toBe(3);
    l.waitReason = 'fps';
    l.take(12); // 10 and 11 skipped while held by target_fps
    expect(l.reasons.fps).toBe(2);
    expect(l.waitReason).toBe('behind');
    l.stale(15); // 13, 14 behind; 15 stale
    expect(l.reasons).toMatchObject({ behind: 2, stale: 1 });
    l.failed(17, 1); // one frame of the batch, and 16, 17 waiting
    expect(l.reasons.error).toBe(3);
    expect(l.dropped).toBe(2 + 2 + 1 + 3);
    expect(l.policyDrops()).toBe(1);
    expect(l.waiting(17)).toBe(false);
  });
});

describe('FramePolicy', () => {
  it('holds frames over target_fps and says when to look again', () => {
    const p = new FramePolicy('cam', { ...NO_BUDGET, targetFps: 10 });
    expect(p.admits(1000, 1, null)).toEqual({ ok: true });
    p.took(1000);
    expect(p.admits(1040, 2, 1)).toEqual({ ok: false, reason: 'fps', retryMs: 60 });
    expect(p.admits(1100, 3, 1).ok).toBe(true);
    expect(p.stats(1100)).toBeNull();
  });

  it('newest_wins, once breached: a frame too old for the budget is stale unless no frame could make it', () => {
    const budget = { ...BUDGET_DEFAULTS, breach_frames: 1 };
    const p = new FramePolicy('cam', { ...NO_BUDGET, budgetMs: 100, budget });
    p.served(40, 10);
    expect(p.stale(0, 80)).toBe(false); // not engaged yet
    expect(p.observe(150, 0, 0)?.kind).toBe('breach');
    expect(p.stale(1, 80)).toBe(true); // 80 + 40 > 100, and 10 + 40 fits
    expect(p.stale(1, 50)).toBe(false);
    expect(p.budgetLeftMs(30)).toBe(30);
    p.served(95, 10);
    expect(p.stale(1, 80)).toBe(false); // even a fresh frame misses: dropping would starve it
    expect(p.stats(1)).toMatchObject({ ms: 100, state: 'breach', engaged: true, breaches: 1 });
  });
});

describe('StuckWatch', () => {
  it('names a batch that runs too long, failures in a row, and frames nobody launches a batch for', () => {
    const w = new StuckWatch();
    const b = w.launched(0);
    expect(w.stuck(1000, 500, () => [])).toBeNull();
    expect(w.stuck(1000, 1500, () => [])).toMatch(/running one batch for 1\.5 s/);
    w.finished(b);
    w.failed('boom', 2000);
    w.failed('boom again', 2500); // failing since the first failure
    expect(w.stuck(1000, 3100, () => [])).toMatch(/failed for 1\.1 s: boom again/);
    w.detected();
    w.frameWaiting(4000);
    expect(w.stuck(1000, 4500, () => ['a'])).toBeNull();
    expect(w.stuck(1000, 5100, () => ['a'])).toMatch(/frames of a waiting 1\.1 s/);
    expect(w.stuck(1000, 5200, () => [])).toBeNull(); // held by a policy: not the detector's fault
  });
});
