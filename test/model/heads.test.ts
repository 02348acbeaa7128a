import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { Detection } from '../../src/detect/Detection.js';
import { letterboxGeometry, toSource } from '../../src/detect/letterbox.js';
import type { ModelSpec, YoloHead } from '../../src/detect/ModelSpec.js';
import { OrtDetector } from '../../src/detect/OrtDetector.js';
import { detrHeadGraph, plantedImage, yoloHeadGraph, type Planted } from '../helpers/headGraphs.js';
import { tempDir } from '../helpers/tempDir.js';

// The YOLO and DETR decoders on ONNX Runtime's outputs of graphs with those heads' exact structure
// (built here: no such weights are in the registries we reach), through OrtDetector as the daemon runs it.
const dir = tempDir('vigil-heads-');

const classes = ['person', 'car', 'dog'];
const input = (size: number): ModelSpec['input'] => ({
  name: 'images',
  size,
  normalize: { mean: [0, 0, 0], std: [255, 255, 255], bgr: false },
  resize: 'letterbox',
});
const settings = { scoreThreshold: 0.4, iouThreshold: 0.6, maxDetections: 100 };
const sorted = <T extends { classId: number }>(d: T[]) => [...d].sort((a, b) => a.classId - b.classId);

function expectBoxes(got: Detection[], want: Array<{ classId: number; box: number[] }>) {
  expect(got.map((d) => d.classId)).toEqual(want.map((w) => w.classId));
  got.forEach((d, i) => {
    expect(d.label).toBe(classes[d.classId]);
    expect(d.score).toBeGreaterThan(0.99);
    [d.x1, d.y1, d.x2, d.y2].forEach((v, k) => expect(v).toBeCloseTo(want[i]!.box[k]!, 2));
  });
}

describe('YOLO (v8/v11 anchor-free) head on ONNX Runtime', () => {
  const size = 128;
  const perStride: Array<{ classId: number; distances: [number, number, number, number] }> = [
    { classId: 0, distances: [2, 1, 3, 4] },
    { classId: 2, distances: [1, 2, 1, 1] },
    { classId: 1, distances: [1, 1, 2, 0] },
  ];
  const planted: Planted[] = [
    { channel: 0, stride: 8, cx: 3, cy: 6, classId: 0 },
    { channel: 1, stride: 16, cx: 4, cy: 3, classId: 2 },
    { channel: 2, stride: 32, cx: 1, cy: 2, classId: 1 },
  ];
  const path = join(dir, 'yolo.onnx');
  writeFileSync(path, yoloHeadGraph({ size, classes: classes.length, regMax: 16, perStride }).encode());
  const lb = letterboxGeometry(256, 160, size); // scale 0.5, 24 rows of padding above
  const want = sorted(
    planted.map((p, i) => {
      const [l, t, r, b] = perStride[i]!.distances;
      const [ax, ay] = [p.cx + 0.5, p.cy + 0.5];
      const [x1, y1] = toSource(lb, (ax - l) * p.stride, (ay - t) * p.stride);
      const [x2, y2] = toSource(lb, (ax + r) * p.stride, (ay + b) * p.stride);
      return { classId: p.classId, box: [x1, y1, x2, y2] };
    }),
  );

  const decoded: YoloHead = { family: 'yolo', format: 'decoded', output: 'output0', strides: [8, 16, 32] };
  const raw: YoloHead = {
    family: 'yolo',
    format: 'raw',
    strides: [8, 16, 32],
    regMax: 16,
    box: ['box_s8', 'box_s16', 'box_s32'],
    cls: ['cls_s8', 'cls_s16', 'cls_s32'],
  };

  for (const head of [decoded, raw]) {
    it(`${head.format}: the planted objects, in source pixels, and nothing else`, async () => {
      const det = await OrtDetector.load(path, {
        ...settings,
        model: { id: 'yolo-test', input: input(size), head, classes },
      });
      const image = plantedImage(size, planted);
      const two = new Float32Array(2 * image.length);
      two.set(image);
      const [one, empty] = await det.detectBatch(two, [lb, lb]);
      expectBoxes(sorted(one!), want);
      expect(empty).toEqual([]); // a black frame: nothing
      await det.release();
    });
  }

  it('a model description that does not match the file is refused naming the outputs', async () => {
    const wrong: YoloHead = { ...decoded, output: 'output1' };
    await expect(
      OrtDetector.load(path, { model: { id: 'yolo-test', input: input(size), head: wrong, classes } }),
    ).rejects.toThrow(/Expected outputs 'output1' \(yolo head\) for model yolo-test but .* has: .*output0/);
    await expect(
      OrtDetector.load(path, {
        model: { id: 'yolo-test', input: { ...input(size), name: 'x' }, head: decoded, classes },
      }),
    ).rejects.toThrow(/Expected input 'x' for model yolo-test but .* has: images/);
  });
});

describe('DETR-style (RT-DETR / D-FINE) head on ONNX Runtime', () => {
  it('one detection per query that saw an object, no NMS, boxes through the letterbox', async () => {
    const size = 64;
    const path = join(dir, 'detr.onnx');
    writeFileSync(
      path,
      detrHeadGraph({ size, classes: 3, classOfChannel: [0, 1, 2], boxSize: [0.25, 0.125] }).encode(),
    );
    const det = await OrtDetector.load(path, {
      ...settings,
      model: {
        id: 'detr-test',
        input: input(size),
        head: { family: 'detr', logits: 'pred_logits', boxes: 'pred_boxes', scores: 'sigmoid' },
        classes,
      },
    });
    const planted: Planted[] = [
      { channel: 0, stride: 8, cx: 2, cy: 1, classId: 0 },
      { channel: 2, stride: 8, cx: 5, cy: 5, classId: 2 },
      { channel: 2, stride: 8, cx: 6, cy: 5, classId: 2 }, // a neighbour of the same class: kept (no NMS)
    ];
    const lb = letterboxGeometry(640, 480, size);
    const out = sorted(await det.detect(plantedImage(size, planted), lb));
    const want = planted.map((p) => {
      const [cx, cy] = [(p.cx + 0.5) * 8, (p.cy + 0.5) * 8];
      const [w, h] = [0.25 * size, 0.125 * size];
      return {
        classId: p.classId,
        box: [...toSource(lb, cx - w / 2, cy - h / 2), ...toSource(lb, cx + w / 2, cy + h / 2)],
      };
    });
    expectBoxes(out, want);
    await det.release();
  });
});
