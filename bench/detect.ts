// npm run bench:detect — FP32 vs INT8 per-frame detector latency (ONNX Runtime CPU, same
// frames, interleaved, one run), then end-to-end detections/s through the real pipeline.
import { VTEST_AVI, ensureClip } from '../src/cli/demoClips.js';
import { validateConfig } from '../src/config/loadConfig.js';
import { Daemon } from '../src/daemon/Daemon.js';
import { modelInputs } from '../src/model/eval/modelFrames.js';
import { fp32OnnxPath, int8OnnxPath } from '../src/model/importModel.js';
import { OrtDetector } from '../src/detect/OrtDetector.js';
import { createLogger } from '../src/util/logger.js';
import { percentile, writeResult, type BenchRow } from './record.js';

const int8Path = int8OnnxPath();
if (!int8Path) throw new Error('No INT8 model: run `vigil calibrate` (scripts/setup.sh does)');
const frames = await modelInputs({ kind: 'video', path: VTEST_AVI, from: 395, every: 4, count: 100 });
const fp32 = await OrtDetector.load(fp32OnnxPath());
const int8 = await OrtDetector.load(int8Path);
for (let i = 0; i < 5; i++) await Promise.all([fp32.infer(frames[i]!), int8.infer(frames[i]!)]);
const t = { fp32: [] as number[], int8: [] as number[] };
const box = { scale: 1, padX: 0, padY: 0, srcWidth: 416, srcHeight: 416, size: 416 };
for (const f of frames) {
  for (const [k, d] of [
    ['fp32', fp32],
    ['int8', int8],
  ] as const) {
    const t0 = performance.now();
    await d.detect(f, box); // inference + head decode + NMS: what the pipeline pays per frame
    t[k].push(performance.now() - t0);
  }
}
await fp32.release();
await int8.release();
const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: Math.round(percentile(s, 50) * 100) / 100,
    p95: Math.round(percentile(s, 95) * 100) / 100,
    p99: Math.round(percentile(s, 99) * 100) / 100,
    n: s.length,
  };
};
const lat = { fp32: stat(t.fp32), int8: stat(t.int8) };
console.log(
  `per frame: FP32 p50 ${lat.fp32.p50} ms p99 ${lat.fp32.p99} ms | INT8 p50 ${lat.int8.p50} ms p99 ${lat.int8.p99} ms`,
);

/** The daemon with two cameras: detections/s and objects/s over `seconds`. */
async function pipeline(precision: 'fp32' | 'int8', realtime: boolean, seconds: number) {
  const h264 = await ensureClip('h264');
  const hevc = await ensureClip('hevc');
  const cfg = validateConfig({
    server: { port: 0 },
    log: { level: 'silent' },
    detect: { enabled: true, precision },
    cameras: [
      { id: 'h264', url: h264, loop: true, realtime },
      { id: 'hevc', url: hevc, loop: true, realtime },
    ],
  });
  const d = new Daemon(cfg, createLogger('silent'));
  await d.start();
  let events = 0;
  let objects = 0;
  const latency: number[] = [];
  await new Promise((r) => setTimeout(r, 3000)); // warm-up
  d.on('detections', (ev) => {
    events++;
    objects += ev.detections.length;
    latency.push((ev.stamps.postprocessedUs - ev.stamps.recvUs) / 1000);
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const dropped = [...d.cameras.keys()].reduce((n, id) => n + (d.detection?.stats(id)?.dropped ?? 0), 0);
  await d.close();
  return {
    frames_per_s: Math.round((events / seconds) * 10) / 10,
    objects_per_s: Math.round((objects / seconds) * 10) / 10,
    packet_to_detection_ms: stat(latency),
    dropped,
  };
}
const e2e = {
  demo_int8: await pipeline('int8', true, 20),
  saturated_fp32: await pipeline('fp32', false, 15),
  saturated_int8: await pipeline('int8', false, 15),
};
console.log(JSON.stringify(e2e));
const rows: BenchRow[] = [
  {
    case: 'latency p50',
    vigil: lat.int8.p50,
    peer: lat.fp32.p50,
    unit: 'ms per frame (INT8 vs FP32)',
    ratio: Math.round((lat.fp32.p50 / lat.int8.p50) * 100) / 100,
    int8: lat.int8,
    fp32: lat.fp32,
  },
  {
    case: 'latency p99',
    vigil: lat.int8.p99,
    peer: lat.fp32.p99,
    unit: 'ms per frame (INT8 vs FP32)',
    ratio: Math.round((lat.fp32.p99 / lat.int8.p99) * 100) / 100,
  },
  {
    case: 'demo (2 cameras, 10 fps each, INT8)',
    vigil: e2e.demo_int8.frames_per_s,
    unit: 'detected frames/s',
    objects_per_s: e2e.demo_int8.objects_per_s,
    packet_to_detection_ms: e2e.demo_int8.packet_to_detection_ms,
    dropped: e2e.demo_int8.dropped,
  },
  {
    case: 'saturated pipeline (2 file cameras unpaced)',
    vigil: e2e.saturated_int8.frames_per_s,
    peer: e2e.saturated_fp32.frames_per_s,
    unit: 'detected frames/s (INT8 vs FP32)',
    ratio: Math.round((e2e.saturated_int8.frames_per_s / e2e.saturated_fp32.frames_per_s) * 100) / 100,
    int8: e2e.saturated_int8,
    fp32: e2e.saturated_fp32,
  },
];
const file = writeResult({
  bench: 'detect',
  setup:
    'NanoDet-m 416 on ONNX Runtime CPU (all cores); per-frame latency = inference + head decode + NMS on 100 held-out vtest frames, FP32 and INT8 interleaved; end-to-end = the daemon with the H.264 and HEVC vtest clips as cameras (native letterbox → ORT → decode)',
  peer: 'FP32 model, same backend, same frames, same run',
  rows,
  summary: {
    ratio: rows[0]!.ratio,
    fp32_p50_ms: lat.fp32.p50,
    int8_p50_ms: lat.int8.p50,
    detections_per_s: e2e.demo_int8.frames_per_s,
    objects_per_s: e2e.demo_int8.objects_per_s,
  },
});
console.log(`wrote ${file}`);
