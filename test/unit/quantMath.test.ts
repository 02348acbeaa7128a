import { describe, expect, it } from 'vitest';

import { COCO_LABELS } from '../../src/protocol/cocoLabels.js';
import type { Detection } from '../../src/detect/Detection.js';
import { averagePrecision, meanAp } from '../../src/model/eval/meanAp.js';
import { ActivationStats } from '../../src/model/quant/ActivationStats.js';
import { autoKeep } from '../../src/model/quant/Calibrator.js';
import { quantizeWeights } from '../../src/model/quant/QdqWriter.js';

const det = (classId: number, score: number, x1: number, y1: number, x2 = x1 + 10, y2 = y1 + 10): Detection => ({
  classId,
  label: COCO_LABELS[classId]!,
  score,
  x1,
  y1,
  x2,
  y2,
});

function stats(values: number[]): ActivationStats {
  const s = new ActivationStats();
  const data = Float32Array.from(values);
  s.observeMax(data);
  s.observeHist(data);
  return s;
}

describe('calibration maths', () => {
  it('percentile thresholds ignore rare outliers; saturation counts what is clipped', () => {
    const values = Array.from({ length: 100_000 }, (_, i) => ((i % 1000) / 1000) * 2 - 1); // uniform in [-1, 1)
    values.push(50); // one outlier
    const s = stats(values);
    expect(s.absMax).toBe(50);
    const t = s.percentile(99.99);
    expect(t).toBeGreaterThan(0.95);
    expect(t).toBeLessThan(1.1);
    expect(s.saturation(t)).toBeCloseTo(1 / values.length, 5);
    expect(s.saturation(50)).toBe(0);
  });

  it('entropy keeps the bulk of a long-tailed distribution and clips the tail', () => {
    // a Laplace-like bulk within ±4, plus a sparse tail out to 40
    const values: number[] = [];
    for (let i = 1; i < 20000; i++) values.push(-Math.log(i / 20000) * (i % 2 ? 1 : -1) * 0.5);
    for (let i = 0; i < 20; i++) values.push(10 + i * 1.5);
    const s = stats(values);
    const t = s.entropy();
    expect(t).toBeLessThan(s.absMax / 2);
    expect(t).toBeGreaterThan(1);
    expect(s.saturation(t)).toBeLessThan(0.01);
  });

  it('mse picks the threshold whose int8 round trip of the data has (near) the least squared error', () => {
    const values: number[] = [];
    for (let i = 1; i < 20000; i++) values.push(-Math.log(i / 20000) * (i % 2 ? 1 : -1) * 0.5);
    for (let i = 0; i < 20; i++) values.push(10 + i * 1.5);
    const s = stats(values);
    // the real error of quantising every value with threshold t (symmetric int8, clipped)
    const err = (t: number) =>
      values.reduce((e, v) => {
        const step = t / 127;
        const q = Math.max(-127, Math.min(127, Math.round(v / step))) * step;
        return e + (v - q) ** 2;
      }, 0);
    const t = s.mse();
    let best = Infinity;
    for (let k = 1; k <= 400; k++) best = Math.min(best, err((s.absMax * k) / 400));
    expect(err(t)).toBeLessThan(best * 1.1);
    expect(t).toBeLessThan(s.absMax);
  });

  it('weights quantize per output channel, symmetric, exact at each channel maximum', () => {
    // channel 0 spans ±1, channel 1 spans ±0.01: per-channel scales keep both precise
    const w = [1, -0.5, 0.25, -1, 0.01, -0.005, 0.0025, -0.01];
    const { q, scales } = quantizeWeights(w, 2);
    expect(Array.from(scales)).toEqual([expect.closeTo(1 / 127, 9), expect.closeTo(0.01 / 127, 9)]);
    expect(Array.from(q)).toEqual([127, -64, 32, -127, 127, -64, 32, -127]);
    for (let i = 0; i < w.length; i++)
      expect(Math.abs(q[i]! * scales[i < 4 ? 0 : 1]! - w[i]!)).toBeLessThanOrEqual(scales[i < 4 ? 0 : 1]! / 2 + 1e-9);
  });

  it('auto mixed precision keeps the clearly worst layers, capped at a share of all layers', () => {
    const ranked = [0.09, 0.05, 0.031, 0.02, 0.011, 0.01, 0.01, 0.009, 0.009, 0.008].map((error, i) => ({
      layer: `l${i}`,
      error,
    }));
    // median 0.0105 → at least 0.021 qualifies: l0, l1, l2
    expect(autoKeep(ranked, 1)).toEqual(['l0', 'l1', 'l2']);
    expect(autoKeep(ranked, 0.1)).toEqual(['l0']); // at most 10 % of 10 layers
    expect(autoKeep(ranked)).toEqual(['l0']);
  });

  it('mAP: identical detections score 1; misses, shifts and false positives cost', () => {
    const ref = [[det(0, 0.9, 0, 0), det(0, 0.8, 50, 50), det(2, 0.7, 100, 100)], [det(0, 0.95, 10, 10)]];
    const same = meanAp(
      ref.map((r) => ({ reference: r, candidate: r })),
      0.4,
    );
    expect(same.map50).toBe(1);
    expect(same.map50_95).toBe(1);
    // the car is missed entirely: class 2 AP 0, person AP 1 → mAP 0.5
    const missCar = meanAp(
      ref.map((r) => ({ reference: r, candidate: r.filter((d) => d.classId !== 2) })),
      0.4,
    );
    expect(missCar.map50).toBe(0.5);
    expect(missCar.perClass.find((c) => c.classId === 2)).toMatchObject({ reference: 1, candidate: 0 });
    // boxes shifted by 2 px (IoU 0.67): full AP at 0.5, partial over 0.5:0.95
    const shifted = meanAp(
      ref.map((r) => ({ reference: r, candidate: r.map((d) => ({ ...d, x1: d.x1 + 2, x2: d.x2 + 2 })) })),
      0.4,
    );
    expect(shifted.map50).toBe(1);
    expect(shifted.map50_95).toBeGreaterThan(0.2);
    expect(shifted.map50_95).toBeLessThan(0.6);
    // a confident false positive ranked first halves the precision at the first recall points
    const fp = averagePrecision(
      [{ reference: [det(0, 0.9, 0, 0)], candidate: [det(0, 0.99, 200, 200), det(0, 0.9, 0, 0)] }],
      0,
      0.5,
    );
    expect(fp).toBeCloseTo(0.5, 6);
  });
});
