// npm run bench:batch — what cross-camera batching buys on this machine's detector backend:
// 1. the model alone: ms per frame at batch 1, 2, 4, 8 (FP32 and INT8, the same real frames,
//    interleaved, one run); batch 1 is the peer.
// 2. the daemon with 4 real-time cameras: batch 1 against batch 4 (detected frames/s, packet →
//    detections latency, batch sizes and waits).
import { VTEST_AVI, ensureClip } from '../src/cli/demoClips.js';
import { validateConfig } from '../src/config/loadConfig.js';
import { Daemon } from '../src/daemon/Daemon.js';
import { modelInputs } from '../src/model/eval/modelFrames.js';
import { fp32OnnxPath, int8OnnxPath } from '../src/model/importModel.js';
import { OrtDetector } from '../src/detect/OrtDetector.js';
import { createLogger } from '../src/util/logger.js';
import { percentile, writeResult, type BenchRow } from './record.js';

const SIZES = [1, 2, 4, 8];
const ROUNDS = 6;
const int8Path = int8OnnxPath();
if (!int8Path) throw new Error('No INT8 model: run `vigil calibrate` (scripts/setup.sh does)');
const frames = await modelInputs({ kind: 'video', path: VTEST_AVI, from: 395, every: 5, count: 8 });
const per = frames[0]!.length;
const batch = new Float32Array(8 * per);
frames.forEach((f, i) => batch.set(f, i * per));
const box = { scale: 1, padX: 0, padY: 0, srcWidth: 416, srcHeight: 416, size: 416 };
const round2 = (x: number) => Math.round(x * 100) / 100;
const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: round2(percentile(s, 50)),
    p95: round2(percentile(s, 95)),
    p99: round2(percentile(s, 99)),
    n: s.length,
  };
};

const model: Record<string, Record<number, number[]>> = {};
for (const [name, path] of [
  ['fp32', fp32OnnxPath()],
  ['int8', int8Path],
] as const) {
  const d = await OrtDetector.load(path);
  const times: Record<number, number[]> = {};
  for (const n of SIZES) await d.detectBatch(batch, Array(n).fill(box)); // warm-up of each shape
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of SIZES) {
      const t0 = performance.now();
      await d.detectBatch(batch.subarray(0, n * per), Array(n).fill(box));
      (times[n] ??= []).push((performance.now() - t0) / n);
    }
  }
  await d.release();
  model[name] = times;
}
const modelRows: BenchRow[] = [];
for (const name of ['fp32', 'int8']) {
  const b1 = stat(model[name]![1]!).p50;
  for (const n of SIZES) {
    const s = stat(model[name]![n]!);
    modelRows.push({
      case: `${name} batch ${n}`,
      vigil: s.p50,
      peer: b1,
      unit: 'ms per frame, p50 (batch n vs batch 1)',
      ratio: round2(b1 / s.p50),
      batchMs: round2(s.p50 * n),
      rounds: ROUNDS,
    });
    console.log(`${name} batch ${n}: ${s.p50} ms/frame (batch 1: ${b1})`);
  }
}

/** The daemon with 4 real-time cameras (10 fps each) for `seconds`, batches up to `maxSize`. */
async function pipeline(maxSize: number, seconds: number) {
  const h264 = await ensureClip('h264');
  const hevc = await ensureClip('hevc');
  const cfg = validateConfig({
    server: { port: 0 },
    log: { level: 'silent' },
    detect: { enabled: true, precision: 'int8', batch: { max_size: maxSize, timeout_ms: 50 } },
    cameras: [0, 1, 2, 3].map((i) => ({ id: `cam${i}`, url: i % 2 ? hevc : h264, loop: true, realtime: true })),
  });
  const d = new Daemon(cfg, createLogger('silent'));
  await d.start();
  await new Promise((r) => setTimeout(r, 4000)); // warm-up
  const latency: number[] = [];
  const sizes: number[] = [];
  const waits: number[] = [];
  d.on('detections', (ev) => latency.push((ev.stamps.postprocessedUs - ev.stamps.recvUs) / 1000));
  d.detection!.on('batch', (b) => {
    sizes.push(b.cameras.length);
    waits.push(b.waitMs);
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const dropped = [...d.cameras.keys()].reduce((n, id) => n + (d.detection?.stats(id)?.dropped ?? 0), 0);
  await d.close();
  return {
    frames_per_s: round2(latency.length / seconds),
    packet_to_detection_ms: stat(latency),
    mean_batch: round2(sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length)),
    batch_wait_ms: stat(waits),
    dropped,
  };
}
const e2e = { b1: await pipeline(1, 20), b4: await pipeline(4, 20) };
console.log(JSON.stringify(e2e));
const rows: BenchRow[] = [
  ...modelRows,
  {
    case: '4 cameras at 10 fps, INT8: detected frames/s',
    vigil: e2e.b4.frames_per_s,
    peer: e2e.b1.frames_per_s,
    unit: 'frames/s (batch ≤ 4 vs batch 1)',
    ratio: round2(e2e.b4.frames_per_s / e2e.b1.frames_per_s),
    batch4: e2e.b4,
    batch1: e2e.b1,
  },
  {
    case: '4 cameras at 10 fps, INT8: packet → detections p50',
    vigil: e2e.b4.packet_to_detection_ms.p50,
    peer: e2e.b1.packet_to_detection_ms.p50,
    unit: 'ms (batch ≤ 4 vs batch 1)',
    ratio: round2(e2e.b1.packet_to_detection_ms.p50 / e2e.b4.packet_to_detection_ms.p50),
  },
];
const file = writeResult({
  bench: 'batch',
  setup:
    'NanoDet-m 416 on ONNX Runtime CPU (all cores), imported with a run-time batch dimension. Model: detectBatch (inference + decode + NMS) of n real vtest frames, ms per frame, p50 over rounds, sizes interleaved. Pipeline: the daemon with 4 looping real-time cameras (2 H.264, 2 HEVC vtest clips), detect.batch.max_size 1 vs 4 (timeout 50 ms), 20 s each after 4 s warm-up',
  peer: 'batch 1 (the same backend, frames and run)',
  rows,
  summary: {
    fp32_ms_per_frame: Object.fromEntries(SIZES.map((n) => [n, stat(model.fp32![n]!).p50])),
    int8_ms_per_frame: Object.fromEntries(SIZES.map((n) => [n, stat(model.int8![n]!).p50])),
    pipeline_batch1: e2e.b1,
    pipeline_batch4: e2e.b4,
  },
});
console.log(`wrote ${file}`);
