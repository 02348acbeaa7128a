import type { AttrValue, OnnxGraph, OnnxInitializer, OnnxNode } from '../onnx/OnnxGraph.js';

/**
 * The execution plan of Vigil's CUDA INT8 engine, made from the QDQ ONNX that TensorRT and ONNX
 * Runtime load: QuantizeLinear/DequantizeLinear are folded away into int8 tensors with a
 * per-tensor scale, INT8 convolutions get their int8 weights, per-output-channel scales and
 * int32 bias, and what follows a convolution (requantize, LeakyReLU/ReLU/Sigmoid, requantize)
 * is fused into its epilogue. Layers the calibration kept in FP32 stay float. Shapes are per
 * image ([C, H, W], or the head's [rows, cols]): the batch is the engine's.
 */

/** A tensor of the plan: int8 with its scale (value = q · scale), or float32. */
export interface PlanTensor {
  name: string;
  shape: number[];
  dtype: 'int8' | 'float32';
  scale: number | null;
}

/** After a convolution's accumulator (as float: acc·s_in·s_w[o] + bias), in order. */
export type EpilogueOp =
  | { op: 'requantize'; scale: number } // round half to even onto the int8 grid of `scale`, saturate, back to float
  | { op: 'leaky_relu'; alpha: number }
  | { op: 'relu' }
  | { op: 'sigmoid' };

/**
 * How a convolution sums in float: the order of ONNX Runtime's CPU kernels (MLAS on x86-64 with
 * AVX-512), which the reference and the CUDA kernels reproduce term for term. K walks blocks of
 * `block` input channels, within a block the kernel taps (row-major), within a tap the block's
 * channels; each term is one fused multiply-add (rounded once); the partial sum starts from zero
 * and every `restart` terms is added (one rounding) to the total, which starts at zero; the bias
 * is added to the total last. Taps outside the image add nothing.
 */
export interface FloatSum {
  block: number;
  restart: number;
}

/** Ops other than conv compute in float from their (dequantized) inputs; with `outScale` they write int8 at that scale. */
type Requantized = { outScale?: number };

export type PlanStep =
  | {
      op: 'conv';
      input: string;
      output: string;
      precision: 'int8' | 'float32';
      outChannels: number;
      inChannels: number;
      kernel: [number, number];
      stride: [number, number];
      pads: [number, number, number, number];
      dilation: [number, number];
      group: number;
      /** int8 [O, I/g, kh, kw] with scales [O] (symmetric), or float32 with scales null. */
      weight: Int8Array | Float32Array;
      weightScales: Float32Array | null;
      /** int8: int32 at s_in·s_w[o] (added to the accumulator); float32: float. */
      bias: Int32Array | Float32Array | null;
      /** int8: the bias's own DequantizeLinear scales [O] (within 1e-5 of s_in·s_w[o], not always equal), for a float sum. */
      biasScales: Float32Array | null;
      epilogue: EpilogueOp[];
      /**
       * null: an exact int32 sum (int8 weights, output requantized first: ONNX Runtime's
       * QLinearConv). Otherwise the float sum's order: FP32 layers, and int8 convolutions whose
       * output stays float (the graph's DequantizeLinear → Conv, which ONNX Runtime runs in float on
       * the dequantized input, weights and bias).
       */
      floatSum: FloatSum | null;
    }
  | { op: 'quantize'; input: string; output: string }
  | { op: 'dequantize'; input: string; output: string }
  | ({ op: 'leaky_relu'; input: string; output: string; alpha: number } & Requantized)
  | ({ op: 'relu' | 'sigmoid' | 'identity'; input: string; output: string } & Requantized)
  | ({ op: 'add'; inputs: [string, string]; output: string } & Requantized)
  | ({ op: 'concat'; inputs: string[]; output: string } & Requantized)
  | ({
      op: 'maxpool';
      input: string;
      output: string;
      kernel: [number, number];
      stride: [number, number];
      pads: [number, number, number, number];
    } & Requantized)
  | ({
      op: 'resize';
      input: string;
      output: string;
      mode: 'linear' | 'nearest';
      coordinates: string;
      nearest: string;
      scale: [number, number];
    } & Requantized)
  | ({ op: 'pad'; input: string; output: string; pads: [number, number, number, number]; value: number } & Requantized)
  | { op: 'split'; input: string; outputs: string[]; sizes: number[] }
  | { op: 'reshape'; input: string; output: string }
  | { op: 'transpose'; input: string; output: string; perm: number[] };

