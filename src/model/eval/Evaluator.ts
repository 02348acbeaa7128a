import { decodeHead } from '../../detect/decodeHead.js';
import type { Detection } from '../../detect/Detection.js';
import { letterboxGeometry } from '../../detect/letterbox.js';
import type { FrameOutputs, ModelSpec } from '../../detect/ModelSpec.js';
import { NANODET_MODEL } from '../../detect/nanodet/nanodetSpec.js';
import { OrtDetector } from '../../detect/OrtDetector.js';
import { meanAp, type FramePair } from './meanAp.js';

export interface EvalOptions {
  /** Deployment threshold: reference boxes and the per-frame counts use it. Default 0.4. */
  scoreThreshold?: number;
  /** Candidate boxes down to this score build the precision/recall curve. Default 0.05. */
  curveThreshold?: number;
  threads?: number;
  /** What the models are (all of one model's precisions); default the shipped NanoDet. */
  model?: ModelSpec;
}

export interface ModelEval {
  model: string;
  precision: 'fp32' | 'int8';
  map50: number;
  map50_95: number;
  detectionsPerFrame: number;
  latencyMs: { p50: number; p99: number; n: number };
  perClass: Array<{
    label: string;
    ap50: number;
    ap50_95: number;
    fp32Count: number;
    count: number;
    countDelta: number;
  }>;
}

export interface EvalReport {
  frames: number;
  reference: { model: string; detectionsPerFrame: number; latencyMs: { p50: number; p99: number; n: number } };
  models: ModelEval[];
}

function decode(spec: ModelSpec, out: FrameOutputs, threshold: number): Detection[] {
  const s = spec.input.size;
  return decodeHead(spec, out, letterboxGeometry(s, s, s), {
    scoreThreshold: threshold,
    iouThreshold: 0.6,
    maxDetections: 100,
  });
}

async function runModel(spec: ModelSpec, path: string, frames: Float32Array[], threads: number, curve: number) {
  const det = await OrtDetector.load(path, { threads, model: spec });
  await det.infer(frames[0]!); // warm-up
  const times: number[] = [];
  const dets: Detection[][] = [];
  for (const f of frames) {
    const t0 = performance.now();
    const out = await det.infer(f);
    times.push(performance.now() - t0);
    dets.push(decode(spec, out, curve));
  }
  await det.release();
  times.sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]! * 100) / 100;
  return { precision: det.precision, dets, latencyMs: { p50: pct(50), p99: pct(99), n: times.length } };
}

/**
 * INT8 models against the FP32 model on the same frames: mAP@0.5 and @0.5:0.95 of each INT8
 * model with the FP32 detections as the reference, per-class AP and count deltas, detections
 * per frame, and each model's latency (ONNX Runtime CPU, this machine, same run).
 */
export async function evaluate(
  fp32Path: string,
  int8Paths: string[],
  frames: Float32Array[],
  opts: EvalOptions = {},
  log = (_: string) => {},
): Promise<EvalReport> {
  const thr = opts.scoreThreshold ?? 0.4;
  const curve = opts.curveThreshold ?? 0.05;
  const threads = opts.threads ?? 0;
  const spec = opts.model ?? NANODET_MODEL;
  log(`FP32 reference on ${frames.length} frames`);
  const ref = await runModel(spec, fp32Path, frames, threads, thr);
  const perFrame = (d: Detection[][], t: number) =>
    d.reduce((n, f) => n + f.filter((x) => x.score >= t).length, 0) / d.length;
  const models: ModelEval[] = [];
  for (const path of int8Paths) {
    log(`evaluating ${path}`);
    const cand = await runModel(spec, path, frames, threads, curve);
    const pairs: FramePair[] = ref.dets.map((reference, i) => ({ reference, candidate: cand.dets[i]! }));
    const m = meanAp(pairs, thr);
    models.push({
      model: path,
      precision: cand.precision,
      map50: Math.round(m.map50 * 10000) / 10000,
      map50_95: Math.round(m.map50_95 * 10000) / 10000,
      detectionsPerFrame: Math.round(perFrame(cand.dets, thr) * 100) / 100,
      latencyMs: cand.latencyMs,
      perClass: m.perClass.map((c) => ({
        label: spec.classes[c.classId] ?? String(c.classId),
        ap50: Math.round(c.ap50 * 1000) / 1000,
        ap50_95: Math.round(c.ap50_95 * 1000) / 1000,
        fp32Count: c.reference,
        count: c.candidate,
        countDelta: c.candidate - c.reference,
      })),
    });
  }
  return {
    frames: frames.length,
    reference: {
      model: fp32Path,
      detectionsPerFrame: Math.round(perFrame(ref.dets, thr) * 100) / 100,
      latencyMs: ref.latencyMs,
    },
    models,
  };
}
