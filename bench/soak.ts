// npm run bench:soak — the daemon (`vigil run`, a child process) with 4 RTSP cameras from a
// real gst-rtsp-server on loopback for SOAK_MINUTES (default 5): RSS at start and end.
import { ensureClip } from '../src/cli/demoClips.js';
import type { CameraHealth } from '../src/pipeline/CameraSupervisor.js';
import { RtspServer } from '../test/helpers/rtspServer.js';
import { startDaemonProcess } from './daemonProcess.js';
import { writeResult } from './record.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 5);
const WARMUP_S = 20;
const SAMPLE_S = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Clips long enough that no camera reaches the end of its file during the run.
const loops = Math.ceil((MINUTES * 60 + WARMUP_S + 30) / 79.5);
const h264 = await ensureClip('h264', { loops });
const hevc = await ensureClip('hevc', { loops });
const server = await RtspServer.start({ h264: { file: h264, codec: 'h264' }, hevc: { file: hevc, codec: 'hevc' } });
const cams = ['h264', 'h264', 'hevc', 'hevc'].map((m, i) => `  - id: cam${i + 1}-${m}\n    url: ${server.url(m)}\n`);
// The media path alone (decode, pool, events, HTTP): the detector has its own bench.
const daemon = await startDaemonProcess(
  `log:\n  level: warn\ndetect:\n  enabled: false\ncameras:\n${cams.join('')}`,
  'soak',
);
const health = async () => (await daemon.api<{ cameras: CameraHealth[] }>('/api/health')).cameras;

try {
  for (let i = 0; ; i++) {
    await sleep(500);
    const h = await health().catch(() => null);
    if (h && h.every((c) => c.state === 'streaming')) break;
    if (i > 60) throw new Error('cameras did not all start streaming within 30 s');
  }
  console.log(`4 cameras streaming; warming up ${WARMUP_S} s, then ${MINUTES} min`);
  await sleep(WARMUP_S * 1000);
  const samples: Array<{ t_s: number; rss_mb: number; fps: number[]; states: string[] }> = [];
  const t0 = performance.now();
  const startFrames = (await health()).map((c) => c.frames.decoded);
  for (;;) {
    const t = (performance.now() - t0) / 1000;
    const h = await health();
    samples.push({
      t_s: Math.round(t),
      rss_mb: daemon.rssMb(),
      fps: h.map((c) => c.fps.decoded),
      states: h.map((c) => c.state),
    });
    console.log(`t=${Math.round(t)}s rss=${samples.at(-1)!.rss_mb} MB fps=${samples.at(-1)!.fps.join('/')}`);
    if (t >= MINUTES * 60) break;
    await sleep(SAMPLE_S * 1000);
  }
  const end = await health();
  const start = samples[0]!.rss_mb;
  const last = samples.at(-1)!.rss_mb;
  const growth = Math.round(((last - start) / start) * 1000) / 10;
  const elapsed = (performance.now() - t0) / 1000;
  const decoded = end.map((c, i) => c.frames.decoded - (startFrames[i] ?? 0));
  const file = writeResult({
    bench: 'soak',
    setup: `vigil run (child process) with 4 RTSP cameras (2 H.264 + 2 HEVC, vtest.avi 768x576 10 fps looped ${loops}x into one clip) from gst-rtsp-server on 127.0.0.1, TCP; RSS from /proc after all cameras streamed and a ${WARMUP_S} s warm-up, sampled every ${SAMPLE_S} s`,
    peer: 'none: a stability run (RSS at start against RSS at end)',
    rows: [
      { case: 'rss start', vigil: start, unit: 'MB' },
      { case: 'rss end', vigil: last, unit: 'MB' },
      { case: 'rss max', vigil: Math.max(...samples.map((s) => s.rss_mb)), unit: 'MB' },
      ...end.map((c, i) => ({
        case: `${c.id} decoded fps`,
        vigil: Math.round((decoded[i]! / elapsed) * 10) / 10,
        unit: 'fps',
        drops: c.drops.total,
        reconnects: c.reconnects,
        decode_errors: c.decodeErrors,
        final_state: c.state,
      })),
    ],
    samples,
    summary: { rss_growth_pct: growth, minutes: Math.round((elapsed / 60) * 10) / 10, cameras: 4 },
  });
  console.log(`RSS ${start} MB -> ${last} MB (${growth}%) over ${(elapsed / 60).toFixed(1)} min; wrote ${file}`);
} finally {
  await daemon.stop();
  await server.stop();
}
