import { dequantizedBias, dequantizedWeights, stepInputs, type EpilogueOp, type FloatSum, type Int8Plan, type PlanStep } from './plan.js';

/**
 * The plan lowered for the GPU (native/src/cuda/Int8Engine.h): activation buffers laid out NHWC
 * per image (int8 channels padded to 16 for the tensor cores, float as they are) and the kernel
 * ops that fill them. Concat parts write their slice of one buffer, a split is a view of its
 * input's channels, and reshape + transpose of a head's [C, H·W] map are free: NHWC already
 * stores it as [H·W, C]. What the engine has no kernel for is refused, naming the step.
 */

/** Op kinds and activation codes as native/src/cuda/Int8Engine.h numbers them. */
export const OpKind = { quantizeInput: 0, convInt8: 1, convFloat: 2, maxPool: 3, unary: 4, add: 5, resize: 6, pad: 7 } as const;
export const Act = { none: 0, leakyRelu: 1, relu: 2, sigmoid: 3 } as const;
const EPILOGUE_CODE = { requantize: 0, leaky_relu: 1, relu: 2, sigmoid: 3 } as const;

export interface ProgramBuffer { name: string; int8: boolean; scale: number; H: number; W: number; C: number }
export interface BufferView { buffer: number; offset: number }
export interface ProgramOp {
  kind: number;
  /** quantizeInput: 2 = space to depth (a pixel holds a 2×2 block of the input). */
  space?: number;
  in?: BufferView; in2?: BufferView; out: BufferView;
  channels?: number;
  O?: number; C?: number; kh?: number; kw?: number; sh?: number; sw?: number; pt?: number; pl?: number;
  w8?: Int8Array; wf?: Float32Array; bias8?: Int32Array; biasf?: Float32Array; mult?: Float32Array;
  epilogue?: Array<{ op: number; arg: number }>; int8Out?: boolean;
  scaleY?: number; scaleX?: number; value?: number; act?: number; alpha?: number;
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

export interface TensorPlace { buffer: number; offset: number; channels: number; layout: 'chw' | 'c_n' | 'n_c' | 's2d' }
/** A plan tensor on the GPU: channels [offset, offset + C) of a buffer; `layout` says how its logical shape maps onto NHWC. */
interface View { buffer: number; offset: number; C: number; H: number; W: number; layout: TensorPlace['layout'] }

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
const f32 = Math.fround;

export class ProgramError extends Error {
  constructor(step: PlanStep, why: string) {
    super(`Vigil's CUDA INT8 engine has no GPU kernel for step ${step.op} → ${'output' in step ? step.output : step.outputs.join(', ')}: ${why}`);
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
  const chw = (name: string) => tensor(name).shape as [number, number, number];

  /** A new buffer for plan tensor `name` (int8 channels padded to 16), with `channels` stored. */
  const newBuffer = (name: string, channels?: number): View => {
    const t = tensor(name);
    const [C, H, W] = t.shape.length === 3 ? (t.shape as [number, number, number]) : [t.shape[1]!, t.shape[0]!, 1];
    const int8 = t.dtype === 'int8';
    buffers.push({ name, int8, scale: int8 ? t.scale! : 0, H, W, C: int8 ? roundUp(channels ?? C, 16) : (channels ?? C) });
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

  for (const s of plan.steps) {
    switch (s.op) {
      case 'quantize': {
        if (s.input === plan.input) {
          // A first 3×3 stride-2 convolution reads the input space to depth: a 2×2 convolution
          // over 12 channels, one K step of the tensor-core kernel instead of three.
          const readers = plan.steps.filter((r) => stepInputs(r).includes(s.output));
          const first = readers.length === 1 && readers[0]!.op === 'conv' ? readers[0] : null;
          if (first?.op === 'conv' && first.precision === 'int8' && !first.floatSum && first.kernel.join() === '3,3' && first.stride.join() === '2,2' && first.pads.join() === '1,1,1,1' &&
              first.group === 1 && first.dilation.join() === '1,1' && S % 2 === 0) {
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
        if (s.group !== 1 || s.dilation[0] !== 1 || s.dilation[1] !== 1) throw new ProgramError(s, `group ${s.group}, dilation ${s.dilation}: the engine runs dense, undilated convolutions`);
        const outT = tensor(s.output);
        const out = newBuffer(s.output);
        const int8Out = outT.dtype === 'int8';
        const last = s.epilogue[s.epilogue.length - 1];
        if (int8Out && (last?.op !== 'requantize' || last.scale !== outT.scale)) throw new ProgramError(s, 'an int8 output needs its requantize last');
        const common = {
          out: bv(out), O: s.outChannels, C: s.inChannels, kh: s.kernel[0], kw: s.kernel[1], sh: s.stride[0], sw: s.stride[1], pt: s.pads[0], pl: s.pads[1],
          epilogue: s.epilogue.map(epilogueCode), int8Out, step: s.op,
        };
        if (s.floatSum) {
          // On the CUDA cores in ONNX Runtime's order; an int8 input is read dequantized (q·s_in,
          // as DequantizeLinear), with the weights and bias dequantized as ONNX Runtime does.
          const bias = dequantizedBias(s);
          const op: ProgramOp = { kind: OpKind.convFloat, in: bv(x), ...common, wf: dequantizedWeights(s), ...(bias ? { biasf: bias } : {}) };
          const gpu = gpuFloatSum(op, tensor(s.input).dtype === 'int8');
          if (gpu.block !== s.floatSum.block || gpu.restart !== s.floatSum.restart) {
            throw new ProgramError(s, `the engine would sum it in blocks of ${gpu.block} restarting every ${gpu.restart} terms, not ${s.floatSum.block} and ${s.floatSum.restart} (ONNX Runtime's order)`);
          }
          ops.push(op);
        } else if (s.precision === 'int8') {
          const inT2 = tensor(s.input);
          if (inT2.dtype !== 'int8' || x.offset !== 0) throw new ProgramError(s, 'an INT8 convolution reads a whole int8 tensor');
          const mult = Float32Array.from(s.weightScales!, (w) => f32(inT2.scale! * w));
          ops.push({ kind: OpKind.convInt8, in: bv(x), ...common, w8: s.weight as Int8Array, ...(s.bias ? { bias8: s.bias as Int32Array } : {}), mult });
        } else {
          throw new ProgramError(s, 'a float convolution without its float sum order');
        }
        break;
      }
      case 'maxpool': {
        const x = spatial(s, viewOf(s, s.input));
        ops.push({
          kind: OpKind.maxPool, in: bv(x), out: bv(newBuffer(s.output)), channels: x.C,
          kh: s.kernel[0], kw: s.kernel[1], sh: s.stride[0], sw: s.stride[1], pt: s.pads[0], pl: s.pads[1], step: s.op,
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
        if (s.mode !== 'linear' || s.coordinates !== 'half_pixel') throw new ProgramError(s, `resize ${s.mode}/${s.coordinates}: bilinear half_pixel only`);
        const x = spatial(s, viewOf(s, s.input));
        ops.push({ kind: OpKind.resize, in: bv(x), out: bv(newBuffer(s.output)), channels: x.C, scaleY: s.scale[0], scaleX: s.scale[1], step: s.op });
        break;
      }
      case 'pad': {
        const x = spatial(s, viewOf(s, s.input));
        ops.push({ kind: OpKind.pad, in: bv(x), out: bv(newBuffer(s.output)), channels: x.C, pt: s.pads[0], pl: s.pads[1], value: s.value, step: s.op });
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
        const act = s.op === 'leaky_relu' ? Act.leakyRelu : s.op === 'relu' ? Act.relu : s.op === 'sigmoid' ? Act.sigmoid : Act.none;
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
        if (x.layout === 'chw' && shape.length === 2 && shape[0] === x.C && shape[1] === x.H * x.W) views.set(s.output, { ...x, layout: 'c_n' });
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
    if (v.layout !== 'n_c' && !(v.layout === 'chw' && v.H * v.W === 1)) throw new ProgramError(step, `graph output ${name} is not a [rows, cols] map the engine lays out`);
    const b = buffers[v.buffer]!;
    if (!b.int8 && v.offset === 0 && b.C === v.C) return { name, buffer: v.buffer };
    buffers.push({ name, int8: false, scale: 0, H: v.H, W: v.W, C: v.C });
    ops.push({ kind: OpKind.unary, in: bv(v), out: { buffer: buffers.length - 1, offset: 0 }, channels: v.C, act: Act.none, alpha: 0, step: 'output' });
    return { name, buffer: buffers.length - 1 };
  });
  const tensors = new Map<string, TensorPlace>();
  for (const [name, v] of views) tensors.set(name, { buffer: v.buffer, offset: v.offset, channels: v.C, layout: v.layout });
  return { inputSize: S, buffers, ops, outputs, tensors };
}

/**
 * The first convolution (3×3, stride 2, pads 1) over a space-to-depth input: 2×2, stride 1,
 * top/left pad 1, over the 4·C channels of each 2×2 block. Block row oy−1 holds input row 2oy−1
 * (its dy 1: kernel row 0); block row oy holds 2oy and 2oy+1 (dy 0 and 1: kernel rows 1 and 2).
 * The same products and integer sums: the results are bit for bit the 3×3 convolution's.
 */
function spaceToDepthConv(s: Extract<PlanStep, { op: 'conv' }>, x: View, out: View, inScale: number, outT: { dtype: string; scale: number | null }): ProgramOp {
  const C = s.inChannels;
  const O = s.outChannels;
  const w = s.weight as Int8Array;
  const w2 = new Int8Array(O * 4 * C * 4);
  const kernelRow = (t: number, d: number) => (t === 0 ? (d === 1 ? 0 : -1) : 1 + d);
  for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) for (let ty = 0; ty < 2; ty++) for (let tx = 0; tx < 2; tx++) for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
    const ky = kernelRow(ty, dy);
    const kx = kernelRow(tx, dx);
    if (ky < 0 || kx < 0) continue;
    w2[((o * 4 * C + (dy * 2 + dx) * C + c) * 2 + ty) * 2 + tx] = w[((o * C + c) * 3 + ky) * 3 + kx]!;
  }
  const last = s.epilogue[s.epilogue.length - 1];
  const int8Out = outT.dtype === 'int8';
  if (int8Out && (last?.op !== 'requantize' || last.scale !== outT.scale)) throw new ProgramError(s, 'an int8 output needs its requantize last');
  return {
    kind: OpKind.convInt8, in: { buffer: x.buffer, offset: 0 }, out: { buffer: out.buffer, offset: 0 },
    O, C: 4 * C, kh: 2, kw: 2, sh: 1, sw: 1, pt: 1, pl: 1,
    w8: w2, ...(s.bias ? { bias8: s.bias as Int32Array } : {}), mult: Float32Array.from(s.weightScales!, (v) => f32(inScale * v)),
    epilogue: s.epilogue.map(epilogueCode), int8Out, step: s.op,
  };
}

/**
 * The float sum order native/src/cuda/Int8Engine.cu (floatSumOf) takes for a float convolution
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
  const src = b.int8 ? new Int8Array(stored.buffer, stored.byteOffset, stored.byteLength) : new Float32Array(stored.buffer.slice(stored.byteOffset, stored.byteOffset + stored.byteLength));
  const out = b.int8 ? new Int8Array(pixels * place.channels) : new Float32Array(pixels * place.channels);
  if (place.layout === 's2d') {
    const C = place.channels;
    const S = 2 * b.W;
    const back = b.int8 ? new Int8Array(C * 4 * pixels) : new Float32Array(C * 4 * pixels);
    for (let by = 0; by < b.H; by++) for (let bx = 0; bx < b.W; bx++) for (let cell = 0; cell < 4; cell++) for (let c = 0; c < C; c++) {
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
