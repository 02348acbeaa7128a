// bench:infer — NanoDet inference on the GPU with Vigil's CUDA INT8 engine at batch 1, 8, 32 and
// 64: latency (each run enqueued and waited for, as the detector does) and throughput, engine
// alone and with the GPU decode + NMS (the `cuda` detector), against two peers measured in the
// same device session by bench/peers/infer_peers.py: ONNX Runtime CPU INT8 (the same QDQ ONNX,
// all cores) and the same network with the same weights in PyTorch FP16 (cuDNN, channels_last).
// Input: real vtest frames from .cache/int8check (bench/int8Prepare.ts). PEERS_JSON: the
// peers' results file. Writes bench/results/infer-<machine>-<date>.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { cudaProgram, GpuDetector } from '../src/detect/GpuDetector.js';
import type { Letterbox } from '../src/detect/letterbox.js';
import { int8OnnxPath } from '../src/model/importModel.js';
import { loadChecks } from '../src/native/addon.js';
import { CHECK_DIR, loadCheckFrames } from './checkFrames.js';
import { percentile, writeResult, type BenchRow } from './record.js';

const BATCHES = (process.env.INFER_BATCHES ?? '1,8,32,64').split(',').map(Number);
const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model');
const { batchOf } = loadCheckFrames();
const meta = JSON.parse(readFileSync(join(CHECK_DIR, 'ort.json'), 'utf8')) as { letterbox: Letterbox };
const checks = loadChecks();
const maxBatch = Math.max(...BATCHES);
const det = await GpuDetector.loadCuda(model, { maxBatch, scoreThreshold: 0.4 });
const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean };
};

interface Measured {
  batch: number;
  engine: { p50: number; p99: number; mean: number; gpuP50: number; perSecond: number };
  detector: { p50: number; p99: number; perSecond: number };
}
const measured: Measured[] = [];
for (const batch of BATCHES) {
  const input = batchOf(batch);
  await checks.int8EngineRun(det.engine, { input, batch, iterations: 20, graphs: true }); // graph capture + warm-up
  const iterations = batch >= 32 ? 200 : 500;
  const r = await checks.int8EngineRun(det.engine, { batch, iterations, graphs: true });
  const wall = stats([...r.wallMs]);
  const gpu = stats([...r.gpuMs]);
  // The detector as the daemon calls it: upload, engine, decode + NMS per frame, records back.
  const boxes = Array.from({ length: batch }, () => meta.letterbox);
  for (let i = 0; i < 5; i++) await det.detectBatch(input, boxes);
  const dms: number[] = [];
  const detIterations = batch >= 32 ? 50 : 200;
  for (let i = 0; i < detIterations; i++) {
    const t0 = performance.now();
    await det.detectBatch(input, boxes);
    dms.push(performance.now() - t0);
  }
  const d = stats(dms);
  const m: Measured = {
    batch,
    engine: { p50: wall.p50, p99: wall.p99, mean: wall.mean, gpuP50: gpu.p50, perSecond: (batch * 1000) / wall.mean },
    detector: { p50: d.p50, p99: d.p99, perSecond: (batch * 1000) / d.mean },
  };
  measured.push(m);
  process.stdout.write(
    `batch ${batch}: engine p50 ${wall.p50.toFixed(3)} ms (GPU ${gpu.p50.toFixed(3)}), p99 ${wall.p99.toFixed(3)} ms, ${m.engine.perSecond.toFixed(0)} inferences/s; detector (upload + engine + NMS) p50 ${d.p50.toFixed(2)} ms, ${m.detector.perSecond.toFixed(0)}/s\n`,
  );
}

