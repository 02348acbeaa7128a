// The GPU checks of test/gpu/ run where vitest is not (the lent GPU box): NVDEC decode of
// H.264/HEVC, and the CUDA letterbox of NVDEC frames against the CPU letterbox of the same
// frames; writes bench/results/gpucheck-<machine>-<date>.json with the figures.
import { ensureClip } from '../src/cli/demoClips.js';
import { loadAddon } from '../src/native/addon.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  compareLetterbox,
  comparePaint,
  compareUploadedSlot,
  comparePostprocess,
  decodeFile,
  gpuEncode,
  gpuHere,
  readHeads,
  snapshotBySeq,
} from '../test/gpu/checks.js';
import { writeResult, type BenchRow } from './record.js';

const here = gpuHere();
if (!here.ok) throw new Error(`No GPU path here: ${here.reason}`);
const rows: BenchRow[] = [];
// GPU_CHECK_ONLY=a,b: only these parts (decode, post, letterbox, upload, paint, snapshot). GPU_CHECK_HEADS=file: its input
// (bench/gpuHeads.ts makes it). GPU_CHECK_DECODE=a,b: the files to decode (default: the vtest
// H.264 and HEVC fixtures).
const only = process.env.GPU_CHECK_ONLY;
const want = (part: string) => !only || only.split(',').includes(part);
const decodeFiles = !want('decode')
  ? []
  : (process.env.GPU_CHECK_DECODE?.split(',') ?? [await ensureClip('h264'), await ensureClip('hevc')]);
for (const file of decodeFiles) {
  const codec = file.split('/').pop()!;
  const sw = await decodeFile(file, 'software');
  const hw = await decodeFile(file, 'nvdec');
  console.log(codec, JSON.stringify({ sw, hw }));
  rows.push({
    case: `${codec}: NVDEC vs software decode`,
    vigil: hw.frames,
    peer: sw.frames,
    unit: 'frames decoded',
    decoder: hw.decoder,
    ended: hw.ended,
    gpuFrames: hw.gpuFrames,
    hostCopies: hw.hostCopies,
  });
}
if (process.env.GPU_CHECK_HEADS && want('post')) {
  const heads = readHeads(process.env.GPU_CHECK_HEADS);
  for (const threshold of [0.4, 0.05]) {
    const r = comparePostprocess(heads, threshold);
    console.log('postprocess', JSON.stringify(r));
    rows.push({
      case: `NanoDet decode + NMS, CUDA vs CPU, score > ${threshold}`,
      vigil: r.gpuDetections,
      peer: r.cpuDetections,
      unit: 'detections (same raw head outputs)',
      ...r,
    });
  }
}
const letterboxClips = !want('letterbox')
  ? []
  : (process.env.GPU_CHECK_CLIPS ?? '')
      .split(',')
      .filter(Boolean)
      .concat([await ensureClip('h264')]);
for (const clip of letterboxClips) {
  for (const into of ['host', 'device-batch'] as const) {
    const r = await compareLetterbox(clip, 30, 60_000, into);
    console.log('letterbox', JSON.stringify(r));
    rows.push({
      case: `letterbox ${clip.split('/').pop()} into ${into === 'host' ? 'a host tensor' : 'a GPU input batch slot'}: CUDA (NVDEC frame) vs CPU (software frame)`,
      vigil: r.meanAbsPx,
      unit: 'mean |difference| in 0..255 pixel units',
      ...r,
    });
  }
}
if (want('upload')) {
  const u = await compareUploadedSlot(await ensureClip('h264'));
  console.log('upload', JSON.stringify(u));
  rows.push({
    case: 'software-decoded frame letterboxed into a GPU input batch slot (uploaded) vs into a host tensor',
    vigil: u.differingFloats,
    unit: 'differing floats',
    ...u,
  });
}
// The CUDA box painter against the CPU one, and the encoders that take NVDEC frames. The
// encoded streams go to GPU_CHECK_OUT (if set), to be decoded and looked at on another machine.
if (want('paint')) {
  const clip = await ensureClip('h264');
  const p = await comparePaint(clip);
  console.log('paint', JSON.stringify(p));
  rows.push({
    case: 'box painter: CUDA on NV12 (NVDEC frame) vs CPU on YUV420P, same frames and boxes',
    vigil: p.mismatched,
    unit: 'differing bytes',
    ...p,
  });
  const e = await gpuEncode(clip, await ensureClip('hevc'));
  const out = process.env.GPU_CHECK_OUT;
  for (const [name, part] of [
    ['annotate', e.annotate],
    ['transcode', e.transcode],
  ] as const) {
    const { mp4, ...figures } = part;
    if (out && mp4) writeFileSync(join(out, `${name}-gpu.mp4`), mp4);
    console.log(name, JSON.stringify(figures));
    rows.push({
      case: `${name} of NVDEC frames: encoder and host copies`,
      vigil: figures.hostCopies,
      unit: 'frames copied to the host',
      ...figures,
      mp4Bytes: mp4?.length ?? 0,
    });
  }
}
// An event snapshot of an NVDEC frame by seq (JPEGs to GPU_CHECK_OUT, compared elsewhere with ffmpeg).
if (want('snapshot')) {
  const { jpegs, ...snap } = await snapshotBySeq(await ensureClip('h264'));
  const out = process.env.GPU_CHECK_OUT;
  if (out && jpegs.gpu && jpegs.cpu) {
    writeFileSync(join(out, 'snapshot-nvdec.jpg'), jpegs.gpu);
    writeFileSync(join(out, 'snapshot-software.jpg'), jpegs.cpu);
  }
  console.log('snapshot', JSON.stringify(snap));
  rows.push({
    case: 'event snapshot by seq of an NVDEC frame (camera.snapshot(q, seq)) vs the same seq decoded in software',
    vigil: snap.gpu?.seq,
    peer: snap.cpu?.seq,
    unit: 'frame seq snapshotted',
    ...snap,
  });
}
const file = writeResult({
  bench: 'gpucheck',
  setup: `addon ${JSON.stringify(loadAddon().buildInfo())}`,
  peer: 'software decode + swscale letterbox of the same frames (same seq of the same file), same run',
  rows,
  summary: {
    letterboxMeanAbsPx: rows.filter((r) => r.case.startsWith('letterbox')).map((r) => r.vigil),
    postprocessMismatches: rows.filter((r) => r.case.startsWith('NanoDet')).map((r) => r.mismatches),
  },
});
console.log(`wrote ${file}`);
