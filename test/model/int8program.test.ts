import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { cudaProgram, postOptions } from '../../src/detect/GpuDetector.js';
import { planInt8, type Int8Plan } from '../../src/model/int8/plan.js';
import {
  Act,
  activationBytes,
  lowerPlan,
  OpKind,
  PROGRAM_CONTRACT,
  tensorFromBuffer,
  type GpuProgram,
} from '../../src/model/int8/program.js';
import { fp32OnnxPath, int8OnnxPath } from '../../src/model/importModel.js';
import { readOnnx } from '../../src/model/onnx/readOnnx.js';
import { loadAddon, loadChecks } from '../../src/native/addon.js';
import type { Int8EngineOptions } from '../../src/native/types.js';

const model = () => {
  const path = int8OnnxPath();
  if (!path) throw new Error('no INT8 model: `npm run setup` calibrates it');
  return path;
};

/** The plan with its first convolution's output requantized first: the int32 sum the space-to-depth lowering takes. */
const withRequantizedFirstConv = (plan: Int8Plan): Int8Plan => ({
  ...plan,
  steps: plan.steps.map((s) =>
    s.op === 'conv' && s.input === 'input_q'
      ? { ...s, epilogue: [{ op: 'requantize' as const, scale: 0.05 }, ...s.epilogue], floatSum: null }
      : s,
  ),
});

