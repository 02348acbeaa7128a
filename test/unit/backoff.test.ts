import { describe, expect, it } from 'vitest';

import { backoffDelay } from '../../src/pipeline/backoff.js';

const cfg = { initial_ms: 500, max_ms: 30_000, multiplier: 2, jitter: 0.5 };

describe('backoffDelay', () => {
  it('grows exponentially up to the cap', () => {
    const noJitter = { ...cfg, jitter: 0 };
    expect([0, 1, 2, 3, 6, 7, 20].map((a) => backoffDelay(noJitter, a))).toEqual([
      500, 1000, 2000, 4000, 30000, 30000, 30000,
    ]);
  });

  it('randomises only the jitter fraction of each delay', () => {
    expect(backoffDelay(cfg, 2, () => 0)).toBe(2000);
    expect(backoffDelay(cfg, 2, () => 0.999999)).toBe(1000);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(cfg, 3)));
    expect(seen.size).toBeGreaterThan(10);
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});
