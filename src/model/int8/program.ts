import {
  dequantizedBias,
  dequantizedWeights,
  stepInputs,
  type EpilogueOp,
  type FloatSum,
  type Int8Plan,
  type PlanStep,
} from './plan.js';

/**
 * The plan lowered for the GPU (native/src/int8/Int8Engine.h): activation buffers laid out NHWC
 * per image (int8 channels padded to 16 for the tensor cores, float as they are) and the kernel
 * ops that fill them. Concat parts write their slice of one buffer (a convolution writes its
 * own: foldCopies), a split is a view of its input's channels, and reshape + transpose of a
 * head's [C, H·W] map are free: NHWC already stores it as [H·W, C]. A tensor that no buffer
 * holds any more (folded away) has no place in `tensors`. What the engine has no kernel for is
 * refused, naming the step.
 */

/** Op kinds, activation and epilogue codes as native/src/int8/Int8Program.h numbers them (PROGRAM_CONTRACT). */
export const OpKind = {
  quantizeInput: 0,
  convInt8: 1,
  convFloat: 2,
  maxPool: 3,
  unary: 4,
  add: 5,
  resize: 6,
  pad: 7,
  stem: 8,
} as const;
export const Act = { none: 0, leakyRelu: 1, relu: 2, sigmoid: 3 } as const;
export const EPILOGUE_CODE = { requantize: 0, leaky_relu: 1, relu: 2, sigmoid: 3 } as const;

export interface ProgramBuffer {
  name: string;
  int8: boolean;
  scale: number;
  H: number;
  W: number;
  C: number;
}
export interface BufferView {
  buffer: number;
  offset: number;
}
export interface ProgramOp {
  kind: number;
  /** quantizeInput: 2 = space to depth (a pixel holds a 2×2 block of the input). */
  space?: number;
  in?: BufferView;
  in2?: BufferView;
  out: BufferView;
  channels?: number;
  O?: number;
  C?: number;
  kh?: number;
  kw?: number;
  sh?: number;
  sw?: number;
  pt?: number;
  pl?: number;
  w8?: Int8Array;
  wf?: Float32Array;
  bias8?: Int32Array;
  biasf?: Float32Array;
  mult?: Float32Array;
  epilogue?: Array<{ op: number; arg: number }>;
  int8Out?: boolean;
  /**
   * Convolutions: a second int8 output (a concat part or a quantize that read this op's output,
   * folded in): the value after the first `auxAt` epilogue ops (what the original output held),
   * requantized to the aux buffer's scale.
   */
  aux?: BufferView;
  auxAt?: number;
  /** stem: the max-pool that reads the convolution (the convolution's output is never stored). */
  pool?: { kh: number; kw: number; sh: number; sw: number; pt: number; pl: number };
  /** stem: the input's quantize scale. */
  inScale?: number;
  scaleY?: number;
  scaleX?: number;
  value?: number;
  act?: number;
  alpha?: number;
  /** The plan step this op comes from (errors, checks). */
  step: string;
}
export interface GpuProgram {
  inputSize: number;
  buffers: ProgramBuffer[];
  ops: ProgramOp[];
  outputs: Array<{ name: string; buffer: number }>;
  /**
   * Where each plan tensor lives (checks read them back): channels [offset, offset + channels)
   * of every pixel of a buffer; `layout` maps the tensor's own shape onto that: chw [C, H, W],
   * c_n [C, H·W], n_c [H·W, C]; s2d [C, 2H, 2W] stored space to depth (a pixel holds a 2×2
   * block, channel (dy·2 + dx)·C + c).
   */
  tensors: Map<string, TensorPlace>;
}

