import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { planInt8, stepInputs, stepOutputs, type Int8Plan } from '../../src/model/int8/plan.js';
import { fp32OnnxPath, int8OnnxPath } from '../../src/model/importModel.js';
import { readOnnx } from '../../src/model/onnx/readOnnx.js';

const int8Path = () => {
  const p = int8OnnxPath();
  if (!p) throw new Error('no INT8 model: `npm run setup` calibrates it');
  return p;
};

/** Every step reads only tensors made before it (the input first), and each tensor is made once. */
function checkOrder(plan: Int8Plan): void {
  const made = new Set([plan.input]);
  for (const s of plan.steps) {
    for (const i of stepInputs(s)) expect(made.has(i), `${s.op} reads ${i} before it is made`).toBe(true);
    for (const o of stepOutputs(s)) {
      expect(made.has(o), `${o} made twice`).toBe(false);
      expect(plan.tensors.has(o), `${o} has no tensor record`).toBe(true);
      made.add(o);
    }
  }
  for (const o of plan.outputs) expect(made.has(o)).toBe(true);
}

describe("the CUDA INT8 engine's planner", () => {
  it('folds the QDQ NanoDet into int8 convolutions with fused epilogues, shapes per image, the heads as float outputs', () => {
    const g = readOnnx(readFileSync(int8Path()));
    const plan = planInt8(g);
    checkOrder(plan);
    // Which convolutions are INT8, counted from the graph itself: weights behind a DequantizeLinear.
    const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const convs = g.nodes.filter((n) => n.op === 'Conv');
    const int8Convs = convs.filter((n) => producer.get(n.inputs[1]!)?.op === 'DequantizeLinear');
    expect(plan.stats.int8Convs).toBe(int8Convs.length);
    expect(plan.stats.int8Convs + plan.stats.floatConvs).toBe(convs.length);
    expect(plan.stats.int8Convs).toBeGreaterThan(convs.length * 0.8);
    expect(plan.stats.foldedQdq).toBe(
      g.nodes.filter((n) => n.op === 'QuantizeLinear' || n.op === 'DequantizeLinear').length,
    );
    // Every LeakyReLU ran in a convolution's epilogue; no dequantize is left.
    expect(plan.stats.fusedActivations).toBe(g.nodes.filter((n) => n.op === 'LeakyRelu').length);
    expect(plan.steps.filter((s) => s.op === 'leaky_relu' || s.op === 'dequantize')).toEqual([]);
    // What a standalone quantize remains for: the input, and tensors read both as float and as int8.
    const quantizes = plan.steps.filter((s) => s.op === 'quantize');
    for (const q of quantizes) {
      const readers = plan.steps.filter((s) => stepInputs(s).includes(q.input));
      expect(q.input === plan.input || readers.length > 1, `quantize of ${q.input}`).toBe(true);
    }
    for (const s of plan.steps) {
      if (s.op !== 'conv') continue;
      const x = plan.tensors.get(s.input)!;
      const out = plan.tensors.get(s.output)!;
      expect(x.shape[0]).toBe(s.inChannels);
      expect(s.weight.length).toBe(s.outChannels * (s.inChannels / s.group) * s.kernel[0] * s.kernel[1]);
      if (s.precision === 'int8') {
        expect(x.dtype).toBe('int8');
        expect(x.scale).toBeGreaterThan(0);
        expect(s.weight).toBeInstanceOf(Int8Array);
        expect(s.weightScales!.length).toBe(s.outChannels);
        expect(Math.min(...s.weightScales!)).toBeGreaterThan(0);
        expect(s.bias).toBeInstanceOf(Int32Array);
      }
      // An int8 output comes from a requantize at its scale, last in the epilogue.
      if (out.dtype === 'int8') expect(s.epilogue.at(-1)).toEqual({ op: 'requantize', scale: out.scale });
      expect(out.shape[0]).toBe(s.outChannels);
      // int32 sums exactly where ONNX Runtime fuses a QLinearConv (requantized first), float ones elsewhere.
      expect(s.floatSum === null).toBe(s.precision === 'int8' && s.epilogue[0]?.op === 'requantize');
    }
    // The float sums, in ONNX Runtime's MLAS order on AVX-512: the first convolution (DQ → Conv:
    // im2col, channel then tap, 27 terms one chain), the FP32 3×3 one (NCHWc: 16-channel blocks
    // of 9 taps), the int8 heads of stride 32 and 16 (1×1 SGEMM), the FP32 head of stride 8
    // (pointwise NCHWc, 128 channels a call).
    expect(
      plan.steps.flatMap((s) => (s.op === 'conv' && s.floatSum ? [[s.output, s.precision, s.floatSum]] : [])),
    ).toEqual([
      ['onnx_tf_prefix_LeakyRelu_1_6', 'int8', { block: 1, restart: 27 }],
      ['onnx_tf_prefix_LeakyRelu_4_16_q', 'float32', { block: 16, restart: 144 }],
      ['convolution_33_195', 'int8', { block: 1, restart: 128 }],
      ['convolution_31_219', 'int8', { block: 1, restart: 128 }],
      ['convolution_29_238', 'float32', { block: 128, restart: 128 }],
    ]);
    // The first convolution: stride 2 on 416×416; its int8 weights are the model's own.
    const first = plan.steps.find((s) => s.op === 'conv')!;
    expect(first.op === 'conv' && plan.tensors.get(first.output)!.shape.slice(1)).toEqual([208, 208]);
    const w0 = g.initializers.get(producer.get(convs[0]!.inputs[1]!)!.inputs[0]!)!;
    expect(first.op === 'conv' && Array.from(first.weight)).toEqual(Array.from(w0.data));
    // The heads: per stride 32/16/8, 80 class scores and 44 box bins per cell, float.
    expect(plan.outputs.map((o) => [o, plan.tensors.get(o)!.shape, plan.tensors.get(o)!.dtype])).toEqual([
      ['cls_s32', [169, 80], 'float32'],
      ['reg_s32', [169, 44], 'float32'],
      ['cls_s16', [676, 80], 'float32'],
      ['cls_s8', [2704, 80], 'float32'],
      ['reg_s16', [676, 44], 'float32'],
      ['reg_s8', [2704, 44], 'float32'],
    ]);
    console.log(
      `int8 plan: ${plan.steps.length} steps; ${JSON.stringify(plan.stats)}; ${quantizes.length} standalone quantize`,
    );
  });

  it('plans the FP32 model as float convolutions', () => {
    const plan = planInt8(readOnnx(readFileSync(fp32OnnxPath())));
    checkOrder(plan);
    expect(plan.stats).toMatchObject({ int8Convs: 0, floatConvs: 34, foldedQdq: 0 });
    expect(plan.steps.some((s) => s.op === 'quantize')).toBe(false);
  });

  it('refuses what it cannot run, naming the node', () => {
    const bytes = readFileSync(int8Path());
    const g = readOnnx(bytes);
    const sig = g.nodes.find((n) => n.op === 'Sigmoid')!;
    sig.op = 'Softmax';
    expect(() => planInt8(g)).toThrow(
      new RegExp(`cannot run node '${sig.name}' \\(Softmax\\): Softmax is not in the engine's op set`),
    );
    const g2 = readOnnx(bytes);
    const q = g2.nodes.find((n) => n.op === 'QuantizeLinear')!;
    g2.initializers.set(q.inputs[2]!, { ...g2.initializers.get(q.inputs[2]!)!, data: Int8Array.of(3) });
    expect(() => planInt8(g2)).toThrow(/zero points must be 0 \(symmetric int8\)/);
  });
});
