import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';

import { CENTERNET_MODEL } from '../../src/detect/centernet/centernetSpec.js';
import { iou } from '../../src/detect/Detection.js';
import { letterboxRgb, toSource, type Letterbox } from '../../src/detect/letterbox.js';
import { NANODET_MODEL } from '../../src/detect/nanodet/nanodetSpec.js';
import { OrtDetector } from '../../src/detect/OrtDetector.js';
import { readImageRgb } from '../../src/model/imageFile.js';
import { CENTERNET_HEADS, fp32OnnxPath, importCenternet, type ImportResult } from '../../src/model/importModel.js';
import { fetchCenternet, verifiedCenternet } from '../../src/model/ModelStore.js';
import { COCO_LABELS } from '../../src/protocol/cocoLabels.js';
import { loadTfjsModel, maxAbsDiff } from '../helpers/tfjsModel.js';
import { tempDir } from '../helpers/tempDir.js';

const DATA = '/usr/share/doc/opencv-doc/examples/data';
// A footballer with the ball (the ball at about (363, 312)); a car filling the frame.
const PHOTOS = [join(DATA, 'messi5.jpg'), join(DATA, 'licenseplate_motion.jpg')];
const SIZE = 512;
const CELLS = 128 * 128; // stride 4
const NORMALIZE = CENTERNET_MODEL.input.normalize;

let modelJson = '';
let imported: ImportResult;
let inputs: Array<{ tensor: Float32Array; box: Letterbox }> = [];
beforeAll(async () => {
  modelJson = fetchCenternet();
  imported = importCenternet(join(tempDir('vigil-onnx-'), 'centernet.onnx'));
  inputs = await Promise.all(
    PHOTOS.map(async (file) => {
      const img = await readImageRgb(file);
      return letterboxRgb(img.rgb, img.width, img.height, SIZE, NORMALIZE);
    }),
  );
}, 300_000);

/** Both photos as one batch through the imported ONNX: heatmap and wh, NCHW. */
async function runOnnx(): Promise<Record<'heatmap' | 'wh', Float32Array>> {
  const per = 3 * SIZE * SIZE;
  const batch = new Float32Array(inputs.length * per);
  inputs.forEach((x, i) => batch.set(x.tensor, i * per));
  const session = await ort.InferenceSession.create(imported.path);
  const out = await session.run({ input: new ort.Tensor('float32', batch, [inputs.length, 3, SIZE, SIZE]) });
  await session.release();
  return { heatmap: out.heatmap!.data as Float32Array, wh: out.wh!.data as Float32Array };
}

