// npm run bench:decode — native software decode vs the ffmpeg CLI, same files, same run.
// Vigil: N native cameras decoding the clip as fast as possible (file source, no pacing),
// frames into the pool and events to JS. Peer: N concurrent `ffmpeg -benchmark -f null`.
import { spawn, execFileSync } from 'node:child_process';

import { ensureClip } from '../src/cli/demoClips.js';
import { loadAddon } from '../src/native/addon.js';
import type { CameraEvent } from '../src/native/types.js';
import { writeResult, type BenchRow } from './record.js';

const FRAMES = 795;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const STREAMS = (process.env.BENCH_STREAMS ?? '1,4').split(',').map(Number);

async function vigilRun(file: string, n: number): Promise<number> {
  const { Camera } = loadAddon();
  const t0 = performance.now();
  let decoded = 0;
  await Promise.all(
    Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
      const cam = new Camera({ url: file, realtime: false }, (ev: CameraEvent) => {
        if (ev.type !== 'ended') return;
        decoded += cam.stats().framesDecoded;
        cam.close();
        if (ev.reason === 'eos') resolve();
        else reject(new Error(`decode ended with ${ev.reason}: ${ev.message}`));
      });
      cam.open();
    })),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (decoded !== n * FRAMES) throw new Error(`Vigil decoded ${decoded} frames, expected ${n * FRAMES}`);
  return decoded / seconds;
}

async function peerRun(file: string, n: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
      const p = spawn('ffmpeg', ['-hide_banner', '-nostats', '-benchmark', '-i', file, '-an', '-f', 'null', '-'], { stdio: 'ignore' });
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
    })),
  );
  return (n * FRAMES) / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const clips = { h264: await ensureClip('h264'), hevc: await ensureClip('hevc') };
const rows: BenchRow[] = [];
for (const [codec, file] of Object.entries(clips)) {
  for (const n of STREAMS) {
    const v: number[] = [];
    const p: number[] = [];
    await vigilRun(file, 1);  // warm caches
    for (let i = 0; i < REPEATS; i++) {  // interleaved, so drift hits both alike
      v.push(await vigilRun(file, n));
      p.push(await peerRun(file, n));
    }
    const vigil = Math.round(median(v) * 10) / 10;
    const peer = Math.round(median(p) * 10) / 10;
    const row = { case: `${codec} n=${n}`, vigil, peer, unit: 'fps (aggregate decoded frames/s)', ratio: Math.round((vigil / peer) * 1000) / 1000, samples: { vigil: v.map(Math.round), peer: p.map(Math.round) } };
    rows.push(row);
    console.log(`${row.case.padEnd(10)} vigil ${vigil.toFixed(1)} fps   ffmpeg ${peer.toFixed(1)} fps   ratio ${row.ratio}`);
  }
}
const ffmpegVersion = execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
const ratios = rows.map((r) => r.ratio as number);
const file = writeResult({
  bench: 'decode',
  setup: `vtest.avi transcoded to H.264 (x264 veryfast, GOP 20, no B-frames) and HEVC (x265 veryfast), 768x576, 795 frames; N file sources decoded concurrently as fast as possible, libavcodec software decode with its default thread count; median of ${REPEATS} interleaved runs`,
  peer: `${ffmpegVersion} CLI: N concurrent \`ffmpeg -benchmark -i clip -an -f null -\`, same files, same run`,
  rows,
  summary: { ratio: Math.min(...ratios), ratio_by_case: Object.fromEntries(rows.map((r) => [r.case, r.ratio])) },
});
console.log(`wrote ${file}`);