/** The plan lowered for the GPU engine (src/model/int8/program.ts): layout, buffers, views. */
describe("the CUDA INT8 engine's program", () => {
  it('lowers the calibrated NanoDet: NHWC buffers, int8 convolutions on 16-channel multiples, concat slices, the head as views', () => {
    const plan = planInt8(readOnnx(readFileSync(model())));
    const p = lowerPlan(plan);
    const count = (k: number) => p.ops.filter((o) => o.kind === k).length;
    // The stem (quantize → first convolution → max-pool) is one op: the input is never stored as int8.
    expect(count(OpKind.quantizeInput)).toBe(0);
    expect(count(OpKind.stem)).toBe(1);
    expect(count(OpKind.maxPool)).toBe(0);
    expect(p.tensors.has('input_q')).toBe(false);
    // INT8 convolutions whose output stays float (the first, two heads) sum in float, as ONNX
    // Runtime runs them: on their dequantized int8 input, weights and bias.
    const floatOut = plan.steps.filter((s) => s.op === 'conv' && s.precision === 'int8' && s.floatSum).length;
    expect(floatOut).toBe(3);
    expect(count(OpKind.convInt8)).toBe(plan.stats.int8Convs - floatOut);
    expect(count(OpKind.convFloat)).toBe(plan.stats.floatConvs + floatOut - 1);
    for (const op of p.ops.filter((o) => o.kind === OpKind.convFloat))
      expect(op.wf!.length).toBe(op.O! * op.C! * op.kh! * op.kw!);
    expect(count(OpKind.add)).toBe(4);
    expect(count(OpKind.resize)).toBe(4);
    // Every INT8 convolution reads a whole int8 buffer whose stored channels are a multiple of
    // 16 (the tensor cores' K step), with one multiplier per output channel.
    for (const op of p.ops.filter((o) => o.kind === OpKind.convInt8)) {
      const b = p.buffers[op.in!.buffer]!;
      expect(b.int8).toBe(true);
      expect(b.C % 16).toBe(0);
      expect(op.in!.offset).toBe(0);
      expect(op.mult!.length).toBe(op.O);
      expect(op.w8!.length).toBe(op.O! * op.C! * op.kh! * op.kw!);
    }
    // Concat parts tile their output's channels. Every part here is a convolution's output: the
    // convolutions write their slices themselves (as their output, or as a second, aux output
    // where another op also reads the part), so no copy runs.
    for (const s of plan.steps.filter((x) => x.op === 'concat')) {
      const out = p.tensors.get(s.output)!;
      const slices = p.ops.flatMap((o) =>
        [o.out, o.aux]
          .filter((v) => v?.buffer === out.buffer)
          .map((v) => [v!.offset, o.kind === OpKind.unary ? o.channels! : o.O!] as const),
      );
      slices.sort((a, b) => a[0] - b[0]);
      let at = 0;
      for (const [offset, channels] of slices) {
        expect(offset).toBe(at);
        at += channels;
      }
      expect(at).toBe(plan.tensors.get(s.output)!.shape[0]);
    }
    expect(p.ops.filter((o) => o.kind === OpKind.unary && o.act === Act.none && o.step !== 'output')).toEqual([]);
    // An aux output is the value the folded copy read: its point is within the epilogue.
    for (const o of p.ops.filter((x) => x.aux)) {
      expect(p.buffers[o.aux!.buffer]!.int8).toBe(true);
      expect(o.auxAt).toBeLessThanOrEqual(o.epilogue!.length);
    }
    // The head: cls = sigmoid of the first 80 channels written densely (reshape and transpose are
    // free in NHWC), reg = the last 44 channels of the same convolution, copied out.
    for (const [i, name] of plan.outputs.entries()) {
      const o = p.outputs[i]!;
      expect(o.name).toBe(name);
      const b = p.buffers[o.buffer]!;
      const [rows, cols] = plan.tensors.get(name)!.shape as [number, number];
      expect([b.int8, b.H * b.W, b.C]).toEqual([false, rows, cols]);
      expect(p.tensors.get(name)!.layout).toBe('n_c');
    }
    expect(p.ops.filter((o) => o.kind === OpKind.unary && o.act === Act.sigmoid).length).toBe(3);
    expect(p.ops.filter((o) => o.step === 'output').length).toBe(3);
    expect(p.tensors.get('onnx_tf_prefix_Split_153_1_241')).toMatchObject({ offset: 80, channels: 44 });
    expect(activationBytes(p)).toBeGreaterThan(10e6);
    expect(activationBytes(p)).toBeLessThan(40e6);
  });

  it('reads a tensor back from its NHWC buffer into the plan layout: a channel view, a transposed head map', () => {
    const p = lowerPlan(planInt8(readOnnx(readFileSync(model()))));
    // reg_s8: channels 80..123 of a [52·52, 124] float buffer, as [2704, 44] rows.
    const place = p.tensors.get('onnx_tf_prefix_Split_153_1_241')!;
    const b = p.buffers[place.buffer]!;
    const stored = new Float32Array(b.H * b.W * b.C).map((_, i) => i);
    const split = tensorFromBuffer(p, 'onnx_tf_prefix_Split_153_1_241', new Uint8Array(stored.buffer)) as Float32Array;
    // Plan layout [C, H, W]: channel 1 of pixel 2 is stored at 2·124 + 80 + 1.
    expect(split[1 * b.H * b.W + 2]).toBe(2 * 124 + 81);
    // The int8 input of a first convolution summed in int32: space to depth, a stored pixel holds
    // a 2×2 block, 12 channels of 16. (NanoDet's first convolution sums in float: plain NHWC.)
    const s2d = lowerPlan(withRequantizedFirstConv(planInt8(readOnnx(readFileSync(model())))));
    const inPlace = s2d.tensors.get('input_q')!;
    const ib = s2d.buffers[inPlace.buffer]!;
    expect([ib.H, ib.C, inPlace.channels, inPlace.layout]).toEqual([208, 16, 3, 's2d']);
    const codes = new Int8Array(ib.H * ib.W * ib.C).map((_, i) => (i % 16) - 8);
    const back = tensorFromBuffer(s2d, 'input_q', new Uint8Array(codes.buffer)) as Int8Array;
    const plane = 416 * 416;
    // Pixel (0, 0): cell 0, channels 0..2; pixel (0, 1): cell 1; pixel (1, 0): cell 2.
    expect([back[0], back[plane], back[2 * plane], back[1], back[plane + 1], back[416], back[2 * plane + 416]]).toEqual(
      [-8, -7, -6, -5, -4, -2, 0],
    );
  });

  it('runs a first 3×3 stride-2 convolution summed in int32 as a 2×2 one over the space-to-depth input: every integer sum the same', () => {
    const plan = withRequantizedFirstConv(planInt8(readOnnx(readFileSync(model()))));
    const p = lowerPlan(plan);
    const conv = plan.steps.find((s) => s.op === 'conv' && s.input === 'input_q')!;
    if (conv.op !== 'conv') throw new Error('no first convolution');
    const op = p.ops.find((o) => o.kind === OpKind.convInt8 && o.in!.buffer === p.tensors.get('input_q')!.buffer)!;
    expect([op.kh, op.kw, op.sh, op.pt, op.C]).toEqual([2, 2, 1, 1, 12]);
    const S = 416;
    const x = new Int8Array(3 * S * S).map(() => Math.floor(Math.random() * 256) - 128);
    // x laid out as the quantize kernel stores it: [S/2, S/2, 16], channel (dy·2 + dx)·3 + c.
    const packed = new Int8Array((S / 2) * (S / 2) * 16);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < S; y++)
        for (let xx = 0; xx < S; xx++) {
          packed[((y >> 1) * (S / 2) + (xx >> 1)) * 16 + ((y & 1) * 2 + (xx & 1)) * 3 + c] = x[(c * S + y) * S + xx]!;
        }
    const w = conv.weight as Int8Array;
    let checked = 0;
    for (let n = 0; n < 3000; n++) {
      const o = n % conv.outChannels;
      const oy = n < 600 ? n % 3 : Math.floor(Math.random() * 208); // the padded top rows, then anywhere
      const ox = n < 600 ? Math.floor(n / 3) % 208 : Math.floor(Math.random() * 208);
      let direct = 0;
      for (let c = 0; c < 3; c++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const iy = oy * 2 - 1 + ky;
            const ix = ox * 2 - 1 + kx;
            if (iy >= 0 && iy < S && ix >= 0 && ix < S)
              direct += x[(c * S + iy) * S + ix]! * w[((o * 3 + c) * 3 + ky) * 3 + kx]!;
          }
      let viaS2d = 0;
      for (let ty = 0; ty < 2; ty++)
        for (let tx = 0; tx < 2; tx++)
          for (let c = 0; c < 12; c++) {
            const by = oy - 1 + ty;
            const bx = ox - 1 + tx;
            if (by >= 0 && bx >= 0)
              viaS2d += packed[(by * (S / 2) + bx) * 16 + c]! * op.w8![((o * 12 + c) * 2 + ty) * 2 + tx]!;
          }
      expect(viaS2d).toBe(direct);
      checked++;
    }
    expect(checked).toBe(3000);
  });

  it('refuses what it has no kernel for, naming the step; the cuda backend wants a QDQ model', () => {
    const plan = planInt8(readOnnx(readFileSync(model())));
    const grouped = {
      ...plan,
      steps: plan.steps.map((s) =>
        s.op === 'conv' && s.output === 'onnx_tf_prefix_LeakyRelu_8_28_q' ? { ...s, group: 2 } : s,
      ),
    };
    expect(() => lowerPlan(grouped)).toThrow(/step conv → onnx_tf_prefix_LeakyRelu_8_28_q: group 2/);
    const nearest = {
      ...plan,
      steps: plan.steps.map((s) => (s.op === 'resize' ? { ...s, mode: 'nearest' as const } : s)),
    };
    expect(() => lowerPlan(nearest)).toThrow(/step resize → resize_ResizeBilinear_174_q: resize nearest/);
    // A 1×1 FP32 convolution padded only below and right: ONNX Runtime's NCHWc order, which the
    // engine cannot tell from the op (it carries the top and left pads).
    const padded = {
      ...plan,
      steps: plan.steps.map((s) =>
        s.op === 'conv' && s.output === 'convolution_29_238'
          ? { ...s, pads: [0, 0, 1, 1] as [number, number, number, number], floatSum: { block: 16, restart: 16 } }
          : s,
      ),
    };
    expect(() => lowerPlan(padded)).toThrow(/step conv → convolution_29_238: the engine would sum it in blocks of 128/);
    expect(() => cudaProgram(fp32OnnxPath())).toThrow(/runs INT8 \(QDQ\) models/);
  });

  // The options and the program are read in the binding, on the JS thread: a wrong one throws
  // at once, before any GPU is looked for, in any build.
  it('names a wrong engine option, its allowed values and what each means, before it looks for a GPU', () => {
    const program = cudaProgram(model());
    const open = (options: unknown) =>
      loadAddon().openInt8Engine({ program, options: options as Int8EngineOptions, maxBatch: 1, ...postOptions({}) });
    const cases: Array<[unknown, RegExp]> = [
      [
        { float: 'fp16' },
        /Expected 'tf32x3' \(.*the default\) or 'exact' \(.*\) for options.float but received string 'fp16'/,
      ],
      [{ kernel: 'tensor' }, /Expected 'mma' \(.*\) or 'dp4a' for options.kernel but received string 'tensor'/],
      [
        { branches: 'yes' },
        /Expected true \(.*\) or false \(one stream\) for options.branches but received string 'yes'/,
      ],
      [{ priority: 1 }, /Expected true \(.*\) or false \(no priorities\) for options.priority but received number 1/],
      [
        { smallTiles: 2.5 },
        /Expected a whole number 0..1000000, 64-row INT8 tiles .* for options.smallTiles but received number 2.5/,
      ],
      [
        { splitBlocks: -1 },
        /Expected a whole number 0..1000000, the blocks an SM split-K aims for .* for options.splitBlocks/,
      ],
      [
        { minSplit: 0 },
        /Expected a whole number 1..1000000, at least this many K splits a convolution .* for options.minSplit but received number 0/,
      ],
      [{ spinUs: -5 }, /Expected a whole number 0..1000000, µs a wait for the GPU polls .* for options.spinUs/],
      [{ minsplit: 2 }, /Expected no such setting \(kernel, float, .*\) for options.minsplit but received number 2/],
      ['fast', /Expected an object of INT8 engine settings .* for options but received string 'fast'/],
    ];
    for (const [options, message] of cases) expect(() => open(options)).toThrow(message);
  });

  it("holds program.ts to the addon's program contract: codes by name and every field of every object", () => {
    // The addon's table is built from native/src/int8/Int8Program.h and the reader's field lists.
    expect(loadChecks().int8ProgramContract()).toEqual(PROGRAM_CONTRACT);
    // Every field a lowered program carries is in the contract (the compiler holds the lists to
    // the interfaces; this holds the objects built at run time to them).
    const p = lowerPlan(planInt8(readOnnx(readFileSync(model()))));
    const fields = PROGRAM_CONTRACT.fields;
    const within = (o: object, allowed: object) => expect(Object.keys(o).filter((k) => !(k in allowed))).toEqual([]);
    within(p, fields.program);
    for (const b of p.buffers) within(b, fields.buffer);
    for (const o of p.outputs) within(o, fields.output);
    for (const op of p.ops) {
      within(op, fields.op);
      for (const v of [op.in, op.in2, op.out, op.aux]) if (v) within(v, fields.view);
      if (op.pool) within(op.pool, fields.pool);
      for (const e of op.epilogue ?? []) within(e, fields.epilogue);
    }
  });

  it('refuses a program field or code the engine does not read, naming it, before it looks for a GPU', () => {
    const program = cudaProgram(model());
    const open = (p: GpuProgram) => loadAddon().openInt8Engine({ program: p, maxBatch: 1, ...postOptions({}) });
    // The real program passes the reader (whatever the machine then says about its GPU).
    let opening: Promise<unknown> | undefined;
    expect(() => (opening = open(program))).not.toThrow();
    void opening?.catch(() => {});
    const op0 = program.ops[0]!;
    const withOp = (op: object) => ({ ...program, ops: [op as GpuProgram['ops'][number], ...program.ops.slice(1)] });
    expect(() => open(withOp({ ...op0, dilation: 2 }))).toThrow(
      /Expected no such field of a program op \(the engine reads none\) for program.ops\[0\].dilation but received number 2/,
    );
    expect(() => open(withOp({ ...op0, kind: Object.keys(OpKind).length }))).toThrow(
      /Expected a number between 0 and 8 for program.ops\[0\].kind but received number 9/,
    );
    const buffer = { ...program.buffers[0]!, stride: 1 } as GpuProgram['buffers'][number];
    expect(() => open({ ...program, buffers: [buffer, ...program.buffers.slice(1)] })).toThrow(
      /for program.buffers\[0\].stride/,
    );
  });
});
