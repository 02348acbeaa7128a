import type { OnnxGraph, OnnxNode } from '../onnx/OnnxGraph.js';

/** Ops whose float activation inputs get QuantizeLinear/DequantizeLinear (ORT and TensorRT run them in INT8). */
const QUANTIZED_OPS = new Set(['Conv', 'LeakyRelu', 'Add', 'Mul', 'Concat', 'MaxPool', 'Resize', 'GlobalAveragePool']);
/** INT8 ops that read one activation (input 0); the others read all of their inputs. */
const UNARY_OPS = new Set(['Conv', 'Resize', 'MaxPool', 'LeakyRelu', 'GlobalAveragePool']);
/**
 * An activation that reads its producer's float output (no Q/DQ between them) and carries the
 * producer's QuantizeLinear after it: TensorRT fuses Conv+ReLU, and ONNX Runtime folds a ReLU into
 * a following QuantizeLinear with an unsigned zero point (ortLowering gives it one).
 */
const FUSED_ACTIVATIONS = new Set(['Relu']);

export interface QdqPlan {
  /** Activation tensors that need a scale, in graph order. */
  tensors: string[];
  /** Nodes that run in INT8. */
  nodes: string[];
  /**
   * FP32 ops between INT8 ones (ONNX Runtime has no INT8 form of them: hard-swish's x + 3, x / 6
   * and Relu6, squeeze-excite gates): they read dequantized inputs and their INT8 consumers
   * quantized outputs, so that every INT8 op around them is fused.
   */
  islands: string[];
}

/**
 * Whether `n` can run in INT8: an op of QUANTIZED_OPS; Add and Mul only between activations that
 * are quantized anyway (an INT8 op's output, a fused ReLU's, one an INT8 op also reads) or small
 * (squeeze-excite gates: one value a channel). With a constant input ONNX Runtime has no INT8 form
 * (hard-swish's x + 3 and x / 6), and between two FP32 results (hard-swish's x/6 · relu6(x+3)) a
 * QuantizeLinear on each would cost more than the float op.
 */
function int8Able(g: OnnxGraph, n: OnnxNode, producer: Map<string, OnnxNode>, consumers: Consumers): boolean {
  if (!QUANTIZED_OPS.has(n.op)) return false;
  if (n.op !== 'Add' && n.op !== 'Mul') return true;
  const elementwise = (p: OnnxNode) => p.op === 'Add' || p.op === 'Mul';
  const fromInt8 = (t: string): boolean => {
    const p = producer.get(t);
    if (!p) return !g.initializers.has(t); // a graph input
    if (FUSED_ACTIVATIONS.has(p.op)) return fromInt8(p.inputs[0]!);
    return QUANTIZED_OPS.has(p.op) && (!elementwise(p) || int8Able(g, p, producer, consumers));
  };
  const readByInt8 = (t: string) =>
    (consumers.get(t) ?? []).some((c) => c !== n && QUANTIZED_OPS.has(c.op) && !elementwise(c));
  return n.inputs.every((t) => !g.initializers.has(t) && (fromInt8(t) || readByInt8(t) || pooled(t, producer)));
}

/** A tensor computed from a GlobalAveragePool's output alone (one value a channel). */
function pooled(t: string, producer: Map<string, OnnxNode>): boolean {
  const p = producer.get(t);
  if (!p) return false;
  if (p.op === 'GlobalAveragePool') return true;
  const acts = p.inputs.filter((i) => producer.has(i));
  return acts.length > 0 && acts.every((i) => pooled(i, producer));
}

type Consumers = Map<string, OnnxNode[]>;
const producers = (g: OnnxGraph) => new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
function consumersOf(g: OnnxGraph): Consumers {
  const consumers: Consumers = new Map();
  for (const n of g.nodes) for (const t of n.inputs) consumers.set(t, [...(consumers.get(t) ?? []), n]);
  return consumers;
}

/** The nodes that can run in INT8 (Conv, LeakyRelu, Add, Mul, Concat, MaxPool, Resize, GlobalAveragePool). */
export function quantizableNodes(g: OnnxGraph): string[] {
  const producer = producers(g);
  const consumers = consumersOf(g);
  return g.nodes.filter((n) => int8Able(g, n, producer, consumers)).map((n) => n.name);
}