// Where the time goes: each op launched alone and timed on the GPU (no graph), at batch 1, 8 and 32.
const program = cudaProgram(model);
const KIND = ['quantize input', 'conv int8', 'conv float', 'maxpool', 'unary', 'add', 'resize', 'pad', 'stem'];
const profiles: Record<string, Array<{ op: number; kind: string; output: string; ms: number }>> = {};
for (const batch of [1, 8, 32].filter((b) => b <= maxBatch)) {
  const r = await checks.int8EngineRun(det.engine, {
    input: batchOf(batch),
    batch,
    iterations: 20,
    graphs: false,
    profile: true,
  });
  const ops = [...r.opMs].map((ms, i) => ({
    op: i,
    kind: KIND[program.ops[i]!.kind]!,
    output: program.buffers[program.ops[i]!.out.buffer]!.name,
    ms: Number(ms.toFixed(4)),
  }));
  profiles[`batch${batch}`] = ops;
  const byKind = new Map<string, number>();
  for (const o of ops) byKind.set(o.kind, (byKind.get(o.kind) ?? 0) + o.ms);
  process.stdout.write(
    `profile batch ${batch}: total ${ops.reduce((a, o) => a + o.ms, 0).toFixed(3)} ms; ${[...byKind].map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}\n`,
  );
  for (const o of [...ops].sort((a, b) => b.ms - a.ms).slice(0, 8))
    process.stdout.write(`  ${o.ms.toFixed(3)} ms  #${o.op} ${o.kind} → ${o.output}\n`);
}

type PeerRow = { batch: number; p50: number; p99: number; perSecond: number };
const peersFile = process.env.PEERS_JSON;
const peers =
  peersFile && existsSync(peersFile)
    ? (JSON.parse(readFileSync(peersFile, 'utf8')) as {
        ort?: { threads: number; version: string; rows: PeerRow[] };
        torch?: { version: string; cudnn: number; rows: PeerRow[]; graphRows?: PeerRow[] };
        errors?: string[];
      })
    : null;
const peerAt = (rows: PeerRow[] | undefined, batch: number) => rows?.find((r) => r.batch === batch);
const rows: BenchRow[] = [];
for (const m of measured) {
  const t = peerAt(peers?.torch?.rows, m.batch);
  const tg = peerAt(peers?.torch?.graphRows, m.batch);
  const o = peerAt(peers?.ort?.rows, m.batch);
  rows.push({
    case: `batch ${m.batch}: latency p50, engine (vs PyTorch FP16 eager)`,
    vigil: m.engine.p50,
    ...(t ? { peer: t.p50, ratio: t.p50 / m.engine.p50 } : {}),
    unit: 'ms',
    p99: m.engine.p99,
    gpuP50: m.engine.gpuP50,
    peerP99: t?.p99,
  });
  rows.push({
    case: `batch ${m.batch}: throughput, engine (vs PyTorch FP16 eager)`,
    vigil: m.engine.perSecond,
    ...(t ? { peer: t.perSecond, ratio: m.engine.perSecond / t.perSecond } : {}),
    unit: 'inferences/s',
  });
  if (tg)
    rows.push({
      case: `batch ${m.batch}: throughput, engine (vs PyTorch FP16 in a CUDA graph)`,
      vigil: m.engine.perSecond,
      peer: tg.perSecond,
      ratio: m.engine.perSecond / tg.perSecond,
      unit: 'inferences/s',
      peerP50: tg.p50,
    });
  if (o)
    rows.push({
      case: `batch ${m.batch}: throughput, engine (vs ONNX Runtime CPU INT8, ${peers?.ort?.threads} threads)`,
      vigil: m.engine.perSecond,
      peer: o.perSecond,
      ratio: m.engine.perSecond / o.perSecond,
      unit: 'inferences/s',
      peerP50: o.p50,
    });
  rows.push({
    case: `batch ${m.batch}: the cuda detector (upload + engine + GPU decode/NMS), throughput`,
    vigil: m.detector.perSecond,
    unit: 'frames/s',
    p50: m.detector.p50,
    p99: m.detector.p99,
  });
}
const file = writeResult({
  bench: 'infer',
  setup: `NanoDet 416×416 (2.09 GMAC) on real vtest frames. Vigil: ${det.cacheKey}, each batch size one CUDA graph; latency = enqueue to done on the host, one run at a time. Peers in the same device session (bench/peers/infer_peers.py): ONNX Runtime ${peers?.ort?.version ?? '?'} CPU on the QDQ INT8 ONNX (${peers?.ort?.threads ?? '?'} threads); PyTorch ${peers?.torch?.version ?? '?'} FP16, cuDNN ${peers?.torch?.cudnn ?? '?'} (benchmark mode), channels_last, the FP32 ONNX's weights, eager and in a CUDA graph`,
  peer: 'PyTorch FP16 cuDNN channels_last (GPU); ONNX Runtime CPU INT8',
  rows,
  summary: { batch1_ms: measured.find((m) => m.batch === 1)?.engine.p50 ?? null, measured, peers, profiles },
});
process.stdout.write(`wrote ${file}\n`);