export interface Int8Plan {
  input: string;
  tensors: Map<string, PlanTensor>;
  steps: PlanStep[];
  /** The graph's outputs (float32), in order. */
  outputs: string[];
  stats: { int8Convs: number; floatConvs: number; fusedActivations: number; foldedQdq: number; requantizedOps: number };
}

/** The tensors a step reads. */
export function stepInputs(s: PlanStep): string[] {
  return 'inputs' in s ? s.inputs : [s.input];
}

/** The tensors a step writes. */
export function stepOutputs(s: PlanStep): string[] {
  return 'outputs' in s ? s.outputs : [s.output];
}

/** The steps that read `name`. */
function readersOf(steps: PlanStep[], name: string): PlanStep[] {
  return steps.filter((s) => stepInputs(s).includes(name));
}

/** The ops the engine runs; anything else is refused by name. */
export const SUPPORTED_OPS = [
  'QuantizeLinear',
  'DequantizeLinear',
  'Conv',
  'LeakyRelu',
  'Relu',
  'Sigmoid',
  'Add',
  'Concat',
  'MaxPool',
  'Resize',
  'Pad',
  'Split',
  'Reshape',
  'Transpose',
  'Identity',
] as const;

const ints = (v: AttrValue | undefined, fallback: number[]): number[] => (Array.isArray(v) ? v : fallback);
const int = (v: AttrValue | undefined, fallback: number): number => (typeof v === 'number' ? v : fallback);
const float = (v: AttrValue | undefined, fallback: number): number =>
  typeof v === 'number' ? v : typeof v === 'object' && v !== null && 'float' in v ? v.float : fallback;
const pair = (v: number[]): [number, number] => [v[0]!, v[1]!];
const quad = (v: number[]): [number, number, number, number] => [v[0]!, v[1]!, v[2]!, v[3]!];

class PlanError extends Error {
  constructor(node: OnnxNode, why: string) {
    super(`Vigil's CUDA INT8 engine cannot run node '${node.name}' (${node.op}): ${why}`);
  }
}