describe('CenterNet import', () => {
  it('cuts the graph at its heads: NCHW in and out, the batch chosen at run time', () => {
    expect(verifiedCenternet()).toBe(modelJson);
    expect(imported.inputs).toEqual([{ name: 'input', shape: ['N', 3, 512, 512] }]);
    expect(imported.outputs).toEqual([
      { name: 'heatmap', shape: ['N', 80, 128, 128] },
      { name: 'wh', shape: ['N', 4, 128, 128] },
    ]);
    // Heads only (no MaxPool/TopK/Gather decoding), no layout Transposes, every bias on its Conv.
    expect(imported.ops).toEqual({
      Conv: 89, // 63 convs + 26 depthwise
      Relu: 26,
      Clip: 28, // Relu6: hard-swish and squeeze-excite gates
      Mul: 58,
      Add: 41,
      GlobalAveragePool: 9, // squeeze-excite means
      Resize: 3,
      Concat: 3,
      Sigmoid: 2, // one gate, the heatmap's
      Identity: 2,
    });
  });

  // Both run float32 with different summation orders: the heatmap is a probability, 1e-4 far
  // below any score that matters; wh is in input pixels (up to ~400, the ×16 head scale
  // included), so the same relative error is larger there, and 0.05 px is still a 20th of a pixel.
  it('computes what the TF.js graph computes on real photos (heatmap < 1e-4, wh < 0.05 px)', async () => {
    const model = await loadTfjsModel(modelJson);
    const onnx = await runOnnx();
    const worst = { heatmap: 0, wh: 0 };
    for (const [i, x] of inputs.entries()) {
      const nhwc = tf.tidy(() => tf.tensor4d(x.tensor, [1, 3, SIZE, SIZE]).transpose([0, 2, 3, 1]));
      const heads = model.execute(nhwc, Object.keys(CENTERNET_HEADS)) as tf.Tensor[];
      Object.values(CENTERNET_HEADS).forEach((name, k) => {
        const ref = tf.tidy(() => heads[k]!.transpose([0, 3, 1, 2]).dataSync());
        const got = onnx[name as 'heatmap' | 'wh'];
        const per = got.length / inputs.length;
        worst[name as 'heatmap' | 'wh'] = Math.max(
          worst[name as 'heatmap' | 'wh'],
          maxAbsDiff(ref, got.subarray(i * per, (i + 1) * per)),
        );
      });
      tf.dispose([nhwc, ...heads]);
    }
    console.log('CenterNet import equivalence, max abs diff over 2 photos (batch 2):', JSON.stringify(worst));
    expect(worst.heatmap).toBeLessThan(1e-4);
    expect(worst.wh).toBeLessThan(0.05);
    model.dispose();
  }, 120_000);

  it('peaks on the ball and the car; wh decodes to the ball where it lies', async () => {
    const { heatmap, wh } = await runOnnx();
    /** The strongest cell of `label` in photo `i`, and its box in source pixels. */
    const peak = (i: number, label: (typeof COCO_LABELS)[number]) => {
      const c = COCO_LABELS.indexOf(label);
      const plane = heatmap.subarray((i * 80 + c) * CELLS, (i * 80 + c + 1) * CELLS);
      let cell = 0;
      for (let k = 1; k < CELLS; k++) if (plane[k]! > plane[cell]!) cell = k;
      const [x, y] = [(cell % 128) * 4, Math.floor(cell / 128) * 4];
      const d = (k: number) => wh[(i * 4 + k) * CELLS + cell]!; // left, top, right, bottom
      const [x1, y1] = toSource(inputs[i]!.box, x - d(0), y - d(1));
      const [x2, y2] = toSource(inputs[i]!.box, x + d(2), y + d(3));
      return { score: plane[cell]!, cx: (x1 + x2) / 2, cy: (y1 + y2) / 2 };
    };
    expect(peak(0, 'person').score).toBeGreaterThan(0.5);
    const ball = peak(0, 'sports ball');
    expect(ball.score).toBeGreaterThan(0.3);
    expect(ball.cx).toBeGreaterThan(340);
    expect(ball.cx).toBeLessThan(385);
    expect(ball.cy).toBeGreaterThan(290);
    expect(ball.cy).toBeLessThan(335);
    expect(peak(1, 'car').score).toBeGreaterThan(0.3);
  });

  it('as a model of the centernet family: the footballer and his ball, where NanoDet sees him too', async () => {
    const img = await readImageRgb(PHOTOS[0]!);
    const detect = async (path: string, model: typeof CENTERNET_MODEL | typeof NANODET_MODEL) => {
      const det = await OrtDetector.load(path, { model, scoreThreshold: 0.3 });
      const { tensor, box } = letterboxRgb(img.rgb, img.width, img.height, model.input.size, model.input.normalize);
      const found = await det.detect(tensor, box);
      await det.release();
      return found;
    };
    const cn = await detect(imported.path, CENTERNET_MODEL);
    const nd = await detect(fp32OnnxPath(), NANODET_MODEL);
    const person = (d: typeof cn) => d.filter((x) => x.label === 'person').sort((a, b) => b.score - a.score)[0];
    expect(person(cn), JSON.stringify(cn)).toBeDefined();
    expect(person(nd), JSON.stringify(nd)).toBeDefined();
    expect(iou(person(cn)!, person(nd)!)).toBeGreaterThan(0.5); // two models, one footballer
    const ball = cn.find((x) => x.label === 'sports ball');
    expect(ball, JSON.stringify(cn)).toBeDefined();
    expect((ball!.x1 + ball!.x2) / 2).toBeGreaterThan(340);
    expect((ball!.x1 + ball!.x2) / 2).toBeLessThan(385);
  });
});