export interface TensorPlace {
  buffer: number;
  offset: number;
  channels: number;
  layout: 'chw' | 'c_n' | 'n_c' | 's2d';
}
/** A plan tensor on the GPU: channels [offset, offset + C) of a buffer; `layout` says how its logical shape maps onto NHWC. */
interface View {
  buffer: number;
  offset: number;
  C: number;
  H: number;
  W: number;
  layout: TensorPlace['layout'];
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
/** Epilogue ops a convolution carries at most (native/src/int8/Int8Program.h kMaxEpilogue). */
export const MAX_EPILOGUE = 8;

/**
 * The program as the addon's reader takes it (native/src/binding/Int8ProgramReader.cpp): the
 * codes above, and every field of each object, true where the engine reads it, false where it is
 * ours alone (the compiler holds each list to its interface; test/model/int8program.test.ts
 * holds the whole to the addon's own table, so a change on one side fails until the other follows).
 */
export const PROGRAM_CONTRACT = {
  opKinds: OpKind,
  acts: Act,
  epilogueOps: EPILOGUE_CODE,
  maxEpilogue: MAX_EPILOGUE,
  fields: {
    program: { inputSize: true, buffers: true, ops: true, outputs: true, tensors: false } satisfies Record<
      keyof GpuProgram,
      boolean
    >,
    buffer: { name: true, int8: true, scale: true, H: true, W: true, C: true } satisfies Record<
      keyof ProgramBuffer,
      boolean
    >,
    view: { buffer: true, offset: true } satisfies Record<keyof BufferView, boolean>,
    op: {
      kind: true,
      space: true,
      in: true,
      in2: true,
      out: true,
      channels: true,
      O: true,
      C: true,
      kh: true,
      kw: true,
      sh: true,
      sw: true,
      pt: true,
      pl: true,
      w8: true,
      wf: true,
      bias8: true,
      biasf: true,
      mult: true,
      epilogue: true,
      int8Out: true,
      aux: true,
      auxAt: true,
      pool: true,
      inScale: true,
      scaleY: true,
      scaleX: true,
      value: true,
      act: true,
      alpha: true,
      step: false,
    } satisfies Record<keyof ProgramOp, boolean>,
    pool: { kh: true, kw: true, sh: true, sw: true, pt: true, pl: true } satisfies Record<
      keyof NonNullable<ProgramOp['pool']>,
      boolean
    >,
    epilogue: { op: true, arg: true } satisfies Record<keyof NonNullable<ProgramOp['epilogue']>[number], boolean>,
    output: { name: true, buffer: true } satisfies Record<keyof GpuProgram['outputs'][number], boolean>,
  },
} as const;
const f32 = Math.fround;

export class ProgramError extends Error {
  constructor(step: PlanStep, why: string) {
    super(
      `Vigil's CUDA INT8 engine has no GPU kernel for step ${step.op} → ${'output' in step ? step.output : step.outputs.join(', ')}: ${why}`,
    );
  }
}

/** Lowers a plan to the engine's program; throws ProgramError naming a step it cannot run. */
export function lowerPlan(plan: Int8Plan): GpuProgram {
  const inT = plan.tensors.get(plan.input)!;
  const [inC, S, S2] = inT.shape as [number, number, number];
  if (S !== S2 || inC !== 3) throw new Error(`the engine takes a square 3-channel input; the plan's is [${inT.shape}]`);
  const buffers: ProgramBuffer[] = [];
  const ops: ProgramOp[] = [];
  const views = new Map<string, View>();
  const tensor = (name: string) => plan.tensors.get(name)!;

  /** A new buffer for plan tensor `name` (int8 channels padded to 16), with `channels` stored. */
  const newBuffer = (name: string, channels?: number): View => {
    const t = tensor(name);
    const [C, H, W] = t.shape.length === 3 ? (t.shape as [number, number, number]) : [t.shape[1]!, t.shape[0]!, 1];
    const int8 = t.dtype === 'int8';
    buffers.push({
      name,
      int8,
      scale: int8 ? t.scale! : 0,
      H,
      W,
      C: int8 ? roundUp(channels ?? C, 16) : (channels ?? C),
    });
    const v: View = { buffer: buffers.length - 1, offset: 0, C, H, W, layout: 'chw' };
    views.set(name, v);
    return v;
  };
  const viewOf = (s: PlanStep, name: string): View => {
    const v = views.get(name);
    if (!v) throw new ProgramError(s, `its input ${name} has no buffer`);
    return v;
  };
  const spatial = (s: PlanStep, v: View): View => {
    if (v.layout !== 'chw') throw new ProgramError(s, 'its input is a reshaped tensor');
    return v;
  };
  const bv = (v: View): BufferView => ({ buffer: v.buffer, offset: v.offset });
  const unary = (s: PlanStep, input: View, out: View, act: number, alpha = 0) =>
    ops.push({ kind: OpKind.unary, in: bv(input), out: bv(out), channels: input.C, act, alpha, step: s.op });

  const fused = new Set<PlanStep>(); // steps an earlier op already runs
  for (const s of plan.steps) {
    if (fused.has(s)) continue;
    switch (s.op) {
      case 'quantize': {
        const stem = s.input === plan.input ? stemOf(plan, s) : null;
        if (stem) {
          // quantize → first convolution → max-pool as one kernel: neither the int8 input nor
          // the convolution's float output is stored.
          const { conv, pool } = stem;
          ops.push({
            kind: OpKind.stem,
            out: bv(newBuffer(pool.output)),
            channels: inC,
            inScale: tensor(s.output).scale!,
            O: conv.outChannels,
            C: conv.inChannels,
            kh: 3,
            kw: 3,
            sh: 2,
            sw: 2,
            pt: 1,
            pl: 1,
            wf: dequantizedWeights(conv),
            ...(conv.bias ? { biasf: dequantizedBias(conv)! } : {}),
            epilogue: conv.epilogue.map(epilogueCode),
            int8Out: false,
            pool: { kh: 3, kw: 3, sh: 2, sw: 2, pt: 1, pl: 1 },
            step: 'stem',
          });
          fused.add(conv).add(pool);
          break;
        }
        if (s.input === plan.input) {
          // A first 3×3 stride-2 convolution reads the input space to depth: a 2×2 convolution
          // over 12 channels, one K step of the tensor-core kernel instead of three.
          const readers = plan.steps.filter((r) => stepInputs(r).includes(s.output));
          const first = readers.length === 1 && readers[0]!.op === 'conv' ? readers[0] : null;
          if (
            first?.op === 'conv' &&
            first.precision === 'int8' &&
            !first.floatSum &&
            first.kernel.join() === '3,3' &&
            first.stride.join() === '2,2' &&
            first.pads.join() === '1,1,1,1' &&
            first.group === 1 &&
            first.dilation.join() === '1,1' &&
            S % 2 === 0
          ) {
            const t = tensor(s.output);
            buffers.push({ name: s.output, int8: true, scale: t.scale!, H: S / 2, W: S / 2, C: roundUp(4 * inC, 16) });
            const v: View = { buffer: buffers.length - 1, offset: 0, C: inC, H: S / 2, W: S / 2, layout: 's2d' };
            views.set(s.output, v);
            ops.push({ kind: OpKind.quantizeInput, out: bv(v), channels: inC, space: 2, step: s.op });
            break;
          }
          const out = newBuffer(s.output);
          ops.push({ kind: OpKind.quantizeInput, out: bv(out), channels: inC, step: s.op });
        } else {
          unary(s, spatial(s, viewOf(s, s.input)), newBuffer(s.output), Act.none);
        }
        break;
      }
      case 'conv': {
        const x0 = viewOf(s, s.input);
        if (x0.layout === 's2d') {
          ops.push(spaceToDepthConv(s, x0, newBuffer(s.output), tensor(s.input).scale!, tensor(s.output)));
          break;
        }
        const x = spatial(s, x0);
        if (s.group !== 1 || s.dilation[0] !== 1 || s.dilation[1] !== 1)
          throw new ProgramError(
            s,
            `group ${s.group}, dilation ${s.dilation}: the engine runs dense, undilated convolutions`,
          );
        const outT = tensor(s.output);
        const out = newBuffer(s.output);
        const int8Out = outT.dtype === 'int8';
        const last = s.epilogue[s.epilogue.length - 1];
        if (int8Out && (last?.op !== 'requantize' || last.scale !== outT.scale))
          throw new ProgramError(s, 'an int8 output needs its requantize last');
        const common = {
          out: bv(out),
          O: s.outChannels,
          C: s.inChannels,
          kh: s.kernel[0],
          kw: s.kernel[1],
          sh: s.stride[0],
          sw: s.stride[1],
          pt: s.pads[0],
          pl: s.pads[1],
          epilogue: s.epilogue.map(epilogueCode),
          int8Out,
          step: s.op,
        };
        if (s.floatSum) {
          // On the CUDA cores in ONNX Runtime's order; an int8 input is read dequantized (q·s_in,
          // as DequantizeLinear), with the weights and bias dequantized as ONNX Runtime does.
          const bias = dequantizedBias(s);
          const op: ProgramOp = {
            kind: OpKind.convFloat,
            in: bv(x),
            ...common,
            wf: dequantizedWeights(s),
            ...(bias ? { biasf: bias } : {}),
          };
          const gpu = gpuFloatSum(op, tensor(s.input).dtype === 'int8');
          if (gpu.block !== s.floatSum.block || gpu.restart !== s.floatSum.restart) {
            throw new ProgramError(
              s,
              `the engine would sum it in blocks of ${gpu.block} restarting every ${gpu.restart} terms, not ${s.floatSum.block} and ${s.floatSum.restart} (ONNX Runtime's order)`,
            );
          }
          ops.push(op);
        } else if (s.precision === 'int8') {
          const inT2 = tensor(s.input);
          if (inT2.dtype !== 'int8' || x.offset !== 0)
            throw new ProgramError(s, 'an INT8 convolution reads a whole int8 tensor');
          const mult = Float32Array.from(s.weightScales!, (w) => f32(inT2.scale! * w));
          ops.push({
            kind: OpKind.convInt8,
            in: bv(x),
            ...common,
            w8: s.weight as Int8Array,
            ...(s.bias ? { bias8: s.bias as Int32Array } : {}),
            mult,
          });
        } else {
          throw new ProgramError(s, 'a float convolution without its float sum order');
        }
        break;
      }
      case 'maxpool': {
        const x = spatial(s, viewOf(s, s.input));
        ops.push({
          kind: OpKind.maxPool,
          in: bv(x),
          out: bv(newBuffer(s.output)),
          channels: x.C,
          kh: s.kernel[0],
          kw: s.kernel[1],
          sh: s.stride[0],
          sw: s.stride[1],
          pt: s.pads[0],
          pl: s.pads[1],
          step: s.op,
        });
        break;
      }
      case 'concat': {
        const parts = s.inputs.map((name) => spatial(s, viewOf(s, name)));
        const total = parts.reduce((n, p) => n + p.C, 0);
        const out = newBuffer(s.output, total);
        let at = 0;
        for (const p of parts) {
          unary(s, p, { ...out, offset: at }, Act.none);
          at += p.C;
        }
        break;
      }
      case 'add': {
        const [a, b] = s.inputs.map((name) => spatial(s, viewOf(s, name))) as [View, View];
        ops.push({ kind: OpKind.add, in: bv(a), in2: bv(b), out: bv(newBuffer(s.output)), channels: a.C, step: s.op });
        break;
      }
      case 'resize': {
        if (s.mode !== 'linear' || s.coordinates !== 'half_pixel')
          throw new ProgramError(s, `resize ${s.mode}/${s.coordinates}: bilinear half_pixel only`);
        const x = spatial(s, viewOf(s, s.input));
        ops.push({
          kind: OpKind.resize,
          in: bv(x),
          out: bv(newBuffer(s.output)),
          channels: x.C,
          scaleY: s.scale[0],
          scaleX: s.scale[1],
          step: s.op,
        });
        break;
      }
      case 'pad': {
        const x = spatial(s, viewOf(s, s.input));
        ops.push({
          kind: OpKind.pad,
          in: bv(x),
          out: bv(newBuffer(s.output)),
          channels: x.C,
          pt: s.pads[0],
          pl: s.pads[1],
          value: s.value,
          step: s.op,
        });
        break;
      }
      case 'leaky_relu':
      case 'relu':
      case 'sigmoid':
      case 'identity':
      case 'dequantize': {
        const x = viewOf(s, s.input);
        const inT2 = tensor(s.input);
        const outT = tensor(s.output);
        // An identity that changes nothing is the same view.
        if ((s.op === 'identity' || s.op === 'dequantize') && inT2.dtype === outT.dtype && inT2.scale === outT.scale) {
          views.set(s.output, x);
          break;
        }
        const act =
          s.op === 'leaky_relu'
            ? Act.leakyRelu
            : s.op === 'relu'
              ? Act.relu
              : s.op === 'sigmoid'
                ? Act.sigmoid
                : Act.none;
        const out = newBuffer(s.output, x.C);
        out.layout = x.layout;
        unary(s, spatial(s, { ...x, layout: 'chw' }), out, act, s.op === 'leaky_relu' ? s.alpha : 0);
        break;
      }
      case 'split': {
        const x = spatial(s, viewOf(s, s.input));
        let at = x.offset;
        s.outputs.forEach((name, i) => {
          views.set(name, { ...x, offset: at, C: s.sizes[i]! });
          at += s.sizes[i]!;
        });
        break;
      }
      case 'reshape': {
        const x = viewOf(s, s.input);
        const shape = tensor(s.output).shape;
        if (x.layout === 'chw' && shape.length === 2 && shape[0] === x.C && shape[1] === x.H * x.W)
          views.set(s.output, { ...x, layout: 'c_n' });
        else if (shape.join() === tensor(s.input).shape.join()) views.set(s.output, x);
        else throw new ProgramError(s, `reshape to [${shape}]: only a [C, H, W] map to [C, H·W]`);
        break;
      }
      case 'transpose': {
        const x = viewOf(s, s.input);
        if (x.layout !== 'c_n' || s.perm.join() !== '1,0') throw new ProgramError(s, 'only [C, H·W] → [H·W, C]');
        views.set(s.output, { ...x, layout: 'n_c' });
        break;
      }
    }
  }

  // Graph outputs: dense float [rows, cols] per image; a view that is not gets a copy.
  const outputs = plan.outputs.map((name) => {
    const v = views.get(name);
    const step = plan.steps.find((s) => ('output' in s ? s.output === name : s.outputs.includes(name)))!;
    if (!v) throw new ProgramError(step, `graph output ${name} has no buffer`);
    if (v.layout !== 'n_c' && !(v.layout === 'chw' && v.H * v.W === 1))
      throw new ProgramError(step, `graph output ${name} is not a [rows, cols] map the engine lays out`);
    const b = buffers[v.buffer]!;
    if (!b.int8 && v.offset === 0 && b.C === v.C) return { name, buffer: v.buffer };
    buffers.push({ name, int8: false, scale: 0, H: v.H, W: v.W, C: v.C });
    ops.push({
      kind: OpKind.unary,
      in: bv(v),
      out: { buffer: buffers.length - 1, offset: 0 },
      channels: v.C,
      act: Act.none,
      alpha: 0,
      step: 'output',
    });
    return { name, buffer: buffers.length - 1 };
  });
  foldCopies(buffers, ops, outputs);
  const kept = dropUnused(buffers, ops, outputs);
  const tensors = new Map<string, TensorPlace>();
  for (const [name, v] of views) {
    const b = kept.get(v.buffer);
    if (b !== undefined) tensors.set(name, { buffer: b, offset: v.offset, channels: v.C, layout: v.layout });
  }
  return { inputSize: S, buffers, ops, outputs, tensors };
}

/**
 * NanoDet's stem, quantize → 3×3 stride-2 convolution (3 → 32 channels, summed in float on the
 * dequantized input: ONNX Runtime's order, one chain of 27 terms) with a ReLU-family epilogue
 * → 3×3 stride-2 max-pool, as one kernel (Int8Engine.cu stemKernel); null for anything else,
 * which runs op by op.
 */
function stemOf(plan: Int8Plan, q: Extract<PlanStep, { op: 'quantize' }>) {
  const readers = (name: string) =>
    plan.outputs.includes(name) ? [] : plan.steps.filter((r) => stepInputs(r).includes(name));
  const [conv, ...more] = readers(q.output);
  if (
    more.length ||
    conv?.op !== 'conv' ||
    conv.precision !== 'int8' ||
    !conv.floatSum ||
    conv.floatSum.block !== 1 ||
    conv.floatSum.restart !== 27
  )
    return null;
  if (
    conv.inChannels !== 3 ||
    conv.outChannels !== 32 ||
    conv.kernel.join() !== '3,3' ||
    conv.stride.join() !== '2,2' ||
    conv.pads.join() !== '1,1,1,1' ||
    conv.group !== 1 ||
    conv.dilation.join() !== '1,1' ||
    !conv.epilogue.every((e) => e.op === 'leaky_relu' || e.op === 'relu')
  )
    return null;
  const [pool, ...others] = readers(conv.output);
  if (
    others.length ||
    pool?.op !== 'maxpool' ||
    pool.outScale !== undefined ||
    pool.kernel.join() !== '3,3' ||
    pool.stride.join() !== '2,2' ||
    pool.pads.join() !== '1,1,1,1'
  )
    return null;
  return { conv, pool };
}

/**
 * A copy that requantizes a convolution's whole output into an int8 buffer (a concat part, or a
 * quantize of a float output) becomes part of that convolution: where the copy is the output's
 * only reader, the convolution's epilogue ends with the copy's requantize and writes the copy's
 * place (the output is no longer stored); otherwise the copy is the convolution's aux output.
 * The same float32 operations in the same order: the stored codes are the copies'.
 */
function foldCopies(buffers: ProgramBuffer[], ops: ProgramOp[], outputs: GpuProgram['outputs']): void {
  const isConv = (o: ProgramOp) => o.kind === OpKind.convInt8 || o.kind === OpKind.convFloat;
  for (let i = 0; i < ops.length; i++) {
    const u = ops[i]!;
    if (u.kind !== OpKind.unary || u.act !== Act.none || !buffers[u.out.buffer]!.int8) continue;
    const src = u.in!.buffer;
    const writers = ops.filter((o) => o.out.buffer === src || o.aux?.buffer === src);
    const p = writers[0]!;
    if (
      writers.length !== 1 ||
      !isConv(p) ||
      p.out.buffer !== src ||
      p.out.offset !== 0 ||
      u.in!.offset !== 0 ||
      u.channels !== p.O
    )
      continue;
    if (p.epilogue!.length >= MAX_EPILOGUE) continue; // no room for one more op (the engine's kMaxEpilogue)
    const readers =
      ops.filter((o, j) => j !== i && (o.in?.buffer === src || o.in2?.buffer === src)).length +
      outputs.filter((o) => o.buffer === src).length;
    if (readers > 0) {
      if (p.aux) continue;
      p.aux = u.out;
      p.auxAt = p.epilogue!.length;
    } else {
      p.epilogue = [...p.epilogue!, { op: EPILOGUE_CODE.requantize, arg: buffers[u.out.buffer]!.scale }];
      p.int8Out = true;
      p.out = u.out;
    }
    ops.splice(i--, 1);
  }
}

/** Removes buffers no op or output touches; returns the old index → new index of those kept. */
function dropUnused(buffers: ProgramBuffer[], ops: ProgramOp[], outputs: GpuProgram['outputs']): Map<number, number> {
  const used = new Set<number>(outputs.map((o) => o.buffer));
  for (const o of ops) for (const v of [o.in, o.in2, o.out, o.aux]) if (v) used.add(v.buffer);
  const kept = new Map<number, number>();
  const all = buffers.splice(0, buffers.length);
  all.forEach((b, i) => {
    if (!used.has(i)) return;
    kept.set(i, buffers.length);
    buffers.push(b);
  });
  const remap = (v: BufferView | undefined) => v && (v.buffer = kept.get(v.buffer)!);
  for (const o of ops) [o.in, o.in2, o.out, o.aux].forEach(remap);
  for (const o of outputs) o.buffer = kept.get(o.buffer)!;
  return kept;
}

/**
 * The first convolution (3×3, stride 2, pads 1) over a space-to-depth input: 2×2, stride 1,
 * top/left pad 1, over the 4·C channels of each 2×2 block. Block row oy−1 holds input row 2oy−1
 * (its dy 1: kernel row 0); block row oy holds 2oy and 2oy+1 (dy 0 and 1: kernel rows 1 and 2).
 * The same products and integer sums: the results are bit for bit the 3×3 convolution's.
 */
function spaceToDepthConv(
  s: Extract<PlanStep, { op: 'conv' }>,
  x: View,
  out: View,
  inScale: number,
  outT: { dtype: string; scale: number | null },
): ProgramOp {
  const C = s.inChannels;
  const O = s.outChannels;
  const w = s.weight as Int8Array;
  const w2 = new Int8Array(O * 4 * C * 4);
  const kernelRow = (t: number, d: number) => (t === 0 ? (d === 1 ? 0 : -1) : 1 + d);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let ty = 0; ty < 2; ty++)
        for (let tx = 0; tx < 2; tx++)
          for (let dy = 0; dy < 2; dy++)
            for (let dx = 0; dx < 2; dx++) {
              const ky = kernelRow(ty, dy);
              const kx = kernelRow(tx, dx);
              if (ky < 0 || kx < 0) continue;
              w2[((o * 4 * C + (dy * 2 + dx) * C + c) * 2 + ty) * 2 + tx] = w[((o * C + c) * 3 + ky) * 3 + kx]!;
            }
  const last = s.epilogue[s.epilogue.length - 1];
  const int8Out = outT.dtype === 'int8';
  if (int8Out && (last?.op !== 'requantize' || last.scale !== outT.scale))
    throw new ProgramError(s, 'an int8 output needs its requantize last');
  return {
    kind: OpKind.convInt8,
    in: { buffer: x.buffer, offset: 0 },
    out: { buffer: out.buffer, offset: 0 },
    O,
    C: 4 * C,
    kh: 2,
    kw: 2,
    sh: 1,
    sw: 1,
    pt: 1,
    pl: 1,
    w8: w2,
    ...(s.bias ? { bias8: s.bias as Int32Array } : {}),
    mult: Float32Array.from(s.weightScales!, (v) => f32(inScale * v)),
    epilogue: s.epilogue.map(epilogueCode),
    int8Out,
    step: s.op,
  };
}