/** Makes the engine's plan from a QDQ (or plain FP32) ONNX graph; throws naming the node it cannot run. */
export function planInt8(g: OnnxGraph): Int8Plan {
  const init = g.initializers;
  const producers = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) producers.set(o, n);
  const unsupported = g.nodes.find((n) => !(SUPPORTED_OPS as readonly string[]).includes(n.op));
  if (unsupported)
    throw new PlanError(unsupported, `${unsupported.op} is not in the engine's op set (${SUPPORTED_OPS.join(', ')})`);

  const scalar = (node: OnnxNode, name: string | undefined, what: string): number => {
    const t = name === undefined ? undefined : init.get(name);
    if (!t || t.data.length !== 1) throw new PlanError(node, `its ${what} must be a constant scalar`);
    return Number(t.data[0]);
  };
  const zeroPoint = (node: OnnxNode) => {
    const zp = node.inputs[2] ? init.get(node.inputs[2]) : undefined;
    if (zp && Array.from(zp.data).some((v) => v !== 0))
      throw new PlanError(node, 'zero points must be 0 (symmetric int8)');
    if (zp && zp.dtype !== 'int8' && zp.dtype !== 'int32')
      throw new PlanError(node, `zero point type ${zp.dtype}: the engine takes int8 (activations) and int32 (bias)`);
  };

  const tensors = new Map<string, PlanTensor>();
  const steps: PlanStep[] = [];
  const input = g.inputs[0];
  if (!input?.shape || input.shape.length !== 4) throw new Error('The model needs one [N, C, H, W] input');
  tensors.set(input.name, { name: input.name, shape: input.shape.slice(1).map(Number), dtype: 'float32', scale: null });
  // A DequantizeLinear output stands for the int8 tensor it reads (activations), or for a
  // constant (weights, bias) the convolution takes as is.
  const alias = new Map<string, string>();
  const consts = new Map<string, { q: OnnxInitializer; scales: Float32Array }>();
  let foldedQdq = 0;
  const value = (name: string) => alias.get(name) ?? name;
  const tensor = (node: OnnxNode, name: string): PlanTensor => {
    const t = tensors.get(value(name));
    if (!t) throw new PlanError(node, `input '${name}' is not produced before it`);
    return t;
  };
  const add = (t: PlanTensor) => tensors.set(t.name, t);

  for (const n of g.nodes) {
    switch (n.op) {
      case 'QuantizeLinear': {
        zeroPoint(n);
        const src = tensor(n, n.inputs[0]!);
        if (src.dtype !== 'float32') throw new PlanError(n, 'it quantizes an int8 tensor');
        add({ name: n.outputs[0]!, shape: src.shape, dtype: 'int8', scale: scalar(n, n.inputs[1], 'scale') });
        steps.push({ op: 'quantize', input: src.name, output: n.outputs[0]! });
        foldedQdq++;
        break;
      }
      case 'DequantizeLinear': {
        zeroPoint(n);
        const q = init.get(n.inputs[0]!);
        if (q) {
          // a constant: per-channel weights or bias
          const s = init.get(n.inputs[1]!);
          if (!s) throw new PlanError(n, 'its scale must be a constant');
          consts.set(n.outputs[0]!, { q, scales: Float32Array.from(s.data) });
        } else {
          const src = tensor(n, n.inputs[0]!);
          if (src.dtype !== 'int8') throw new PlanError(n, 'it dequantizes a float tensor');
          if (Math.abs(scalar(n, n.inputs[1], 'scale') - src.scale!) > 1e-12 * src.scale!)
            throw new PlanError(n, 'its scale differs from the QuantizeLinear it reads');
          alias.set(n.outputs[0]!, src.name); // consumers read the int8 tensor
        }
        foldedQdq++;
        break;
      }
      case 'Conv': {
        const x = tensor(n, n.inputs[0]!);
        const wq = consts.get(n.inputs[1]!);
        const wf = init.get(n.inputs[1]!);
        const w = wq?.q ?? wf;
        if (!w || w.shape.length !== 4)
          throw new PlanError(n, 'its weights must be a constant [O, I/g, kh, kw] tensor');
        const int8 = wq !== undefined;
        if (int8 && x.dtype !== 'int8')
          throw new PlanError(n, 'int8 weights on a float input: its input needs QuantizeLinear/DequantizeLinear');
        if (!int8 && x.dtype !== 'float32') throw new PlanError(n, 'float weights on an int8 input');
        const [O, Ig, kh, kw] = w.shape as [number, number, number, number];
        const group = int(n.attrs.group, 1);
        const [C, H, W] = x.shape as [number, number, number];
        if (Ig * group !== C)
          throw new PlanError(n, `weights for ${Ig * group} input channels on a ${C}-channel input`);
        const stride = pair(ints(n.attrs.strides, [1, 1]));
        const dilation = pair(ints(n.attrs.dilations, [1, 1]));
        const pads = quad(ints(n.attrs.pads, [0, 0, 0, 0]));
        if (typeof n.attrs.auto_pad === 'string' && n.attrs.auto_pad !== 'NOTSET')
          throw new PlanError(n, `auto_pad ${n.attrs.auto_pad}: explicit pads only`);
        const Ho = Math.floor((H + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1;
        const Wo = Math.floor((W + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1;
        let bias: Int32Array | Float32Array | null = null;
        let biasScales: Float32Array | null = null;
        if (n.inputs[2]) {
          const bq = consts.get(n.inputs[2]);
          const bf = init.get(n.inputs[2]);
          if (int8) {
            if (!bq || bq.q.dtype !== 'int32')
              throw new PlanError(n, 'an int8 convolution needs its bias as int32 behind a DequantizeLinear');
            // The bias scale must be s_in·s_w[o]: then it adds to the accumulator as is.
            for (let o = 0; o < O; o++) {
              const want = x.scale! * wq.scales[o]!;
              if (Math.abs(bq.scales[o]! - want) > 1e-5 * want)
                throw new PlanError(
                  n,
                  `bias scale of channel ${o} is ${bq.scales[o]}, not input scale × weight scale (${want})`,
                );
            }
            bias = Int32Array.from(bq.q.data);
            biasScales = Float32Array.from({ length: O }, (_, o) => bq.scales[bq.scales.length === 1 ? 0 : o]!);
          } else {
            if (!bf || bf.dtype !== 'float32') throw new PlanError(n, 'a float convolution needs a float bias');
            bias = Float32Array.from(bf.data);
          }
        }
        if (int8 && (wq.q.dtype !== 'int8' || wq.scales.length !== O))
          throw new PlanError(n, 'int8 weights need one scale per output channel');
        add({ name: n.outputs[0]!, shape: [O, Ho, Wo], dtype: 'float32', scale: null });
        steps.push({
          op: 'conv',
          input: x.name,
          output: n.outputs[0]!,
          precision: int8 ? 'int8' : 'float32',
          outChannels: O,
          inChannels: C,
          kernel: [kh, kw],
          stride,
          pads,
          dilation,
          group,
          weight: int8 ? Int8Array.from(wq.q.data) : Float32Array.from(w.data),
          weightScales: int8 ? wq.scales : null,
          bias,
          biasScales,
          epilogue: [],
          floatSum: null,
        });
        break;
      }
      case 'LeakyRelu':
      case 'Relu':
      case 'Sigmoid':
      case 'Identity': {
        const x = tensor(n, n.inputs[0]!);
        add({ name: n.outputs[0]!, shape: x.shape, dtype: 'float32', scale: null });
        if (n.op === 'LeakyRelu')
          steps.push({ op: 'leaky_relu', input: x.name, output: n.outputs[0]!, alpha: float(n.attrs.alpha, 0.01) });
        else
          steps.push({
            op: n.op === 'Relu' ? 'relu' : n.op === 'Sigmoid' ? 'sigmoid' : 'identity',
            input: x.name,
            output: n.outputs[0]!,
          });
        break;
      }
      case 'Add': {
        const a = tensor(n, n.inputs[0]!);
        const b = tensor(n, n.inputs[1]!);
        if (a.shape.join() !== b.shape.join())
          throw new PlanError(n, `shapes ${a.shape} and ${b.shape}: no broadcasting`);
        add({ name: n.outputs[0]!, shape: a.shape, dtype: 'float32', scale: null });
        steps.push({ op: 'add', inputs: [a.name, b.name], output: n.outputs[0]! });
        break;
      }
      case 'Concat': {
        const xs = n.inputs.map((i) => tensor(n, i));
        const axis = int(n.attrs.axis, 1);
        if (axis !== 1) throw new PlanError(n, `axis ${axis}: channels (1) only`);
        const [, H, W] = xs[0]!.shape;
        if (xs.some((x) => x.shape[1] !== H || x.shape[2] !== W)) throw new PlanError(n, 'inputs of different sizes');
        add({
          name: n.outputs[0]!,
          shape: [xs.reduce((s, x) => s + x.shape[0]!, 0), H!, W!],
          dtype: 'float32',
          scale: null,
        });
        steps.push({ op: 'concat', inputs: xs.map((x) => x.name), output: n.outputs[0]! });
        break;
      }
      case 'MaxPool': {
        const x = tensor(n, n.inputs[0]!);
        const kernel = pair(ints(n.attrs.kernel_shape, []));
        const stride = pair(ints(n.attrs.strides, [1, 1]));
        const pads = quad(ints(n.attrs.pads, [0, 0, 0, 0]));
        if (int(n.attrs.ceil_mode, 0) !== 0) throw new PlanError(n, 'ceil_mode 1');
        const [C, H, W] = x.shape as [number, number, number];
        add({
          name: n.outputs[0]!,
          shape: [
            C,
            Math.floor((H + pads[0] + pads[2] - kernel[0]) / stride[0]) + 1,
            Math.floor((W + pads[1] + pads[3] - kernel[1]) / stride[1]) + 1,
          ],
          dtype: 'float32',
          scale: null,
        });
        steps.push({ op: 'maxpool', input: x.name, output: n.outputs[0]!, kernel, stride, pads });
        break;
      }
      case 'Resize': {
        const x = tensor(n, n.inputs[0]!);
        const scales = n.inputs[2] ? init.get(n.inputs[2]) : undefined;
        if (!scales || scales.data.length !== 4 || scales.data[0] !== 1 || scales.data[1] !== 1)
          throw new PlanError(n, 'it needs constant scales [1, 1, sh, sw] (sizes are not taken)');
        const mode = typeof n.attrs.mode === 'string' ? n.attrs.mode : 'nearest';
        if (mode !== 'linear' && mode !== 'nearest') throw new PlanError(n, `mode ${mode}: linear or nearest only`);
        const scale: [number, number] = [Number(scales.data[2]), Number(scales.data[3])];
        const [C, H, W] = x.shape as [number, number, number];
        add({
          name: n.outputs[0]!,
          shape: [C, Math.floor(H * scale[0]), Math.floor(W * scale[1])],
          dtype: 'float32',
          scale: null,
        });
        steps.push({
          op: 'resize',
          input: x.name,
          output: n.outputs[0]!,
          mode,
          scale,
          coordinates:
            typeof n.attrs.coordinate_transformation_mode === 'string'
              ? n.attrs.coordinate_transformation_mode
              : 'half_pixel',
          nearest: typeof n.attrs.nearest_mode === 'string' ? n.attrs.nearest_mode : 'round_prefer_floor',
        });
        break;
      }
      case 'Pad': {
        const x = tensor(n, n.inputs[0]!);
        const p = n.inputs[1] ? init.get(n.inputs[1]) : undefined;
        if ((typeof n.attrs.mode === 'string' && n.attrs.mode !== 'constant') || !p || p.data.length !== 8)
          throw new PlanError(n, 'constant padding with constant pads only');
        const v = Array.from(p.data, Number);
        if (v[0] || v[1] || v[4] || v[5]) throw new PlanError(n, 'padding of the batch or channels');
        const value = n.inputs[2] ? scalar(n, n.inputs[2], 'value') : 0;
        const [C, H, W] = x.shape as [number, number, number];
        add({ name: n.outputs[0]!, shape: [C, H + v[2]! + v[6]!, W + v[3]! + v[7]!], dtype: 'float32', scale: null });
        steps.push({ op: 'pad', input: x.name, output: n.outputs[0]!, pads: [v[2]!, v[3]!, v[6]!, v[7]!], value });
        break;
      }
      case 'Split': {
        const x = tensor(n, n.inputs[0]!);
        const sizes = n.inputs[1] ? Array.from(init.get(n.inputs[1])?.data ?? [], Number) : ints(n.attrs.split, []);
        if (int(n.attrs.axis, 0) !== 1 || sizes.reduce((a, b) => a + b, 0) !== x.shape[0])
          throw new PlanError(n, 'a split of the channels (axis 1) into constant sizes only');
        n.outputs.forEach((o, i) =>
          add({ name: o, shape: [sizes[i]!, ...x.shape.slice(1)], dtype: 'float32', scale: null }),
        );
        steps.push({ op: 'split', input: x.name, outputs: [...n.outputs], sizes });
        break;
      }
      case 'Reshape': {
        const x = tensor(n, n.inputs[0]!);
        const s = n.inputs[1] ? init.get(n.inputs[1]) : undefined;
        if (!s) throw new PlanError(n, 'its shape must be a constant');
        const dims = Array.from(s.data, Number).slice(1); // per image: the batch dim goes
        const total = x.shape.reduce((a, b) => a * b, 1);
        const known = dims.filter((d) => d > 0).reduce((a, b) => a * b, 1);
        const shape = dims.map((d) => (d === -1 ? total / known : d === 0 ? x.shape[dims.indexOf(d)]! : d));
        if (shape.reduce((a, b) => a * b, 1) !== total)
          throw new PlanError(n, `shape ${dims} does not hold ${total} values`);
        add({ name: n.outputs[0]!, shape, dtype: 'float32', scale: null });
        steps.push({ op: 'reshape', input: x.name, output: n.outputs[0]! });
        break;
      }
      case 'Transpose': {
        const x = tensor(n, n.inputs[0]!);
        const perm = ints(n.attrs.perm, []);
        if (perm[0] !== 0) throw new PlanError(n, 'the batch must stay first');
        const p = perm.slice(1).map((d) => d - 1);
        add({ name: n.outputs[0]!, shape: p.map((d) => x.shape[d]!), dtype: 'float32', scale: null });
        steps.push({ op: 'transpose', input: x.name, output: n.outputs[0]!, perm: p });
        break;
      }
    }
  }
  // Steps already name the int8 tensor where a DequantizeLinear stood (tensor() resolves it); the graph's outputs may name one.
  const outputs = g.outputs.map((o) => value(o.name));
  const fused = fuse(steps, tensors, outputs);
  const requantizedOps = fuseRequantize(steps, tensors, outputs);
  for (const s of steps) if (s.op === 'conv') s.floatSum = ortFloatSum(s);
  return {
    input: input.name,
    tensors,
    steps,
    outputs,
    stats: {
      int8Convs: steps.filter((s) => s.op === 'conv' && s.precision === 'int8').length,
      floatConvs: steps.filter((s) => s.op === 'conv' && s.precision === 'float32').length,
      fusedActivations: fused,
      foldedQdq,
      requantizedOps,
    },
  };
}

/**
 * Folds into each convolution the steps that only it feeds: quantize (a requantize in the
 * epilogue, the output becoming int8), and an activation on that result; repeatedly, so that
 * conv → quantize → LeakyReLU → quantize is one kernel. Returns the activations fused.
 */
function fuse(steps: PlanStep[], tensors: Map<string, PlanTensor>, outputs: string[]): number {
  let activations = 0;
  for (const conv of steps) {
    if (conv.op !== 'conv') continue;
    for (;;) {
      if (outputs.includes(conv.output)) break;
      const r = readersOf(steps, conv.output);
      if (r.length !== 1) break;
      const next = r[0]!;
      if (next.op === 'quantize') {
        const t = tensors.get(next.output)!;
        conv.epilogue.push({ op: 'requantize', scale: t.scale! });
        tensors.delete(conv.output);
        conv.output = next.output;
      } else if (next.op === 'leaky_relu' || next.op === 'relu' || next.op === 'sigmoid') {
        // An activation on the int8 result reads it dequantized: the requantize above is exact.
        conv.epilogue.push(next.op === 'leaky_relu' ? { op: 'leaky_relu', alpha: next.alpha } : { op: next.op });
        tensors.delete(conv.output);
        conv.output = next.output;
        activations++;
      } else {
        break;
      }
      steps.splice(steps.indexOf(next), 1);
    }
  }
  return activations;
}

/**
 * An op whose float result only a quantize reads writes int8 itself (concat and add with
 * rescale, resize, max-pool, activations): the quantize goes. Returns how many ops took one.
 */
function fuseRequantize(steps: PlanStep[], tensors: Map<string, PlanTensor>, outputs: string[]): number {
  let n = 0;
  for (const step of [...steps]) {
    if (
      step.op === 'conv' ||
      step.op === 'quantize' ||
      step.op === 'dequantize' ||
      step.op === 'split' ||
      step.op === 'reshape' ||
      step.op === 'transpose'
    )
      continue;
    if (outputs.includes(step.output)) continue;
    const r = readersOf(steps, step.output);
    const q = r[0];
    if (r.length !== 1 || q?.op !== 'quantize') continue;
    step.outScale = tensors.get(q.output)!.scale!;
    tensors.delete(step.output);
    step.output = q.output;
    steps.splice(steps.indexOf(q), 1);
    n++;
  }
  return n;
}

/**
 * The order ONNX Runtime (CPU, graphOptimizationLevel 'all') sums a convolution in float on an
 * x86-64 CPU with AVX-512; null where it sums int8 in int32 (QLinearConv: an int8 convolution
 * whose output is requantized first). From onnxruntime/core (MLAS):
 * - An int8 convolution whose output stays float is DequantizeLinear → Conv (→ FusedConv with its
 *   activation): the weights are DequantizeLinear outputs, not initializers, so the NCHWc
 *   transformer leaves it, and MlasConv (mlas/lib/convolve.cpp) runs it as im2col, K = channel
 *   then tap (MlasConvIm2Col), times the weights in an SGEMM whose kernel keeps one accumulator
 *   per output and adds the terms in K order with vfmadd231ps (FgemmKernelAvx512FCommon.h),
 *   slices of MLAS_SGEMM_STRIDEK (128) terms added into the output (beta 1); then MlasActivation
 *   adds the bias and applies the activation. Up to 128 terms are one chain whatever the
 *   threading (threads split the output pixels); above, 128 holds while each thread has at least
 *   K pixels (MLAS widens the K slice for narrower ones).
 * - An FP32 convolution (float initializer weights) becomes an NCHWc Conv (optimizer/
 *   nchwc_transformer.cc) run by MlasNchwcConv (mlas/lib/snchwc.cpp) with the AVX-512 block of 16
 *   channels (8 on AVX2-only CPUs: another order): fewer than 16 input channels, the NCHW
 *   algorithm, one input channel a kernel call (its taps from zero, added into the output); 1×1
 *   unpadded, the pointwise algorithm, 128 channels a kernel call in order; otherwise one
 *   16-channel block a call, taps then the block's channels (SconvKernelCommon.h), added into the
 *   output; depthwise, the taps. The bias is added after the last call, then the activation.
 *   Input channels not a multiple of 16 keep the plain MlasConv path (the first case's order).
 *   (Not modelled: an FP32 convolution whose one reader is an Add, which ONNX Runtime fuses into
 *   the NCHWc sum; NanoDet has none.)
 */
function ortFloatSum(s: Extract<PlanStep, { op: 'conv' }>): FloatSum | null {
  const taps = s.kernel[0] * s.kernel[1];
  const cpg = s.inChannels / s.group;
  const opg = s.outChannels / s.group;
  const sgemm: FloatSum = { block: 1, restart: Math.min(cpg * taps, 128) };
  if (s.precision === 'int8') return s.epilogue[0]?.op === 'requantize' ? null : sgemm;
  const B = 16; // MlasNchwcGetBlockSize() on AVX-512F
  if (s.group > 1) {
    if (cpg === 1 && opg === 1) return s.outChannels % B === 0 ? { block: 1, restart: taps } : sgemm; // depthwise
    if (cpg % B !== 0 || opg % B !== 0) return sgemm;
  } else {
    if (cpg < B) return { block: 1, restart: taps };
    if (cpg % B !== 0) return sgemm;
  }
  return taps === 1 && s.pads.every((p) => p === 0) ? { block: 128, restart: 128 } : { block: B, restart: B * taps };
}

/** An int8 convolution's weights as ONNX Runtime's DequantizeLinear makes them: q·s_w[o], one float32 product. */
export function dequantizedWeights(s: Extract<PlanStep, { op: 'conv' }>): Float32Array {
  if (s.precision !== 'int8') return s.weight as Float32Array;
  const per = s.weight.length / s.outChannels;
  return Float32Array.from(s.weight, (q, i) => q * s.weightScales![Math.floor(i / per)]!);
}

/** An int8 convolution's int32 bias dequantized with its own scales: float32(b)·s_b[o], one float32 product. */
export function dequantizedBias(s: Extract<PlanStep, { op: 'conv' }>): Float32Array | null {
  if (!s.bias || s.precision !== 'int8') return s.bias as Float32Array | null;
  return Float32Array.from(s.bias, (b, o) => Math.fround(b) * s.biasScales![o]!);
}
