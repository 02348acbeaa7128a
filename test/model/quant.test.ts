import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';

import { VTEST_AVI } from '../../src/cli/demoClips.js';
import { evaluate } from '../../src/model/eval/Evaluator.js';
import { modelInputs } from '../../src/model/eval/modelFrames.js';
import { convertNanodet, fp32OnnxPath } from '../../src/model/importModel.js';
import type { OnnxGraph } from '../../src/model/onnx/OnnxGraph.js';
import { calibrate } from '../../src/model/quant/Calibrator.js';
import { lowerQdqForOrtCpu } from '../../src/model/quant/ortLowering.js';
import { writeQdq } from '../../src/model/quant/QdqWriter.js';
import { OrtDetector } from '../../src/detect/OrtDetector.js';
import { ensureClip } from '../helpers/fixtures.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tempDir.js';

const { onnx } = onnxProto;
let fp32: OnnxGraph;
let calib: Float32Array[];
let held: Float32Array[];
let qdq: OnnxGraph;
const dir = tempDir('vigil-quant-');

beforeAll(async () => {
  fp32 = convertNanodet();
  calib = await modelInputs({ kind: 'video', path: VTEST_AVI, from: 0, every: 25, count: 16 });
  held = await modelInputs({ kind: 'video', path: VTEST_AVI, from: 501, every: 20, count: 12 });
  qdq = (await calibrate(fp32, calib, { method: 'percentile', keepFp32: 'none' })).graph;
}, 300_000);

