import { describe, expect, it } from 'vitest';

import { BUDGET_DEFAULTS } from '../../src/budget/budgetConfig.js';
import { BudgetGuard } from '../../src/budget/BudgetGuard.js';

const guard = (over: Partial<typeof BUDGET_DEFAULTS> = {}) =>
  new BudgetGuard('cam', 100, { ...BUDGET_DEFAULTS, breach_frames: 3, recover_frames: 4, hold_seconds: 10, ...over });

describe('latency budget hysteresis', () => {
  it('breaches after breach_frames in a row over budget, recovers after recover_frames in a row within it', () => {
    const g = guard();
    let t = 0;
    const feed = (ms: number, dropped = 0) => g.observe(ms, (t += 100), dropped);
    expect(feed(150)).toBeNull();
    expect(feed(150)).toBeNull();
    const breach = feed(180);
    expect(breach).toMatchObject({ camera: 'cam', kind: 'breach', budgetMs: 100, latencyMs: 150, durationMs: null });
    expect(g.state).toBe('breach');
    expect(g.engaged(t)).toBe(true);
    expect(feed(90, 5)).toBeNull();
    expect(feed(90, 6)).toBeNull();
    expect(feed(90, 7)).toBeNull();
    const rec = feed(80, 9);
    expect(rec).toMatchObject({ kind: 'recovered', latencyMs: 90, durationMs: 400, dropped: 9 });
    expect(g.state).toBe('ok');
    expect(g.breaches).toBe(1);
  });

  it('does not flap on frames alternating around the budget', () => {
    const g = guard();
    const events = [];
    for (let i = 0; i < 200; i++) {
      const ev = g.observe(i % 2 ? 130 : 70, i * 100, 0);
      if (ev) events.push(ev);
    }
    expect(events).toEqual([]);
    // over budget twice out of three: still never three in a row
    for (let i = 0; i < 200; i++) expect(g.observe(i % 3 ? 130 : 70, i * 100, 0)).toBeNull();
  });

  it('a frame the other way restarts the count; the policy stays engaged hold_seconds after recovery', () => {
    const g = guard();
    g.observe(150, 0, 0);
    g.observe(150, 10, 0);
    g.observe(50, 20, 0); // restarts
    g.observe(150, 30, 0);
    g.observe(150, 40, 0);
    expect(g.state).toBe('ok');
    expect(g.observe(150, 50, 0)?.kind).toBe('breach');
    for (let i = 0; i < 3; i++) g.observe(50, 60 + i, 0);
    g.observe(120, 70, 0); // restarts the recovery count
    for (let i = 0; i < 3; i++) expect(g.observe(50, 80 + i, 0)).toBeNull();
    expect(g.observe(50, 1000, 0)?.kind).toBe('recovered');
    expect(g.engaged(1000 + 9_999)).toBe(true);
    expect(g.engaged(1000 + 10_000)).toBe(false);
  });
});