/** Which activations get Q/DQ when `int8Nodes` (every quantizable node by default) run in INT8. */
export function planQdq(g: OnnxGraph, int8Nodes?: Set<string>): QdqPlan {
  const inits = new Set(g.initializers.keys());
  const producer = producers(g);
  const quantizable = new Set(quantizableNodes(g));
  const nodes = g.nodes.filter((n) => quantizable.has(n.name) && (!int8Nodes || int8Nodes.has(n.name)));
  const int8 = new Set(nodes.map((n) => n.name));
  // Islands: FP32 ops with an INT8 op downstream (those after the last one, the heads' tails,
  // read float tensors).
  const consumers = consumersOf(g);
  const inside = new Set<string>();
  for (const n of [...g.nodes].reverse()) {
    const next = n.outputs.flatMap((o) => consumers.get(o) ?? []);
    if (next.some((c) => int8.has(c.name) || inside.has(c.name))) inside.add(n.name);
  }
  const islands = g.nodes.filter((n) => !quantizable.has(n.name) && inside.has(n.name));
  const island = new Set(islands.map((n) => n.name));
  const int8Output = (t: string): boolean => {
    const p = producer.get(t);
    if (!p) return false;
    return FUSED_ACTIVATIONS.has(p.op) ? int8Output(p.inputs[0]!) : int8.has(p.name);
  };
  const tensors = new Set<string>();
  for (const n of g.nodes) {
    if (int8.has(n.name)) {
      const acts = UNARY_OPS.has(n.op) ? [n.inputs[0]!] : n.inputs;
      for (const t of acts) if (t && !inits.has(t)) tensors.add(t);
    } else if (island.has(n.name)) {
      // An island reads its INT8 producers' outputs through Q/DQ; a ReLU alone on an INT8 op's
      // output is fused into that op instead (nothing between them).
      const fused = FUSED_ACTIVATIONS.has(n.op) && (consumers.get(n.inputs[0]!) ?? []).length === 1;
      if (!fused) for (const t of n.inputs) if (t && !inits.has(t) && int8Output(t)) tensors.add(t);
    }
  }
  return { tensors: [...tensors], nodes: nodes.map((n) => n.name), islands: islands.map((n) => n.name) };
}

/** Round half to even, as ONNX QuantizeLinear rounds. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The largest |int32 bias| written: headroom in the int32 accumulator for the sum of products. */
export const BIAS_INT32_LIMIT = 2 ** 30;

/**
 * Per-output-channel symmetric INT8 weights: scale[o] = max|W[o]| / 127, or `minScales[o]` where
 * that is larger (a channel of near-zero weights whose bias would not fit the int32 grid).
 */
export function quantizeWeights(
  w: ArrayLike<number>,
  outChannels: number,
  minScales?: ArrayLike<number>,
): { q: Int8Array; scales: Float32Array } {
  const per = w.length / outChannels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(w[o * per + i]!));
    const floor = minScales?.[o] ?? 0;
    const s = m > 0 ? Math.max(m / 127, floor) : Math.max(1, floor);
    scales[o] = s;
    for (let i = 0; i < per; i++) q[o * per + i] = Math.max(-127, Math.min(127, roundHalfEven(w[o * per + i]! / s)));
  }
  return { q, scales };
}

/**
 * A QDQ copy of an FP32 graph in the explicit-quantization layout TensorRT and ONNX Runtime
 * both take: QuantizeLinear→DequantizeLinear (int8, zero point 0) after every activation that
 * feeds an INT8 op, and int8 per-channel weights behind a DequantizeLinear (axis 0) on every
 * INT8 Conv. Nodes outside `int8Nodes` stay FP32 (they read the float tensors); the heads'
 * outputs stay float. `scales`: activation tensor → scale (threshold / 127).
 */
