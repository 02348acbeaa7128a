import ort from 'onnxruntime-node';

import type { OnnxGraph } from '../onnx/OnnxGraph.js';
import type { ModelSpec } from '../../detect/ModelSpec.js';
import { NANODET_MODEL } from '../../detect/nanodet/nanodetSpec.js';
import { ActivationStats } from './ActivationStats.js';
import { lowerQdqForOrtCpu } from './ortLowering.js';
import { planQdq, quantizableNodes, writeQdq } from './QdqWriter.js';

export type CalibrationMethod = 'entropy' | 'percentile' | 'mse';

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** For 'percentile': the share of |x| kept unclipped. Default 99.999 (99.99 and 99.9 clip too much: bench:eval). */
  percentile?: number;
  /** 'auto': the most sensitive layers (sensitivity pass) stay FP32; a list: those layers; 'none'. */
  keepFp32: 'auto' | 'none' | string[];
  /** With 'auto': the largest share of layers that may stay FP32. Default 0.1. */
  keepFp32Max?: number;
  /**
   * Layers that stay FP32 whatever `keepFp32` says, for speed rather than accuracy (an op ONNX
   * Runtime's INT8 kernels run slower than its float ones); the sensitivity pass skips them.
   */
  fp32Layers?: string[];
  /** Frames used by the sensitivity pass. Default 12. */
  sensitivityFrames?: number;
  /** Empirical bias correction of the INT8 convs (correctBiases), on up to 48 calibration frames. */
  biasCorrection?: boolean;
  /** What the graph is (its input's name and size); default the shipped NanoDet. */
  model?: ModelSpec;
  onProgress?: (msg: string) => void;
}

export interface TensorRange {
  tensor: string;
  absMax: number;
  threshold: number;
  scale: number;
  /** Share of values beyond the threshold (clipped). */
  saturation: number;
}

export interface CalibrationReport {
  method: CalibrationMethod;
  percentile: number | null;
  frames: number;
  tensors: TensorRange[];
  weights: 'per-output-channel symmetric int8 (max |w| / 127)';
  /** Every quantizable layer with the head-output error when it alone runs in INT8, worst first. */
  sensitivity: Array<{ layer: string; op: string; error: number }> | null;
  keptFp32: string[];
  /** Mean |per-channel output shift| of the INT8 convs before and after each correction round. */
  biasCorrection: { frames: number; meanShift: number[] } | null;
  int8Layers: number;
  totalLayers: number;
}

const sessionOf = (g: OnnxGraph) => {
  const bytes = g.encode();
  return ort.InferenceSession.create(lowerQdqForOrtCpu(bytes) ?? bytes, { graphOptimizationLevel: 'all' });
};
const feed = (model: ModelSpec, t: Float32Array) => {
  const s = model.input.size;
  return { [model.input.name]: new ort.Tensor('float32', t, [1, 3, s, s]) };
};

/** Runs the FP32 model with every activation to quantize as an extra output: |x| max, then histograms. */
export async function collectStats(
  fp32: OnnxGraph,
  frames: Float32Array[],
  log = (_: string) => {},
  model: ModelSpec = NANODET_MODEL,
): Promise<Map<string, ActivationStats>> {
  const plan = planQdq(fp32);
  const tapped = fp32.clone();
  const inputName = model.input.name;
  const taps = plan.tensors.filter((t) => t !== inputName && !tapped.outputs.some((o) => o.name === t));
  for (const t of taps) tapped.outputs.push({ name: t });
  const session = await sessionOf(tapped);
  const stats = new Map(plan.tensors.map((t) => [t, new ActivationStats()]));
  for (const pass of ['max', 'histogram'] as const) {
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const out = await session.run(feed(model, frame), taps);
      for (const t of plan.tensors) {
        const data = t === inputName ? frame : (out[t]!.data as Float32Array);
        const s = stats.get(t)!;
        if (pass === 'max') s.observeMax(data);
        else s.observeHist(data);
      }
      if (i % 20 === 19) log(`calibration ${pass} pass: ${i + 1}/${frames.length} frames`);
    }
  }
  await session.release();
  return stats;
}

export function chooseRanges(
  stats: Map<string, ActivationStats>,
  method: CalibrationMethod,
  percentile = 99.999,
  model: ModelSpec = NANODET_MODEL,
): TensorRange[] {
  return [...stats].map(([tensor, s]) => {
    // The network input is a normalised image with a known, bounded range: never clipped.
    const chosen =
      tensor === model.input.name
        ? s.absMax
        : method === 'entropy'
          ? s.entropy()
          : method === 'mse'
            ? s.mse()
            : s.percentile(percentile);
    const threshold = Math.min(s.absMax, chosen) || 1e-8;
    return { tensor, absMax: s.absMax, threshold, scale: threshold / 127, saturation: s.saturation(threshold) };
  });
}

