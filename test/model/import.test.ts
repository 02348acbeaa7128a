import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';

import { VTEST_AVI } from '../../src/cli/demoClips.js';
import { convertTfjsToOnnx, UnsupportedOpError } from '../../src/model/convert/TfjsToOnnx.js';
import { readImageRgb } from '../../src/model/imageFile.js';
import { letterboxRgb } from '../../src/detect/letterbox.js';
import { fp32OnnxPath, importNanodet, int8OnnxPath } from '../../src/model/importModel.js';
import { fetchNanodet, ModelError, NANODET, verifiedNanodet } from '../../src/model/ModelStore.js';
import { NANODET_MODEL, NANODET_TFJS_OUTPUTS } from '../../src/detect/nanodet/nanodetSpec.js';
import { OrtDetector } from '../../src/detect/OrtDetector.js';
import { loadTfjsGraph } from '../../src/model/tfjs/TfjsGraph.js';
import { tempDir } from '../helpers/tempDir.js';
import { loadTfjsModel, maxAbsDiff } from '../helpers/tfjsModel.js';

const DATA = '/usr/share/doc/opencv-doc/examples/data';
// Real photos and footage: people, a ball, fruit, a street, a house.
const IMAGES: Array<[string, number | undefined]> = [
  [join(DATA, 'messi5.jpg'), undefined],
  [join(DATA, 'fruits.jpg'), undefined],
  [join(DATA, 'home.jpg'), undefined],
  [join(DATA, 'licenseplate_motion.jpg'), undefined],
  [VTEST_AVI, 20],
  [VTEST_AVI, 60],
];

let modelJson = '';
beforeAll(() => {
  modelJson = fetchNanodet();
}, 300_000);

