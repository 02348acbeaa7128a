import { describe, expect, it } from 'vitest';

import { iou, nms, type Detection } from '../../src/detect/Detection.js';
import { compareDetections } from '../../src/detect/compareDetections.js';
import { letterboxGeometry, toSource } from '../../src/detect/letterbox.js';
import { decodeNanodet, expectedDistance } from '../../src/detect/nanodet/NanodetHead.js';

const det = (classId: number, score: number, x1: number, y1: number, x2: number, y2: number): Detection => ({
  classId,
  label: String(classId),
  score,
  x1,
  y1,
  x2,
  y2,
});

/** Bins that put all probability on bin `k` (a large logit there, zeros elsewhere). */
function oneHot(bins: Float32Array, offset: number, k: number) {
  bins[offset + k] = 50;
}

describe('detection maths', () => {
  it('expected GFL distance: a sharp bin gives its index, a flat distribution its mean', () => {
    const b = new Float32Array(11);
    oneHot(b, 0, 7);
    expect(expectedDistance(b, 0, 11)).toBeCloseTo(7, 6);
    expect(expectedDistance(new Float32Array(11), 0, 11)).toBeCloseTo(5, 6);
    const two = new Float32Array([0, 0, 0, 10, 10, 0, 0, 0, 0, 0, 0]); // half on 3, half on 4
    expect(expectedDistance(two, 0, 11)).toBeCloseTo(3.5, 3);
  });

  it('decodes a hand-made head: cell centre ± distances × stride, through the letterbox', () => {
    // stride 8 on a 32×32 input: 4×4 cells, 2 classes, regMax 10 (11 bins a side)
    const cls = new Float32Array(16 * 2);
    const reg = new Float32Array(16 * 44);
    const cell = 1 * 4 + 2; // x = 2, y = 1
    cls[cell * 2 + 1] = 0.9;
    [1, 2, 3, 4].forEach((d, side) => oneHot(reg, cell * 44 + side * 11, d));
    // source 64×32 letterboxed into 32×32: scale 0.5, padY 8
    const lb = letterboxGeometry(64, 32, 32);
    expect(lb).toMatchObject({ scale: 0.5, padX: 0, padY: 8 });
    const out = decodeNanodet([{ stride: 8, cls, reg }], lb, {
      inputSize: 32,
      numClasses: 2,
      regMax: 10,
      scoreThreshold: 0.5,
      iouThreshold: 0.5,
      maxDetections: 10,
    });
    expect(out).toHaveLength(1);
    // centre (20, 12); box in input pixels [20-8, 12-16, 20+24, 12+32] = [12, -4, 44, 44]
    // → source: x/0.5, (y-8)/0.5, clamped to 64×32
    expect(out[0]).toMatchObject({ classId: 1, score: expect.closeTo(0.9, 5) });
    expect(out[0]!.x1).toBeCloseTo(24, 4);
    expect(out[0]!.y1).toBeCloseTo(0, 4);
    expect(out[0]!.x2).toBeCloseTo(64, 4); // 88 clamped
    expect(out[0]!.y2).toBeCloseTo(32, 4); // 72 clamped
  });

  it('IoU and class-aware NMS', () => {
    expect(iou(det(0, 1, 0, 0, 10, 10), det(0, 1, 5, 0, 15, 10))).toBeCloseTo(50 / 150, 6);
    expect(iou(det(0, 1, 0, 0, 10, 10), det(0, 1, 20, 20, 30, 30))).toBe(0);
    const kept = nms(
      [det(0, 0.9, 0, 0, 10, 10), det(0, 0.8, 1, 0, 11, 10), det(1, 0.7, 1, 0, 11, 10), det(0, 0.6, 50, 50, 60, 60)],
      0.5,
    );
    expect(kept.map((d) => d.score)).toEqual([0.9, 0.7, 0.6]); // the 0.8 box is the 0.9 box's duplicate
    expect(nms([det(0, 0.9, 0, 0, 10, 10), det(0, 0.8, 20, 20, 30, 30)], 0.5, 1)).toHaveLength(1);
  });

  it('letterbox geometry maps model pixels back to the source', () => {
    const lb = letterboxGeometry(768, 576, 416);
    expect(lb.scale).toBeCloseTo(416 / 768, 9);
    expect(lb.padX).toBe(0);
    expect(lb.padY).toBe(52); // 576 × 0.5417 = 312 rows, centred
    expect(toSource(lb, 208, 208)).toEqual([384, 288]);
    expect(toSource(lb, 0, 0)).toEqual([0, 0]); // the pad clamps to the frame
  });

  it("compares a backend's detections with the reference: same class, IoU ≥ 0.5, each box used once", () => {
    const ref = [[det(0, 0.9, 0, 0, 100, 100), det(0, 0.8, 200, 200, 300, 300), det(2, 0.7, 50, 50, 60, 60)], []];
    const got = [
      [det(0, 0.85, 10, 0, 110, 100), det(1, 0.8, 200, 200, 300, 300), det(2, 0.7, 50, 50, 60, 60)],
      [det(0, 0.5, 0, 0, 10, 10)],
    ];
    const r = compareDetections(ref, got);
    expect(r).toMatchObject({ frames: 2, reference: 3, candidate: 4, matched: 2 }); // the class-1 box does not match a person
    expect(r.meanIou).toBeCloseTo((90 / 110 + 1) / 2, 3);
    expect(r.maxScoreDiff).toBeCloseTo(0.05, 3);
    expect(compareDetections(ref, ref)).toMatchObject({ matched: 3, meanIou: 1, maxScoreDiff: 0 });
    // Two reference boxes cannot share one candidate.
    expect(
      compareDetections([[det(0, 0.9, 0, 0, 100, 100), det(0, 0.8, 0, 0, 100, 100)]], [[det(0, 0.9, 0, 0, 100, 100)]])
        .matched,
    ).toBe(1);
  });
});
