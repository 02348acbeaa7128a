import { describe, expect, it } from 'vitest';

import { decodeHead } from '../../src/detect/decodeHead.js';
import type { Detection } from '../../src/detect/Detection.js';
import { letterboxGeometry } from '../../src/detect/letterbox.js';
import type { CenternetHead, DetrHead, ModelSpec, YoloHead } from '../../src/detect/ModelSpec.js';

const input = (size: number): ModelSpec['input'] => ({
  name: 'images',
  size,
  normalize: { mean: [0, 0, 0], std: [255, 255, 255], bgr: false },
  resize: 'letterbox',
});
const settings = { scoreThreshold: 0.3, iouThreshold: 0.5, maxDetections: 100 };
const identity = (size: number) => letterboxGeometry(size, size, size);
/** The box of `d` equals `want` to float32 precision. */
const expectBox = (d: Detection | undefined, want: number[]) =>
  [d!.x1, d!.y1, d!.x2, d!.y2].forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 4));

describe('CenterNet decode', () => {
  const head: CenternetHead = {
    family: 'centernet',
    stride: 4,
    heatmap: 'hm',
    box: 'size-offset',
    size: 'wh',
    offset: 'off',
    order: 'xy',
    units: 'cells',
  };
  const spec: ModelSpec = { id: 'cn', input: input(32), head, classes: ['a', 'b'] };
  const plane = 8 * 8;
  const maps = () => ({
    hm: new Float32Array(2 * plane),
    wh: new Float32Array(2 * plane),
    off: new Float32Array(2 * plane),
  });

  it('a peak: centre + offset and size × stride; its lower neighbours are not peaks', () => {
    const m = maps();
    const cell = 3 * 8 + 5; // x 5, y 3
    m.hm[plane + cell] = 0.9; // class b
    m.hm[plane + cell + 1] = 0.6; // a neighbour, lower: not a peak
    m.off[cell] = 0.25;
    m.off[plane + cell] = 0.5;
    m.wh[cell] = 2; // 8 px wide
    m.wh[plane + cell] = 4; // 16 px high
    const out = decodeHead(spec, m, identity(32), settings);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ classId: 1, label: 'b', score: expect.closeTo(0.9, 6) });
    // centre ((5.25)·4, (3.5)·4) = (21, 14)
    expectBox(out[0], [17, 6, 25, 22]);
  });

  it('yx order and sizes in pixels read the other channels', () => {
    const m = maps();
    const cell = 2 * 8 + 2;
    m.hm[cell] = 0.8;
    m.off[cell] = 0.5; // y
    m.wh[cell] = 12; // h, px
    m.wh[plane + cell] = 6; // w, px
    const out = decodeHead({ ...spec, head: { ...head, order: 'yx', units: 'pixels' } }, m, identity(32), settings);
    expectBox(out[0], [5, 4, 11, 16]); // centre (8, 10)
  });

  it('ltrb: side distances from the cell point stride·(x, y), in pixels', () => {
    const ltrb: CenternetHead = {
      family: 'centernet',
      stride: 4,
      heatmap: 'hm',
      box: 'ltrb',
      distances: 'd',
      units: 'pixels',
    };
    const hm = new Float32Array(2 * plane);
    const d = new Float32Array(4 * plane);
    const cell = 4 * 8 + 3; // x 3, y 4 → point (12, 16)
    hm[cell] = 0.7;
    [2, 3, 5, 7].forEach((v, k) => (d[k * plane + cell] = v));
    const out = decodeHead({ ...spec, head: ltrb }, { hm, d }, identity(32), settings);
    expect(out).toHaveLength(1);
    expectBox(out[0], [10, 13, 17, 23]);
  });

  it('a wrong-sized map is a clear error naming the output', () => {
    const m = maps();
    expect(() => decodeHead(spec, { ...m, wh: new Float32Array(3) }, identity(32), settings)).toThrow(
      /Expected 128 values in output 'wh' \(box size\) but received 3/,
    );
    const { off: _, ...noOffset } = m;
    expect(() => decodeHead(spec, noOffset, identity(32), settings)).toThrow(/Expected output 'off'.*has: hm, wh/);
  });
});

