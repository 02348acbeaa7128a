// Writes .cache/int8check/, what the INT8 engine's GPU check and bench:infer need on a box
// without ONNX Runtime for Node or FFmpeg (the lent GPU box):
// - frames.f32: INT8_CHECK_FRAMES real vtest frames, letterboxed [N, 3, 416, 416] float32;
// - ort.json + ort-codes.bin: ONNX Runtime CPU on the same QDQ ONNX, for the first ORT_FRAMES
//   frames: every int8 tensor of the plan (codes, [C, H, W]) and the six head outputs, and for
//   all frames the CPU backend's detections (OrtDetector: the reference the engine must match);
// - nanodet-int8-ort.onnx: that model as ONNX Runtime CPU loads it (the peer's input);
// - nanodet-fp32.plan.json + .bin: the FP32 network's steps and weights, from which the PyTorch
//   peer (bench/peers/infer_peers.py) rebuilds the same network on the GPU.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import ort from 'onnxruntime-node';

import { VTEST_AVI } from '../src/cli/demoClips.js';
import { modelInputs } from '../src/model/eval/modelFrames.js';
import { planInt8, type PlanStep } from '../src/model/int8/plan.js';
import { letterboxGeometry } from '../src/detect/letterbox.js';
import { fp32OnnxPath, int8OnnxPath } from '../src/model/importModel.js';
import { NANODET_MODEL } from '../src/detect/nanodet/nanodetSpec.js';
import { readOnnx } from '../src/model/onnx/readOnnx.js';
import { OrtDetector } from '../src/detect/OrtDetector.js';
import { lowerQdqForOrtCpu } from '../src/model/quant/ortLowering.js';
import { packageRoot } from '../src/native/addon.js';

const S = NANODET_MODEL.input.size;
const count = Number(process.env.INT8_CHECK_FRAMES ?? 16);
const ortFrames = Math.min(count, Number(process.env.ORT_FRAMES ?? 4));
const dir = join(packageRoot(), '.cache', 'int8check');
mkdirSync(dir, { recursive: true });
const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model: `npm run setup` calibrates it');
const bytes = new Uint8Array(readFileSync(model));
const g = readOnnx(bytes);
const plan = planInt8(g);

const frames = await modelInputs({ kind: 'video', path: VTEST_AVI, from: 30, every: 45, count });
const all = new Float32Array(count * 3 * S * S);
frames.forEach((f, i) => all.set(f, i * 3 * S * S));
writeFileSync(join(dir, 'frames.f32'), all);

// ONNX Runtime's value of every int8 tensor: the DequantizeLinear reading it as a graph output.
const probes: Array<{ tensor: string; output: string; shape: number[]; scale: number }> = [];
for (const t of plan.tensors.values()) {
  if (t.dtype !== 'int8' || t.name === plan.input) continue;
  const dq = g.nodes.find((n) => n.op === 'DequantizeLinear' && n.inputs[0] === t.name);
  if (dq) probes.push({ tensor: t.name, output: dq.outputs[0]!, shape: t.shape, scale: t.scale! });
}
const probed = g.clone();
for (const p of probes) probed.outputs.push({ name: p.output });
const enc = probed.encode();
const ortModel = lowerQdqForOrtCpu(bytes) ?? bytes;
writeFileSync(join(dir, 'nanodet-int8-ort.onnx'), ortModel);
const session = await ort.InferenceSession.create(lowerQdqForOrtCpu(enc) ?? enc, { graphOptimizationLevel: 'all' });
const chunks: Uint8Array[] = [];
let at = 0;
const index: Array<{
  frame: number;
  tensor: string;
  offset: number;
  length: number;
  kind: 'int8' | 'float32';
  shape: number[];
}> = [];
for (let i = 0; i < ortFrames; i++) {
  const r = await session.run({ [plan.input]: new ort.Tensor('float32', frames[i]!, [1, 3, S, S]) });
  for (const p of probes) {
    const v = r[p.output]!.data as Float32Array;
    const q = Int8Array.from(v, (x) => Math.round(x / p.scale));
    chunks.push(new Uint8Array(q.buffer));
    index.push({ frame: i, tensor: p.tensor, offset: at, length: q.length, kind: 'int8', shape: p.shape });
    at += q.length;
  }
  for (const name of plan.outputs) {
    const v = r[name]!.data as Float32Array;
    chunks.push(new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
    index.push({
      frame: i,
      tensor: name,
      offset: at,
      length: v.length,
      kind: 'float32',
      shape: plan.tensors.get(name)!.shape,
    });
    at += v.byteLength;
  }
}
const blob = new Uint8Array(at);
let off = 0;
for (const c of chunks) {
  blob.set(c, off);
  off += c.length;
}
writeFileSync(join(dir, 'ort-codes.bin'), blob);

// The CPU backend's detections (the daemon's `cpu` detector on the INT8 model): the reference.
const lb = letterboxGeometry(768, 576, S);
const det = await OrtDetector.load(model, { scoreThreshold: 0.4 });
const detections = [];
for (const f of frames) detections.push(await det.detect(f, lb));
await det.release();
writeFileSync(
  join(dir, 'ort.json'),
  `${JSON.stringify({ model, frames: count, ortFrames, letterbox: lb, scoreThreshold: 0.4, index, detections })}\n`,
);

// The FP32 network for the PyTorch peer: its steps (all float) and weights, in one binary.
const fp = planInt8(readOnnx(readFileSync(fp32OnnxPath())));
const weights: Float32Array[] = [];
let wAt = 0;
const steps = fp.steps.map((s: PlanStep) => {
  if (s.op !== 'conv') return s;
  const w = s.weight as Float32Array;
  const b = (s.bias as Float32Array | null) ?? new Float32Array(s.outChannels);
  weights.push(w, b);
  const out = {
    ...s,
    weight: { offset: wAt, length: w.length },
    bias: { offset: wAt + w.length, length: b.length },
    weightScales: null,
  };
  wAt += w.length + b.length;
  return out;
});
const wAll = new Float32Array(wAt);
let wo = 0;
for (const w of weights) {
  wAll.set(w, wo);
  wo += w.length;
}
writeFileSync(
  join(dir, 'nanodet-fp32.plan.json'),
  `${JSON.stringify({ input: fp.input, outputs: fp.outputs, shapes: Object.fromEntries([...fp.tensors].map(([k, t]) => [k, t.shape])), steps })}\n`,
);
writeFileSync(join(dir, 'nanodet-fp32.plan.bin'), wAll);
console.log(
  `wrote ${dir}: ${count} frames, ONNX Runtime's ${probes.length} int8 tensors and outputs for ${ortFrames}, ${detections.flat().length} CPU detections, FP32 plan ${fp.steps.length} steps`,
);