/**
 * The float sum order native/src/int8/Int8Weights.cu (floatSumOf) takes for a float convolution
 * from what the op carries (the op has no field for it): lowering checks it is the plan's.
 */
function gpuFloatSum(op: ProgramOp, int8In: boolean): FloatSum {
  const taps = op.kh! * op.kw!;
  const C = op.C!;
  if (int8In || (C > 16 && C % 16 !== 0)) return { block: 1, restart: Math.min(C * taps, 128) };
  if (C < 16) return { block: 1, restart: taps };
  return taps === 1 && op.pt === 0 && op.pl === 0 ? { block: 128, restart: 128 } : { block: 16, restart: 16 * taps };
}

function epilogueCode(e: EpilogueOp): { op: number; arg: number } {
  return { op: EPILOGUE_CODE[e.op], arg: e.op === 'requantize' ? e.scale : e.op === 'leaky_relu' ? e.alpha : 0 };
}

/** Bytes of activation memory per image (the engine allocates this × its largest batch). */
export function activationBytes(p: GpuProgram): number {
  return p.buffers.reduce((n, b) => n + b.H * b.W * b.C * (b.int8 ? 1 : 4), 0);
}

/**
 * A plan tensor's values from one image of its buffer as the engine stores it (NHWC bytes), in
 * the plan's own layout (the reference's): int8 codes or floats.
 */