describe('YOLO decode', () => {
  // 32 × 32 input, strides 8 and 16: 16 + 4 anchors; 3 classes; 4 bins a side
  const decoded: YoloHead = { family: 'yolo', format: 'decoded', output: 'output0', strides: [8, 16] };
  const raw: YoloHead = {
    family: 'yolo',
    format: 'raw',
    strides: [8, 16],
    regMax: 4,
    box: ['b8', 'b16'],
    cls: ['c8', 'c16'],
  };
  const spec = (head: YoloHead): ModelSpec => ({ id: 'y', input: input(32), head, classes: ['a', 'b', 'c'] });

  it('decoded: centre/size boxes, best class per anchor, NMS within a class', () => {
    const A = 20;
    const t = new Float32Array(7 * A);
    const put = (a: number, box: number[], cls: number, score: number) => {
      box.forEach((v, k) => (t[k * A + a] = v));
      t[(4 + cls) * A + a] = score;
    };
    put(3, [10, 10, 8, 8], 2, 0.9);
    put(4, [11, 10, 8, 8], 2, 0.8); // a duplicate of anchor 3
    put(17, [20, 20, 16, 8], 0, 0.7);
    t[5 * A + 17] = 0.5; // a lower second class on the same anchor: not kept
    const out = decodeHead(spec(decoded), { output0: t }, identity(32), settings);
    expect(out.map((d) => [d.classId, d.score])).toEqual([
      [2, expect.closeTo(0.9, 6)],
      [0, expect.closeTo(0.7, 6)],
    ]);
    expectBox(out[1], [12, 16, 28, 24]);
  });

  it('raw: DFL expectation and sigmoid give the box the decoded graph would', () => {
    const b8 = new Float32Array(16 * 16);
    const c8 = new Float32Array(3 * 16).fill(-20);
    const cell = 1 * 4 + 2; // x 2, y 1 → anchor (2.5, 1.5) in cells
    c8[1 * 16 + cell] = 2; // class b, sigmoid(2) = 0.881
    [1, 0, 3, 2].forEach((d, side) => (b8[(side * 4 + d) * 16 + cell] = 40)); // l 1, t 0, r 3, b 2
    const out = decodeHead(
      spec(raw),
      { b8, c8, b16: new Float32Array(16 * 4), c16: new Float32Array(3 * 4).fill(-20) },
      identity(32),
      settings,
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ classId: 1, score: expect.closeTo(1 / (1 + Math.exp(-2)), 6) });
    expectBox(out[0], [12, 12, 32, 28]); // (2.5-1, 1.5-0, 2.5+3, 1.5+2) × 8
  });
});

describe('DETR decode', () => {
  const sig: DetrHead = { family: 'detr', logits: 'pred_logits', boxes: 'pred_boxes', scores: 'sigmoid' };
  const spec = (head: DetrHead): ModelSpec => ({ id: 'd', input: input(100), head, classes: ['a', 'b'] });
  const boxes = Float32Array.from([0.5, 0.5, 0.2, 0.4, 0.1, 0.1, 0.1, 0.1, 0.25, 0.75, 0.5, 0.5]);

  it('sigmoid: every (query, class) over the threshold, best first, no NMS; boxes through the letterbox', () => {
    const logits = Float32Array.from([3, -9, -9, -9, 1, 2]); // q0 a, q2 b and a
    const lb = letterboxGeometry(200, 100, 100); // scale 0.5, padY 25
    const out = decodeHead(spec(sig), { pred_logits: logits, pred_boxes: boxes }, lb, settings);
    expect(out.map((d) => [d.label, +d.score.toFixed(3)])).toEqual([
      ['a', 0.953],
      ['b', 0.881],
      ['a', 0.731],
    ]);
    // q0: centre (50, 50), 20 × 40 in input pixels → source ((40-0)/0.5, (30-25)/0.5, …)
    expectBox(out[0], [80, 10, 120, 90]);
  });

  it('softmax: the last class is "no object"; each query keeps its best other class', () => {
    const logits = Float32Array.from([5, 0, 0, 0, 0, 6, 0, 4, 0]); // q0 a, q1 no object, q2 b
    const out = decodeHead(
      spec({ ...sig, scores: 'softmax' }),
      { pred_logits: logits, pred_boxes: boxes },
      identity(100),
      settings,
    );
    expect(out.map((d) => d.label)).toEqual(['a', 'b']);
  });

  it('outputs that do not fit the classes are a clear error', () => {
    expect(() =>
      decodeHead(spec(sig), { pred_logits: new Float32Array(7), pred_boxes: boxes }, identity(100), settings),
    ).toThrow(/'pred_logits' \(class logits\) to hold queries × 2 values but received 7/);
  });
});