describe('detector model', () => {
  it('is verified against pinned sha256 sums; missing or corrupt files say how to fetch', () => {
    expect(verifiedNanodet()).toBe(modelJson);
    const dir = tempDir('vigil-model-');
    expect(() => verifiedNanodet(dir)).toThrow(ModelError);
    expect(() => verifiedNanodet(dir)).toThrow(
      /missing: .*nanodet\.json does not exist\. Fetch it with `vigil model fetch`/,
    );
    for (const f of Object.keys(NANODET.files)) copyFileSync(join(join(modelJson, '..'), f), join(dir, f));
    const bin = readFileSync(join(dir, 'nanodet.bin'));
    bin[1000] = bin[1000]! ^ 0xff;
    writeFileSync(join(dir, 'nanodet.bin'), bin);
    expect(() => verifiedNanodet(dir)).toThrow(/corrupt: .*nanodet\.bin has sha256 [0-9a-f]{64}, expected 5d0e4f8c/);
  });

  it('names the op and node it cannot convert', () => {
    const dir = tempDir('vigil-tfjs-');
    const json = {
      format: 'graph-model',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '1' }, { size: '4' }] } } } },
          { name: 'gelu/erf', op: 'Erf', input: ['x'] },
          { name: 'Identity', op: 'Identity', input: ['gelu/erf'] },
        ],
      },
      weightsManifest: [{ paths: ['w.bin'], weights: [] }],
      signature: { inputs: { 'x:0': {} }, outputs: { 'Identity:0': {} } },
    };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'w.bin'), Buffer.alloc(0));
    const graph = loadTfjsGraph(join(dir, 'model.json'));
    expect(() => convertTfjsToOnnx(graph)).toThrow(UnsupportedOpError);
    expect(() => convertTfjsToOnnx(graph)).toThrow("Unsupported op 'Erf' at node 'gelu/erf'");
  });

  it('imports to a clean NCHW ONNX graph with named outputs', () => {
    const r = importNanodet(join(tempDir('vigil-onnx-'), 'm.onnx'));
    expect(r.inputs).toEqual([{ name: 'input', shape: ['N', 3, 416, 416] }]); // batch: chosen at run time
    expect(r.outputs.find((o) => o.name === 'cls_s8')?.shape).toEqual(['N', 2704, 80]);
    expect(r.outputs.map((o) => o.name).sort()).toEqual([
      'cls_s16',
      'cls_s32',
      'cls_s8',
      'reg_s16',
      'reg_s32',
      'reg_s8',
    ]);
    // Every pad is folded into its conv/pool, every layout transpose cancelled, biases fused.
    expect(r.ops.Pad).toBeUndefined();
    expect(r.ops.Conv).toBe(34);
    expect(r.ops.Transpose).toBe(6); // only the heads' own [1,C,N] → [1,N,C]
    expect(r.ops.Add).toBe(4); // residual adds, no bias adds left
  });

  it('computes what the TF.js graph computes on real images (max abs diff < 1e-3 per output)', async () => {
    const model = await loadTfjsModel(modelJson);
    const session = await ort.InferenceSession.create(fp32OnnxPath());
    const worst: Record<string, number> = {};
    // A photo and a frame of the footage: the pure-JS TF.js run costs seconds an image on 2 cores.
    for (const [file, at] of [IMAGES[0]!, IMAGES[4]!]) {
      const img = await readImageRgb(file, at);
      const { tensor } = letterboxRgb(img.rgb, img.width, img.height, 416, NANODET_MODEL.input.normalize);
      const input = tf.tensor4d(tensor, [1, 3, 416, 416]);
      const tfNames = Object.keys(NANODET_TFJS_OUTPUTS);
      const tfOut = model.execute(input, tfNames) as tf.Tensor[];
      const onnxOut = await session.run({ input: new ort.Tensor('float32', tensor, [1, 3, 416, 416]) });
      tfNames.forEach((name, k) => {
        const a = tfOut[k]!.dataSync();
        const onnxName = NANODET_TFJS_OUTPUTS[name]!;
        const b = onnxOut[onnxName]!.data as Float32Array;
        worst[onnxName] = Math.max(worst[onnxName] ?? 0, maxAbsDiff(a, b));
      });
      tf.dispose([input, ...tfOut]);
    }
    console.log('import equivalence, max abs diff per output over 2 images:', JSON.stringify(worst));
    for (const d of Object.values(worst)) expect(d).toBeLessThan(1e-3);
    await session.release();
  }, 600_000);

  it('finds the people in vtest and the ball in messi5', async () => {
    const detector = await OrtDetector.load(fp32OnnxPath());
    const frame = await readImageRgb(VTEST_AVI, 60);
    const lb = letterboxRgb(frame.rgb, frame.width, frame.height, 416, NANODET_MODEL.input.normalize);
    const people = (await detector.detect(lb.tensor, lb.box)).filter((d) => d.label === 'person' && d.score > 0.5);
    expect(people.length).toBeGreaterThanOrEqual(4);
    for (const p of people) {
      // pedestrians seen from above: upright boxes of plausible size, inside the frame
      expect(p.y2 - p.y1).toBeGreaterThan(p.x2 - p.x1);
      expect(p.y2 - p.y1).toBeGreaterThan(30);
      expect(p.y2 - p.y1).toBeLessThan(200);
      expect(p.x1).toBeGreaterThanOrEqual(0);
      expect(p.x2).toBeLessThanOrEqual(768);
    }
    const messi = await readImageRgb(join(DATA, 'messi5.jpg'));
    const lb2 = letterboxRgb(messi.rgb, messi.width, messi.height, 416, NANODET_MODEL.input.normalize);
    const found = await detector.detect(lb2.tensor, lb2.box);
    const ball = found.find((d) => d.label === 'sports ball');
    expect(ball).toBeDefined();
    // the ball lies at about (363, 312) in messi5.jpg
    expect((ball!.x1 + ball!.x2) / 2).toBeGreaterThan(340);
    expect((ball!.x1 + ball!.x2) / 2).toBeLessThan(385);
    expect((ball!.y1 + ball!.y2) / 2).toBeGreaterThan(290);
    expect((ball!.y1 + ball!.y2) / 2).toBeLessThan(335);
    await detector.release();
  });

  it("takes a batch of frames of any size: each frame's detections equal its own run (FP32 and INT8)", async () => {
    const frames = await Promise.all(
      [
        [VTEST_AVI, 60],
        [join(DATA, 'messi5.jpg'), undefined],
        [VTEST_AVI, 20],
      ].map(async ([path, at]) => {
        const f = await readImageRgb(path as string, at as number | undefined);
        return letterboxRgb(f.rgb, f.width, f.height, 416, NANODET_MODEL.input.normalize);
      }),
    );
    const per = 3 * 416 * 416;
    const batch = new Float32Array(frames.length * per);
    frames.forEach((f, i) => batch.set(f.tensor, i * per));
    for (const model of [fp32OnnxPath(), int8OnnxPath()]) {
      if (!model) continue; // no INT8 model made yet
      const detector = await OrtDetector.load(model);
      expect(detector.maxBatch).toBeGreaterThan(4); // imported with a batch dimension the runtime chooses
      const together = await detector.detectBatch(
        batch,
        frames.map((f) => f.box),
      );
      expect(together).toHaveLength(3);
      for (const [i, f] of frames.entries()) {
        const alone = await detector.detect(f.tensor, f.box);
        expect(alone.length).toBeGreaterThan(0);
        expect(together[i]).toEqual(alone);
      }
      await detector.release();
    }
  });
});
