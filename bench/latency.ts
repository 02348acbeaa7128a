// npm run bench:latency — N cameras (1, 2, 4, 8; BENCH_CAMERAS) of real footage (vtest.avi as
// H.264 768x576 10 fps) through the real RTSP server on loopback into the daemon (in this
// process) with detection on: packet-to-detection (first packet of a frame received → its
// detections emitted) and packet-to-WebSocket-send (→ the batch handed to a viewer's socket)
// p50/p95/p99, and throughput. The lower bound in the same run: the ffmpeg CLI's decode-only
// time per frame for the same clip (one thread).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import WebSocket from 'ws';

import { ensureClip } from '../src/cli/demoClips.js';
import { validateConfig } from '../src/config/loadConfig.js';
import { Daemon } from '../src/daemon/Daemon.js';
import { createLogger } from '../src/util/logger.js';
import { RtspServer } from '../test/helpers/rtspServer.js';
import { monoNowUs } from '../src/util/LatencyWindow.js';
import { percentile, writeResult, type BenchRow } from './record.js';

const COUNTS = (process.env.BENCH_CAMERAS ?? '1,2,4,8').split(',').map(Number);
// Each N with low-latency decode, and N=1 once more with frame-threaded decode for contrast.
const CASES: Array<{ n: number; mode: 'low_latency' | 'throughput' }> = [
  ...COUNTS.map((n) => ({ n, mode: 'low_latency' as const })),
  ...(COUNTS.includes(1) ? [{ n: 1, mode: 'throughput' as const }] : []),
];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_S = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) =>
  xs.length
    ? Math.round(
        percentile(
          [...xs].sort((a, b) => a - b),
          p,
        ) * 10,
      ) / 10
    : null;

const loops = Math.ceil((CASES.length * (SECONDS + WARMUP_S + 15)) / 79.5) + 1;
const clip = await ensureClip('h264', { loops });
// Lower bound: decoding alone, one thread, as fast as it goes.
const frames = 795 * loops;
const t0 = performance.now();
execFileSync('ffmpeg', ['-v', 'error', '-threads', '1', '-i', clip, '-f', 'null', '-'], { stdio: 'ignore' });
const decodeOnlyMs = Math.round(((performance.now() - t0) / frames) * 1000) / 1000;
console.log(`ffmpeg CLI decode only: ${decodeOnlyMs} ms per frame`);

const server = await RtspServer.start({ h264: { file: clip, codec: 'h264' } });
const rows: BenchRow[] = [];
try {
  for (const { n, mode } of CASES) {
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        data_dir: mkdtempSync(join(tmpdir(), 'vigil-latency-')),
        auth: { admin_password: 'vigil-bench-admin' },
        detect: { enabled: true, precision: 'int8' },
        cameras: Array.from({ length: n }, (_, i) => ({
          id: `cam${i + 1}`,
          url: server.url('h264'),
          decode_mode: mode,
        })),
      },
      'bench',
    );
    const daemon = new Daemon(config, createLogger('silent'));
    const url = await daemon.start();
    const login = await fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: 'vigil-bench-admin' }),
    });
    const { token } = (await login.json()) as { token: string };
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/live`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', version: 1 }));
    for (let i = 0; i < n; i++) ws.send(JSON.stringify({ type: 'subscribe', camera: `cam${i + 1}`, video: false }));
    const toDetection: number[] = [];
    let measuring = false;
    daemon.on('detections', (ev) => {
      if (measuring) toDetection.push((monoNowUs() - ev.stamps.recvUs) / 1000);
    });
    for (let i = 0; i < 60 && ![...daemon.cameras.values()].every((c) => c.state === 'streaming'); i++)
      await sleep(500);
    await sleep(WARMUP_S * 1000);
    const start = [...daemon.cameras.values()].map((c) => c.health().frames.decoded);
    measuring = true;
    const live0 = daemon.live!.stats().detectionSendLatencyMs.n;
    await sleep(SECONDS * 1000);
    measuring = false;
    const decoded = [...daemon.cameras.values()].reduce((a, c, i) => a + c.health().frames.decoded - start[i]!, 0);
    const send = daemon.live!.stats().detectionSendLatencyMs;
    const dropped = [...daemon.cameras.keys()].reduce((a, id) => a + (daemon.detection?.stats(id)?.dropped ?? 0), 0);
    const row: BenchRow = {
      case: mode === 'low_latency' ? `N=${n}` : `N=${n}, decode_mode throughput (frame threads)`,
      unit: 'ms',
      packet_to_detection: {
        p50: pct(toDetection, 50),
        p95: pct(toDetection, 95),
        p99: pct(toDetection, 99),
        n: toDetection.length,
      },
      packet_to_ws_send: {
        ...send,
        note: `the newest ${Math.min(send.n, 16384)} sends (${send.n - live0} in the measured window)`,
      },
      detections_per_s: Math.round((toDetection.length / SECONDS) * 10) / 10,
      decoded_fps_total: Math.round((decoded / SECONDS) * 10) / 10,
      frames_skipped_by_detector: dropped,
      ffmpeg_decode_only_ms_per_frame: decodeOnlyMs,
    };
    console.log(
      `${row.case}: packet→detection p50 ${pct(toDetection, 50)} / p95 ${pct(toDetection, 95)} / p99 ${pct(toDetection, 99)} ms; packet→send p99 ${send.p99} ms; ${row.detections_per_s} detections/s of ${row.decoded_fps_total} decoded fps`,
    );
    rows.push(row);
    ws.terminate();
    await daemon.close();
  }
} finally {
  await server.stop();
}
const one = rows.find((r) => r.case === 'N=1') as
  { packet_to_detection: { p50: number; p95: number; p99: number } } | undefined;
const file = writeResult({
  bench: 'latency',
  setup: `daemon in-process (vigil's Daemon), N RTSP cameras (vtest.avi H.264 768x576 10 fps, gst-rtsp-server on 127.0.0.1, TCP), low-latency decode (slice threads; one N=1 row with frame threads for contrast), detection on (NanoDet INT8, ONNX Runtime CPU, one detector for all cameras, newest frame wins), one WebSocket viewer subscribed to every camera's detections; ${WARMUP_S} s warm-up, ${SECONDS} s measured per N`,
  peer: `ffmpeg CLI decode-only time per frame, one thread, same clip, same run (a lower bound: ${decodeOnlyMs} ms)`,
  rows,
  summary: one
    ? { p50_ms: one.packet_to_detection.p50, p95_ms: one.packet_to_detection.p95, p99_ms: one.packet_to_detection.p99 }
    : {},
});
console.log(`wrote ${file}`);
