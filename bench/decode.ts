// npm run bench:decode — native decode vs the ffmpeg CLI, same files, same run.
// Vigil: N native cameras decoding the clip as fast as possible (file source, no pacing),
// frames into the pool and events to JS. Peer: N concurrent `ffmpeg -benchmark -f null`.
// BENCH_DECODER=nvdec: NVDEC on both sides (Vigil's frames stay in GPU memory; the peer runs
// `-hwaccel cuda -hwaccel_output_format cuda`). BENCH_CLIPS=a.mp4,b.mp4: other clips than the
// vtest fixtures (e.g. shared/device/clips-1080p.sh's). BENCH_FFMPEG: the peer binary.
import { spawn, execFileSync } from 'node:child_process';

import { ensureClip } from '../src/cli/demoClips.js';
import { loadAddon } from '../src/native/addon.js';
import type { CameraEvent } from '../src/native/types.js';
import { writeResult, type BenchRow } from './record.js';

const DECODER = (process.env.BENCH_DECODER ?? 'software') as 'software' | 'nvdec';
const FFMPEG = process.env.BENCH_FFMPEG ?? 'ffmpeg';
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const STREAMS = (process.env.BENCH_STREAMS ?? '1,4').split(',').map(Number);

/** Frames per clip, counted by the warm-up run. */
const framesOf = new Map<string, number>();

async function vigilRun(file: string, n: number): Promise<number> {
  const { Camera } = loadAddon();
  const t0 = performance.now();
  let decoded = 0;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const cam = new Camera({ url: file, realtime: false, decoder: DECODER }, (ev: CameraEvent) => {
            if (ev.type === 'opened' && DECODER === 'nvdec' && !/NVDEC/.test(ev.decoder))
              reject(new Error(`not NVDEC: ${ev.decoder}`));
            if (ev.type !== 'ended') return;
            decoded += cam.stats().framesDecoded;
            cam.close();
            if (ev.reason === 'eos') resolve();
            else reject(new Error(`decode ended with ${ev.reason}: ${ev.message}`));
          });
          cam.open();
        }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (!framesOf.has(file)) framesOf.set(file, decoded / n);
  const frames = framesOf.get(file)!;
  if (decoded !== n * frames) throw new Error(`Vigil decoded ${decoded} frames, expected ${n * frames}`);
  return decoded / seconds;
}

async function peerRun(file: string, n: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const hw = DECODER === 'nvdec' ? ['-hwaccel', 'cuda', '-hwaccel_output_format', 'cuda'] : [];
          const p = spawn(
            FFMPEG,
            ['-hide_banner', '-nostats', '-benchmark', ...hw, '-i', file, '-an', '-f', 'null', '-'],
            { stdio: 'ignore' },
          );
          p.once('error', reject);
          p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
        }),
    ),
  );
  return (n * framesOf.get(file)!) / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const clips: Record<string, string> = process.env.BENCH_CLIPS
  ? Object.fromEntries(
      process.env.BENCH_CLIPS.split(',').map((f) => [
        f
          .split('/')
          .pop()!
          .replace(/\.\w+$/, ''),
        f,
      ]),
    )
  : { h264: await ensureClip('h264'), hevc: await ensureClip('hevc') };
const rows: BenchRow[] = [];
for (const [codec, file] of Object.entries(clips)) {
  for (const n of STREAMS) {
    const v: number[] = [];
    const p: number[] = [];
    await vigilRun(file, 1); // warm caches
    for (let i = 0; i < REPEATS; i++) {
      // interleaved, so drift hits both alike
      v.push(await vigilRun(file, n));
      p.push(await peerRun(file, n));
    }
    const vigil = Math.round(median(v) * 10) / 10;
    const peer = Math.round(median(p) * 10) / 10;
    const row = {
      case: `${codec}${DECODER === 'nvdec' ? ' nvdec' : ''} n=${n}`,
      vigil,
      peer,
      unit: 'fps (aggregate decoded frames/s)',
      ratio: Math.round((vigil / peer) * 1000) / 1000,
      samples: { vigil: v.map(Math.round), peer: p.map(Math.round) },
    };
    rows.push(row);
    console.log(
      `${row.case.padEnd(10)} vigil ${vigil.toFixed(1)} fps   ffmpeg ${peer.toFixed(1)} fps   ratio ${row.ratio}`,
    );
  }
}
const ffmpegVersion = execFileSync(FFMPEG, ['-version'], { encoding: 'utf8' }).split('\n')[0];
const ratios = rows.map((r) => r.ratio as number);
const file = writeResult({
  bench: DECODER === 'nvdec' ? 'decode-nvdec' : 'decode',
  setup: `${process.env.BENCH_CLIPS ? `clips ${Object.keys(clips).join(', ')} (${[...framesOf.values()].join('/')} frames)` : 'vtest.avi transcoded to H.264 (x264 veryfast, GOP 20, no B-frames) and HEVC (x265 veryfast), 768x576, 795 frames'}; N file sources decoded concurrently as fast as possible, ${DECODER === 'nvdec' ? 'NVDEC through libavcodec (frames stay in GPU memory, referenced by the frame pool)' : 'libavcodec software decode with its default thread count'}; median of ${REPEATS} interleaved runs`,
  peer: `${ffmpegVersion} CLI: N concurrent \`ffmpeg -benchmark ${DECODER === 'nvdec' ? '-hwaccel cuda -hwaccel_output_format cuda ' : ''}-i clip -an -f null -\`, same files, same run`,
  rows,
  summary: { ratio: Math.min(...ratios), ratio_by_case: Object.fromEntries(rows.map((r) => [r.case, r.ratio])) },
});
console.log(`wrote ${file}`);
