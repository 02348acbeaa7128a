// The GPU checks of test/gpu/ run where vitest is not (the lent GPU box): NVDEC decode of
// H.264/HEVC, and the CUDA letterbox of NVDEC frames against the CPU letterbox of the same
// frames; writes bench/results/gpucheck-<machine>-<date>.json with the figures.
import { ensureClip } from '../src/cli/demoClips.js';
import { loadAddon } from '../src/native/addon.js';
import { compareLetterbox, comparePostprocess, decodeFile, gpuHere, readHeads } from '../test/gpu/checks.js';
import { writeResult, type BenchRow } from './record.js';

const here = gpuHere();
if (!here.ok) throw new Error(`No GPU path here: ${here.reason}`);
const rows: BenchRow[] = [];
// GPU_CHECK_ONLY=post: only the post-processing check. GPU_CHECK_HEADS=file: its input
// (bench/gpuHeads.ts makes it). GPU_CHECK_DECODE=a,b: the files to decode (default: the vtest
// H.264 and HEVC fixtures).
const only = process.env.GPU_CHECK_ONLY;
const decodeFiles = only === 'post' ? [] : (process.env.GPU_CHECK_DECODE?.split(',') ?? [await ensureClip('h264'), await ensureClip('hevc')]);
for (const file of decodeFiles) {
  const codec = file.split('/').pop()!;
  const sw = await decodeFile(file, 'software');
  const hw = await decodeFile(file, 'nvdec');
  console.log(codec, JSON.stringify({ sw, hw }));
  rows.push({ case: `${codec}: NVDEC vs software decode`, vigil: hw.frames, peer: sw.frames, unit: 'frames decoded', decoder: hw.decoder, ended: hw.ended, gpuFrames: hw.gpuFrames, hostCopies: hw.hostCopies });
}
if (process.env.GPU_CHECK_HEADS) {
  const heads = readHeads(process.env.GPU_CHECK_HEADS);
  for (const threshold of [0.4, 0.05]) {
    const r = comparePostprocess(heads, threshold);
    console.log('postprocess', JSON.stringify(r));
    rows.push({ case: `NanoDet decode + NMS, CUDA vs CPU, score > ${threshold}`, vigil: r.gpuDetections, peer: r.cpuDetections, unit: 'detections (same raw head outputs)', ...r });
  }
}
const letterboxClips = only === 'post' ? [] : (process.env.GPU_CHECK_CLIPS ?? '').split(',').filter(Boolean).concat([await ensureClip('h264')]);
for (const clip of letterboxClips) {
  const r = await compareLetterbox(clip);
  console.log('letterbox', JSON.stringify(r));
  rows.push({ case: `letterbox ${clip.split('/').pop()}: CUDA (NVDEC frame) vs CPU (software frame)`, vigil: r.meanAbsPx, unit: 'mean |difference| in 0..255 pixel units', ...r });
}
const file = writeResult({
  bench: 'gpucheck',
  setup: `addon ${JSON.stringify(loadAddon().buildInfo())}`,
  peer: 'software decode + swscale letterbox of the same frames (same seq of the same file), same run',
  rows,
  summary: { letterboxMeanAbsPx: rows.filter((r) => r.case.startsWith('letterbox')).map((r) => r.vigil), postprocessMismatches: rows.filter((r) => r.case.startsWith('NanoDet')).map((r) => r.mismatches) },
});
console.log(`wrote ${file}`);
