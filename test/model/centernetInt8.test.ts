import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';

import { CENTERNET_MODEL } from '../../src/detect/centernet/centernetSpec.js';
import { iou, type Detection } from '../../src/detect/Detection.js';
import { letterboxRgb } from '../../src/detect/letterbox.js';
import { OrtDetector } from '../../src/detect/OrtDetector.js';
import { OPENCV_DATA, variedFrames } from '../../src/model/eval/modelFrames.js';
import { readImageRgb } from '../../src/model/imageFile.js';
import { convertCenternet } from '../../src/model/importModel.js';
import { calibrateCenternet, CENTERNET_STEM, type CalibratedModel } from '../../src/model/quant/calibrateModel.js';
import { lowerQdqForOrtCpu } from '../../src/model/quant/ortLowering.js';
import { tempDir } from '../helpers/tempDir.js';

const { onnx } = onnxProto;
const dir = tempDir('vigil-cn-int8-');
const fp32Path = join(dir, 'centernet-fp32.onnx');
let calibrated: CalibratedModel;

beforeAll(async () => {
  writeFileSync(fp32Path, convertCenternet().encode());
  // A handful of the varied set: 2 frames of each video, 4 photos; every layer INT8 but the stem
  // (the shipped model's sensitivity pass, which keeps some in FP32 as well, takes minutes).
  const frames = await variedFrames(CENTERNET_MODEL, 'calibration', { calibrationPerVideo: 2, photos: 4 });
  expect(frames).toHaveLength(8);
  calibrated = await calibrateCenternet({
    frames,
    out: join(dir, 'centernet-int8.onnx'),
    options: { keepFp32: 'none' },
  });
}, 120_000);

describe('CenterNet INT8', () => {
  it('writes the QDQ model and its calibration report beside it', () => {
    expect(calibrated.reportPath).toBe(join(dir, 'centernet-int8.calibration.json'));
    expect(existsSync(calibrated.reportPath)).toBe(true);
    const report = JSON.parse(readFileSync(calibrated.reportPath, 'utf8')) as typeof calibrated.report;
    expect(report.frames).toBe(8);
    expect(report.keptFp32).toEqual([CENTERNET_STEM]);
    expect(report.int8Layers).toBe(report.totalLayers - 1);
  });

  it('quantizes every conv but the stem, the 26 depthwise ones with per-output-channel int8 weights', () => {
    const m = onnx.ModelProto.decode(readFileSync(calibrated.path));
    const nodes = m.graph!.node!;
    const inits = new Map(m.graph!.initializer!.map((t) => [t.name!, t]));
    const producer = (name: string) => nodes.find((p) => p.output!.includes(name));
    const convs = nodes.filter((n) => n.opType === 'Conv');
    expect(convs).toHaveLength(89);
    const group = (n: (typeof convs)[number]) => Number(n.attribute!.find((a) => a.name === 'group')?.i ?? 1);
    const depthwise = convs.filter((n) => group(n) > 1);
    expect(depthwise).toHaveLength(26);
    for (const n of depthwise) {
      const [x, w] = n.input!;
      expect(producer(x!)?.opType, n.name!).toBe('DequantizeLinear');
      const wdq = producer(w!)!;
      expect(wdq.opType, n.name!).toBe('DequantizeLinear');
      expect(Number(wdq.attribute!.find((a) => a.name === 'axis')?.i)).toBe(0);
      const q = inits.get(wdq.input![0]!)!;
      expect(q.dataType).toBe(onnx.TensorProto.DataType.INT8);
      const channels = Number(q.dims![0]);
      expect(channels).toBe(group(n)); // [C, 1, k, k]: one filter a channel
      expect(inits.get(wdq.input![1]!)!.dims!.map(Number)).toEqual([channels]); // a scale for each
    }
    const stem = convs.find((n) => n.name === CENTERNET_STEM)!;
    expect(stem.input![0]).toBe('input');
    expect(inits.get(stem.input![1]!)!.dataType).toBe(onnx.TensorProto.DataType.FLOAT);
    expect(convs.filter((n) => producer(n.input![1]!)?.opType === 'DequantizeLinear')).toHaveLength(88);
  });

  it('ONNX Runtime fuses the QDQ convs into QLinearConv: only the stem and the two heads run float', async () => {
    const optimized = join(dir, 'optimized.onnx');
    const bytes = new Uint8Array(readFileSync(calibrated.path));
    const s = await ort.InferenceSession.create(lowerQdqForOrtCpu(bytes)!, {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: optimized,
    });
    await s.release();
    const ops = onnx.ModelProto.decode(readFileSync(optimized)).graph!.node!.map((n) => n.opType!);
    const count = (op: string) => ops.filter((o) => o === op).length;
    expect(count('QLinearConv')).toBe(86);
    expect(count('Conv') + count('FusedConv')).toBe(3);
  });

  it('finds the footballer in messi5.jpg where FP32 does (IoU > 0.8)', async () => {
    const img = await readImageRgb(join(OPENCV_DATA, 'messi5.jpg'));
    const { tensor, box } = letterboxRgb(img.rgb, img.width, img.height, 512, CENTERNET_MODEL.input.normalize);
    const detect = async (path: string): Promise<{ precision: string; found: Detection[] }> => {
      const det = await OrtDetector.load(path, { model: CENTERNET_MODEL, scoreThreshold: 0.3 });
      const found = await det.detect(tensor, box);
      await det.release();
      return { precision: det.precision, found };
    };
    const [fp32, int8] = [await detect(fp32Path), await detect(calibrated.path)];
    expect(fp32.precision).toBe('fp32');
    expect(int8.precision).toBe('int8');
    const person = (d: Detection[]) => d.filter((x) => x.label === 'person').sort((a, b) => b.score - a.score)[0];
    expect(person(fp32.found), JSON.stringify(fp32.found)).toBeDefined();
    expect(person(int8.found), JSON.stringify(int8.found)).toBeDefined();
    const overlap = iou(person(int8.found)!, person(fp32.found)!);
    console.log(
      `messi5.jpg person: FP32 score ${person(fp32.found)!.score.toFixed(3)}, INT8 ${person(int8.found)!.score.toFixed(3)}, IoU ${overlap.toFixed(3)}`,
    );
    expect(overlap).toBeGreaterThan(0.8);
  });
});