/** Relative L2 error of all head outputs of `g` against the FP32 reference outputs. */
async function headError(
  g: OnnxGraph,
  frames: Float32Array[],
  reference: Array<Record<string, Float32Array>>,
  model: ModelSpec,
): Promise<number> {
  const session = await sessionOf(g);
  let num = 0;
  let den = 0;
  for (let i = 0; i < frames.length; i++) {
    const out = await session.run(feed(model, frames[i]!));
    for (const [name, ref] of Object.entries(reference[i]!)) {
      const y = out[name]!.data as Float32Array;
      for (let k = 0; k < y.length; k++) {
        num += (y[k]! - ref[k]!) ** 2;
        den += ref[k]! ** 2;
      }
    }
  }
  await session.release();
  return Math.sqrt(num / den);
}

/**
 * Runs one layer at a time in INT8 (its inputs, and its weights for a Conv) and measures how far
 * the heads' outputs move: the layers whose INT8 costs the most come first.
 */
export async function sensitivity(
  fp32: OnnxGraph,
  scales: Map<string, number>,
  frames: Float32Array[],
  log = (_: string) => {},
  model: ModelSpec = NANODET_MODEL,
  skip: string[] = [],
): Promise<Array<{ layer: string; op: string; error: number }>> {
  const ref = await sessionOf(fp32);
  const reference: Array<Record<string, Float32Array>> = [];
  for (const f of frames) {
    const out = await ref.run(feed(model, f));
    reference.push(Object.fromEntries(fp32.outputs.map((o) => [o.name, out[o.name]!.data as Float32Array])));
  }
  await ref.release();
  const ops = new Map(fp32.nodes.map((n) => [n.name, n.op]));
  const layers = quantizableNodes(fp32).filter((l) => !skip.includes(l));
  const result: Array<{ layer: string; op: string; error: number }> = [];
  for (const layer of layers) {
    result.push({
      layer,
      op: ops.get(layer) ?? '',
      error: await headError(writeQdq(fp32, scales, new Set([layer])), frames, reference, model),
    });
    if (result.length % 20 === 0) log(`sensitivity: ${result.length}/${layers.length} layers`);
  }
  return result.sort((a, b) => b.error - a.error);
}

/**
 * Empirical bias correction (after Nagel et al., "Data-Free Quantization", §4.2, with calibration
 * data): INT8 rounding and clipping shift the mean of each INT8 conv's output channels. For each
 * such conv the shift it adds itself is measured in the INT8 network: its output against an FP32
 * shadow conv fed the same float input; the mean shift per channel over the calibration frames
 * comes out of the conv's bias. Repeated `rounds` times, since each correction moves what the
 * layers after it see. Returns a copy of `fp32` with corrected biases (for writeQdq) and the mean
 * |shift| per round (the last one after the final correction).
 */
export async function correctBiases(
  fp32: OnnxGraph,
  scales: Map<string, number>,
  int8: Set<string>,
  frames: Float32Array[],
  rounds = 2,
  log = (_: string) => {},
  model: ModelSpec = NANODET_MODEL,
): Promise<{ graph: OnnxGraph; meanShift: number[] }> {
  const g = fp32.clone();
  const convs = g.nodes
    .filter((n) => n.op === 'Conv' && int8.has(n.name))
    .map((n) => {
      const channels = g.initializers.get(n.inputs[1]!)!.shape[0]!;
      if (!n.inputs[2])
        n.inputs[2] = g.addFloat(g.uniqueName(`${n.name}_bias`), {
          dtype: 'float32',
          shape: [channels],
          data: new Float32Array(channels),
        });
      return { node: n, out: n.outputs[0]!, ref: `${n.outputs[0]!}_fp32_shadow`, channels };
    });
  const meanShift: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const q = writeQdq(g, scales, int8);
    for (const c of convs) {
      const [x, w, b] = c.node.inputs as [string, string, string];
      // The shadow has the FP32 weights and the original (uncorrected) bias.
      const w0 = g.initializers.get(w)!;
      const b0 = fp32.initializers.get(b) ?? { shape: [c.channels], data: new Float32Array(c.channels) };
      const sw = q.addFloat(q.uniqueName('shadow_w'), {
        dtype: 'float32',
        shape: w0.shape,
        data: Float32Array.from(w0.data),
      });
      const sb = q.addFloat(q.uniqueName('shadow_b'), {
        dtype: 'float32',
        shape: b0.shape,
        data: Float32Array.from(b0.data),
      });
      q.addNode('Conv', [x, sw, sb], [c.ref], c.node.attrs);
      q.outputs.push({ name: c.out }, { name: c.ref });
    }
    const session = await sessionOf(q);
    const shift = convs.map((c) => new Float64Array(c.channels));
    for (const f of frames) {
      const out = await session.run(
        feed(model, f),
        convs.flatMap((c) => [c.out, c.ref]),
      );
      convs.forEach((c, i) => {
        const y = out[c.out]!.data as Float32Array;
        const y0 = out[c.ref]!.data as Float32Array;
        const hw = y.length / c.channels;
        for (let ch = 0; ch < c.channels; ch++) {
          let d = 0;
          for (let k = ch * hw; k < (ch + 1) * hw; k++) d += y[k]! - y0[k]!;
          shift[i]![ch]! += d / hw / frames.length;
        }
      });
    }
    await session.release();
    const mean =
      convs.reduce((s, c, i) => s + shift[i]!.reduce((a, v) => a + Math.abs(v), 0) / c.channels, 0) /
      Math.max(1, convs.length);
    meanShift.push(mean);
    log(`bias correction round ${r}: mean |channel shift| ${mean.toExponential(3)}`);
    if (r === rounds) break;
    convs.forEach((c, i) => {
      const b = g.initializers.get(c.node.inputs[2]!)!;
      g.initializers.set(b.name, { ...b, data: Float32Array.from(b.data, (v, ch) => v - shift[i]![ch]!) });
    });
  }
  return { graph: g, meanShift };
}