export function tensorFromBuffer(p: GpuProgram, name: string, stored: Uint8Array): Int8Array | Float32Array {
  const place = p.tensors.get(name);
  if (!place) throw new Error(`the program has no tensor ${name}`);
  const b = p.buffers[place.buffer]!;
  const pixels = b.H * b.W;
  const src = b.int8
    ? new Int8Array(stored.buffer, stored.byteOffset, stored.byteLength)
    : new Float32Array(stored.buffer.slice(stored.byteOffset, stored.byteOffset + stored.byteLength));
  const out = b.int8 ? new Int8Array(pixels * place.channels) : new Float32Array(pixels * place.channels);
  if (place.layout === 's2d') {
    const C = place.channels;
    const S = 2 * b.W;
    const back = b.int8 ? new Int8Array(C * 4 * pixels) : new Float32Array(C * 4 * pixels);
    for (let by = 0; by < b.H; by++)
      for (let bx = 0; bx < b.W; bx++)
        for (let cell = 0; cell < 4; cell++)
          for (let c = 0; c < C; c++) {
            back[(c * S + 2 * by + (cell >> 1)) * S + 2 * bx + (cell & 1)] = src[(by * b.W + bx) * b.C + cell * C + c]!;
          }
    return back;
  }
  for (let px = 0; px < pixels; px++) {
    for (let c = 0; c < place.channels; c++) {
      const v = src[px * b.C + place.offset + c]!;
      out[place.layout === 'n_c' ? px * place.channels + c : c * pixels + px] = v;
    }
  }
  return out;
}