describe('INT8 calibration and QDQ', () => {
  it('writes the explicit-quantization layout: Q/DQ int8 activations, per-channel int8 weights, int32 bias', () => {
    const m = onnx.ModelProto.decode(qdq.encode());
    const ops = m.graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(34);
    const inits = new Map(m.graph!.initializer!.map((t) => [t.name, t]));
    for (const n of m.graph!.node!.filter((x) => x.opType === 'Conv')) {
      const [x, w, b] = n.input!;
      const producer = (name: string) => m.graph!.node!.find((p) => p.output!.includes(name!));
      expect(producer(x!)?.opType).toBe('DequantizeLinear');
      const wdq = producer(w!)!;
      expect(wdq.opType).toBe('DequantizeLinear');
      expect(Number(wdq.attribute!.find((a) => a.name === 'axis')?.i)).toBe(0);
      expect(inits.get(wdq.input![0]!)!.dataType).toBe(onnx.TensorProto.DataType.INT8);
      expect(inits.get(wdq.input![1]!)!.dims!.length).toBe(1); // one scale per output channel
      expect(inits.get(producer(b!)!.input![0]!)!.dataType).toBe(onnx.TensorProto.DataType.INT32);
    }
    for (const q of m.graph!.node!.filter((x) => x.opType === 'QuantizeLinear')) {
      const zp = inits.get(q.input![2]!)!;
      expect(zp.dataType).toBe(onnx.TensorProto.DataType.INT8);
      expect(Array.from(zp.rawData!)).toEqual([0]); // symmetric: what TensorRT requires
    }
    expect(m.graph!.output!.map((o) => o.name).sort()).toEqual([
      'cls_s16',
      'cls_s32',
      'cls_s8',
      'reg_s16',
      'reg_s32',
      'reg_s8',
    ]);
  });

  it('the uint8 lowering for ONNX Runtime is as accurate as the int8 file it comes from', async () => {
    const bytes = qdq.encode();
    const lowered = lowerQdqForOrtCpu(bytes)!;
    expect(lowered).not.toBeNull();
    expect(lowerQdqForOrtCpu(fp32.encode())).toBeNull();
    const [ref, a, b] = await Promise.all([fp32.encode(), bytes, lowered].map((m) => ort.InferenceSession.create(m)));
    // Fused QLinear kernels requantise in fixed point, ORT's reference QDQ path in float: both
    // sit on the same int8 grid and differ by rounding; each must be as far from FP32 as the other.
    const err = { int8: 0, uint8: 0 };
    let den = 0;
    for (const frame of held.slice(0, 4)) {
      const feeds = { input: new ort.Tensor('float32', frame, [1, 3, 416, 416]) };
      const [yr, ya, yb] = [await ref!.run(feeds), await a!.run(feeds), await b!.run(feeds)];
      for (const name of fp32.outputs.map((o) => o.name)) {
        const r = yr[name]!.data as Float32Array;
        const x = ya[name]!.data as Float32Array;
        const y = yb[name]!.data as Float32Array;
        for (let i = 0; i < r.length; i++) {
          err.int8 += (x[i]! - r[i]!) ** 2;
          err.uint8 += (y[i]! - r[i]!) ** 2;
          den += r[i]! ** 2;
        }
      }
    }
    const rel = { int8: Math.sqrt(err.int8 / den), uint8: Math.sqrt(err.uint8 / den) };
    console.log(
      `relative L2 error against FP32: int8 QDQ ${rel.int8.toExponential(2)}, uint8-lowered ${rel.uint8.toExponential(2)}`,
    );
    expect(rel.int8).toBeLessThan(0.15);
    expect(rel.uint8).toBeLessThan(rel.int8 * 1.5);
  });

  it('INT8 stays close to FP32 on held-out frames and finds the same people', async () => {
    const path = join(dir, 'int8.onnx');
    writeFileSync(path, qdq.encode());
    const report = await evaluate(fp32OnnxPath(), [path], held);
    const m = report.models[0]!;
    expect(m.precision).toBe('int8');
    const person = m.perClass.find((c) => c.label === 'person')!;
    expect(person.fp32Count).toBeGreaterThan(30);
    expect(person.ap50).toBeGreaterThan(0.9);
    expect(Math.abs(person.countDelta)).toBeLessThan(person.fp32Count * 0.2);
  });

  it('a layer kept in FP32 reads the float tensor and has float weights', () => {
    const conv = fp32.nodes.find((n) => n.op === 'Conv')!.name;
    const scales = new Map<string, number>();
    for (const n of fp32.nodes) for (const t of [...n.inputs, ...n.outputs]) scales.set(t, 0.05);
    scales.set('input', 0.05);
    const all = new Set(
      fp32.nodes
        .filter((n) => ['Conv', 'LeakyRelu', 'Add', 'Concat', 'MaxPool', 'Resize'].includes(n.op))
        .map((n) => n.name),
    );
    all.delete(conv);
    const g = writeQdq(fp32, scales, all);
    const kept = g.nodes.find((n) => n.name === conv)!;
    expect(kept.inputs[0]).toBe('input');
    expect(g.initializers.get(kept.inputs[1]!)?.dtype).toBe('float32');
  });

  it('bias correction takes the INT8 output shift out of the conv biases, and only the biases', async () => {
    const { graph, report } = await calibrate(fp32, calib, {
      method: 'percentile',
      keepFp32: 'none',
      biasCorrection: true,
    });
    const shift = report.biasCorrection!.meanShift;
    expect(shift).toHaveLength(3);
    expect(shift[0]).toBeGreaterThan(0);
    expect(shift[2]!).toBeLessThan(shift[0]! / 5); // measured shift before vs after two rounds
    // Same layout as without it; only the int32 biases moved.
    const plain = onnx.ModelProto.decode(qdq.encode());
    const corrected = onnx.ModelProto.decode(graph.encode());
    expect(corrected.graph!.node!.map((n) => n.opType)).toEqual(plain.graph!.node!.map((n) => n.opType));
    const changed = (suffix: string) => {
      const pick = (m: typeof plain) => m.graph!.initializer!.filter((t) => t.name!.endsWith(suffix));
      const before = pick(plain);
      const after = pick(corrected);
      expect(after.map((t) => t.name)).toEqual(before.map((t) => t.name));
      return after.filter((t, i) => Buffer.compare(Buffer.from(t.rawData!), Buffer.from(before[i]!.rawData!)) !== 0)
        .length;
    };
    expect(changed('_int8')).toBe(0); // the same INT8 weights
    expect(changed('_int32')).toBeGreaterThan(20); // most of the 34 conv biases moved
  });

  it('takes calibration frames from a camera through the real pipeline (native letterbox)', async () => {
    const clip = await ensureClip('h264');
    const frames = await modelInputs({
      kind: 'camera',
      camera: { url: clip, realtime: false, loop: true },
      every: 5,
      count: 6,
    });
    expect(frames).toHaveLength(6);
    for (const f of frames) {
      expect(f.length).toBe(3 * 416 * 416);
      // NanoDet's normalisation: black is (0 - mean) / std, white (255 - mean) / std
      let min = Infinity;
      let max = -Infinity;
      for (const v of f) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(min).toBeGreaterThanOrEqual(-2.2);
      expect(max).toBeLessThanOrEqual(2.7);
      expect(max - min).toBeGreaterThan(2); // a real picture, not a constant
    }
    // The letterbox border (rows above the 416×312 picture) holds black.
    expect(frames[0]![0]).toBeCloseTo(-103.53 / 57.375, 3);
  });

  it('the daemon loads the cached INT8 model as int8 when asked', async () => {
    const d = await OrtDetector.load(join(dir, 'int8.onnx'));
    expect(d.precision).toBe('int8');
    await d.release();
  });
});
