import type { OnnxGraph, OnnxNode } from '../onnx/OnnxGraph.js';

/** Ops whose float activation inputs get QuantizeLinear/DequantizeLinear (ORT and TensorRT run them in INT8). */
const QUANTIZED_OPS = new Set(['Conv', 'LeakyRelu', 'Add', 'Concat', 'MaxPool', 'Resize']);

export interface QdqPlan {
  /** Activation tensors that need a scale, in graph order. */
  tensors: string[];
  /** Nodes that run in INT8. */
  nodes: string[];
}

/** The nodes that can run in INT8 (Conv, LeakyRelu, Add, Concat, MaxPool, Resize). */
export function quantizableNodes(g: OnnxGraph): string[] {
  return g.nodes.filter((n) => QUANTIZED_OPS.has(n.op)).map((n) => n.name);
}

/** Which activations get Q/DQ when `int8Nodes` (every quantizable node by default) run in INT8. */
export function planQdq(g: OnnxGraph, int8Nodes?: Set<string>): QdqPlan {
  const inits = new Set(g.initializers.keys());
  const tensors = new Set<string>();
  const nodes: string[] = [];
  for (const n of g.nodes) {
    if (!QUANTIZED_OPS.has(n.op) || (int8Nodes && !int8Nodes.has(n.name))) continue;
    nodes.push(n.name);
    const acts =
      n.op === 'Conv' || n.op === 'Resize' || n.op === 'MaxPool' || n.op === 'LeakyRelu' ? [n.inputs[0]!] : n.inputs;
    for (const t of acts) if (t && !inits.has(t)) tensors.add(t);
  }
  return { tensors: [...tensors], nodes };
}

/** Round half to even, as ONNX QuantizeLinear rounds. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Per-output-channel symmetric INT8 weights: scale[o] = max|W[o]| / 127. */
export function quantizeWeights(w: ArrayLike<number>, outChannels: number): { q: Int8Array; scales: Float32Array } {
  const per = w.length / outChannels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(w[o * per + i]!));
    const s = m > 0 ? m / 127 : 1;
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
      const { q, scales: ws } = quantizeWeights(w.data, w.shape[0]!);
      n.inputs[1] = perChannelDq(wName, 'int8', 'int8', q, w.shape, ws);
      // Bias as int32 at scale s_x·s_w[o] behind a DequantizeLinear: the form ONNX Runtime
      // fuses into QLinearConv (and TensorRT reads as is).
      const bName = n.inputs[2];
      const b = bName ? g.initializers.get(bName) : undefined;
      const sx = scales.get(n.inputs[0]!);
      if (b && bName && sx !== undefined) {
        const bs = Float32Array.from(ws, (s) => s * sx);
        const bq = Int32Array.from(b.data, (v, o) => roundHalfEven(v / bs[o]!));
        n.inputs[2] = perChannelDq(bName, 'int32', 'int32', bq, b.shape, bs);
      }
    }
    // INT8 consumers read the dequantized tensor; FP32-kept convs and other ops the float one.
    const int8Consumer = quantized.has(n.name);
    if (int8Consumer) {
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