export function writeQdq(
  fp32: OnnxGraph,
  scales: Map<string, number>,
  int8Nodes?: Set<string>,
  activations: 'int8' | 'uint8' = 'int8',
): OnnxGraph {
  const g = fp32.clone();
  const plan = planQdq(g, int8Nodes);
  const quantized = new Set(plan.nodes);
  const islands = new Set(plan.islands);
  const need = new Set(plan.tensors);
  // One QuantizeLinear per tensor, right after its producer; one DequantizeLinear per INT8
  // consumer, right before it (a shared DQ keeps ONNX Runtime from fusing the consumer).
  const quantizedAs = new Map<string, { q: string; scale: string; zp: string }>();
  const qNode = (t: string): OnnxNode => {
    const s = scales.get(t);
    if (s === undefined || !(s > 0)) throw new Error(`No calibration scale for activation '${t}'`);
    const scale = g.addFloat(g.uniqueName(`${t}_scale`), { dtype: 'float32', shape: [], data: Float32Array.of(s) });
    // uint8 with zero point 128 is the same symmetric grid as int8 with 0 (ONNX Runtime's fast
    // path on x86); TensorRT takes only the int8 form.
    const zp =
      activations === 'int8'
        ? g.addInt8(g.uniqueName(`${t}_zp`), [0], [])
        : g.addUint8(g.uniqueName(`${t}_zp`), [128], []);
    quantizedAs.set(t, { q: `${t}_q`, scale, zp });
    return { op: 'QuantizeLinear', name: g.uniqueName('Q'), inputs: [t, scale, zp], outputs: [`${t}_q`], attrs: {} };
  };
  const dqNode = (t: string): OnnxNode => {
    const { q, scale, zp } = quantizedAs.get(t)!;
    return {
      op: 'DequantizeLinear',
      name: g.uniqueName('DQ'),
      inputs: [q, scale, zp],
      outputs: [g.uniqueName(`${t}_dq`)],
      attrs: {},
    };
  };

  // A per-output-channel constant (int8 weights or int32 bias) behind a DequantizeLinear (axis 0);
  // returns the dequantized tensor's name. The float initializer it replaces is dropped.
  const perChannelDq = (
    name: string,
    suffix: string,
    dtype: 'int8' | 'int32',
    values: ArrayLike<number>,
    shape: number[],
    chScales: Float32Array,
  ): string => {
    const n = chScales.length;
    const add = dtype === 'int8' ? g.addInt8.bind(g) : g.addInt32.bind(g);
    const qName = add(`${name}_${suffix}`, values, shape);
    const sName = g.addFloat(`${name}_scale`, { dtype: 'float32', shape: [n], data: chScales });
    const zName = add(`${name}_zp`, dtype === 'int8' ? new Int8Array(n) : new Int32Array(n), [n]);
    out.push({
      op: 'DequantizeLinear',
      name: g.uniqueName('DQc'),
      inputs: [qName, sName, zName],
      outputs: [`${name}_dq`],
      attrs: { axis: 0 },
    });
    g.initializers.delete(name);
    return `${name}_dq`;
  };

  const out: OnnxNode[] = [];
  for (const input of g.inputs) if (need.has(input.name)) out.push(qNode(input.name));
  for (const n of g.nodes) {
    if (n.op === 'Conv' && quantized.has(n.name)) {
      const wName = n.inputs[1]!;
      const w = g.initializers.get(wName)!;
      // Bias as int32 at scale s_x·s_w[o] behind a DequantizeLinear: the form ONNX Runtime
      // fuses into QLinearConv (and TensorRT reads as is). A channel of all but zero weights
      // would put its bias past the int32 range: its weight scale is raised until it fits.
      const bName = n.inputs[2];
      const b = bName ? g.initializers.get(bName) : undefined;
      const sx = scales.get(n.inputs[0]!);
      const fit =
        b && sx !== undefined ? Float64Array.from(b.data, (v) => Math.abs(v) / (sx * BIAS_INT32_LIMIT)) : undefined;
      const { q, scales: ws } = quantizeWeights(w.data, w.shape[0]!, fit);
      n.inputs[1] = perChannelDq(wName, 'int8', 'int8', q, w.shape, ws);
      if (b && bName && sx !== undefined) {
        const bs = Float32Array.from(ws, (s) => s * sx);
        const bq = Int32Array.from(b.data, (v, o) => roundHalfEven(v / bs[o]!));
        n.inputs[2] = perChannelDq(bName, 'int32', 'int32', bq, b.shape, bs);
      }
    }
    // INT8 consumers and FP32 islands read the dequantized tensor; FP32-kept layers and the
    // heads' tails the float one.
    if (quantized.has(n.name) || islands.has(n.name)) {
      n.inputs = n.inputs.map((t) => {
        if (!quantizedAs.has(t)) return t;
        const dq = dqNode(t);
        out.push(dq);
        return dq.outputs[0]!;
      });
    }
    out.push(n);
    for (const t of n.outputs) if (need.has(t)) out.push(qNode(t));
  }
  g.nodes.length = 0;
  g.nodes.push(...out);
  return g;
}