/** 'auto': layers at least twice the median sensitivity, at most `maxShare` of them, stay FP32. */
export function autoKeep(ranked: Array<{ layer: string; error: number }>, maxShare = 0.1): string[] {
  const errors = ranked.map((r) => r.error).sort((a, b) => a - b);
  const median = errors[Math.floor(errors.length / 2)] ?? 0;
  return ranked
    .filter((r) => r.error >= 2 * median)
    .slice(0, Math.ceil(ranked.length * maxShare))
    .map((r) => r.layer);
}

/** FP32 graph + calibration frames (model inputs) → QDQ graph and its report. */
export async function calibrate(
  fp32: OnnxGraph,
  frames: Float32Array[],
  opts: CalibrationOptions,
  stats?: Map<string, ActivationStats>,
): Promise<{ graph: OnnxGraph; report: CalibrationReport }> {
  const log = opts.onProgress ?? (() => {});
  const model = opts.model ?? NANODET_MODEL;
  if (frames.length === 0) throw new Error('Calibration needs at least one frame');
  const s = stats ?? (await collectStats(fp32, frames, log, model));
  const ranges = chooseRanges(s, opts.method, opts.percentile, model);
  const scales = new Map(ranges.map((r) => [r.tensor, r.scale]));
  const layers = quantizableNodes(fp32);
  const fixed = opts.fp32Layers ?? [];
  const unknownFixed = fixed.filter((c) => !layers.includes(c));
  if (unknownFixed.length) throw new Error(`Unknown layer(s) to keep in FP32: ${unknownFixed.join(', ')}`);
  let ranked: Array<{ layer: string; op: string; error: number }> | null = null;
  let keep: string[] = [];
  if (opts.keepFp32 === 'auto') {
    ranked = await sensitivity(fp32, scales, frames.slice(0, opts.sensitivityFrames ?? 12), log, model, fixed);
    keep = autoKeep(ranked, opts.keepFp32Max);
  } else if (Array.isArray(opts.keepFp32)) {
    const unknown = opts.keepFp32.filter((c) => !layers.includes(c));
    if (unknown.length)
      throw new Error(`Unknown layer(s) for --keep-fp32: ${unknown.join(', ')} (layers are named like ${layers[0]})`);
    keep = opts.keepFp32;
  }
  keep = [...fixed.filter((c) => !keep.includes(c)), ...keep];
  const int8 = new Set(layers.filter((c) => !keep.includes(c)));
  let source = fp32;
  let biasCorrection: CalibrationReport['biasCorrection'] = null;
  if (opts.biasCorrection) {
    const bcFrames = frames.slice(0, 48);
    const bc = await correctBiases(fp32, scales, int8, bcFrames, 2, log, model);
    source = bc.graph;
    biasCorrection = { frames: bcFrames.length, meanShift: bc.meanShift.map((v) => Number(v.toPrecision(4))) };
  }
  const graph = writeQdq(source, scales, int8);
  return {
    graph,
    report: {
      method: opts.method,
      percentile: opts.method === 'percentile' ? (opts.percentile ?? 99.999) : null,
      frames: frames.length,
      tensors: ranges,
      weights: 'per-output-channel symmetric int8 (max |w| / 127)',
      sensitivity: ranked,
      keptFp32: keep,
      biasCorrection,
      int8Layers: int8.size,
      totalLayers: layers.length,
    },
  };
}
