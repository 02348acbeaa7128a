// GPU checks shared by test/gpu/*.test.ts (vitest, on a box with a GPU and Node) and
// bench/gpuCheck.ts (the same checks run on the lent GPU box, which has Node but no vitest).
import { readFileSync, writeFileSync } from 'node:fs';

import type { Letterbox } from '../../src/detect/letterbox.js';
import { decodeNanodet, type HeadLevel } from '../../src/detect/nanodet/NanodetHead.js';
import { NANODET_MODEL } from '../../src/detect/nanodet/nanodetSpec.js';
import { decodeDetectionRecords, encodeDetectionRecords } from '../../src/protocol/binary.js';
import { loadAddon, loadChecks } from '../../src/native/addon.js';
import type {
  AnnotatedFragment,
  CameraEvent,
  CameraCounters,
  LetterboxResult,
  VideoEvent,
} from '../../src/native/types.js';

/** Whether NVDEC can run here, and why not. */
export function gpuHere(): { ok: boolean; reason: string | null } {
  const b = loadAddon().buildInfo();
  if (!b.decoders.nvdec) return { ok: false, reason: 'this FFmpeg has no NVDEC' };
  if (b.cuda.devices === 0) return { ok: false, reason: b.cuda.reason ?? 'no CUDA device' };
  return { ok: true, reason: null };
}

/** Decodes a whole file as fast as it goes with `decoder`; what it used and counted. */
export async function decodeFile(file: string, decoder: 'auto' | 'nvdec' | 'software') {
  const { Camera } = loadAddon();
  const events: CameraEvent[] = [];
  const cam = new Camera({ url: file, realtime: false, decoder, queueSize: 4096 }, (ev) => events.push(ev));
  cam.open();
  const t0 = performance.now();
  while (!events.some((e) => e.type === 'ended') && performance.now() - t0 < 120_000)
    await new Promise((r) => setTimeout(r, 20));
  const stats = cam.stats();
  cam.close();
  const opened = events.find((e) => e.type === 'opened');
  const ended = events.find((e) => e.type === 'ended');
  return {
    decoder: opened?.type === 'opened' ? opened.decoder : null,
    ended: ended?.type === 'ended' ? `${ended.reason}${ended.message ? `: ${ended.message}` : ''}` : null,
    frames: events.filter((e) => e.type === 'frame').length,
    gpuFrames: stats.gpuFrames,
    hostCopies: stats.hostCopies,
  };
}

/**
 * The same frames letterboxed by the GPU path (NVDEC surface → CUDA kernel) and by the CPU
 * path (software decode → swscale): two cameras play the same file in real time, and each
 * frame both have (same seq = same picture) goes through both. Differences in 0..255 pixel
 * units (the model input divided back by its scale).
 */
export async function compareLetterbox(
  file: string,
  pairs = 30,
  timeoutMs = 60_000,
  into: 'host' | 'device-batch' = 'host',
) {
  const addon = loadAddon();
  const { Camera } = addon;
  // device-batch: the GPU camera writes its slot of a GPU input batch (as for a GPU backend),
  // read back here only to compare.
  const batch = into === 'device-batch' ? addon.createDeviceBatch(4, NANODET_MODEL.input.size) : null;
  const size = NANODET_MODEL.input.size;
  const norm = NANODET_MODEL.input.normalize;
  const newest = { gpu: 0, cpu: 0 };
  // CUDA's first use in a process takes a while (context, NVDEC, the letterbox's stream):
  // done once up front, so that the two cameras below start close together.
  const warm = new Camera({ url: file, decoder: 'nvdec' }, () => {});
  warm.open();
  const w0 = performance.now();
  while (!(await warm.letterbox(new Float32Array(3 * size * size), size, norm)) && performance.now() - w0 < 30_000)
    await new Promise((r) => setTimeout(r, 10));
  warm.close();
  // The CPU camera starts first with a deep pool (64 frames, 2 s at 30 fps); the GPU camera
  // follows, and each frame it has is still in the CPU's pool.
  const cpu = new Camera({ url: file, loop: true, realtime: true, poolSlots: 64, decoder: 'software' }, (ev) => {
    if (ev.type === 'frame') newest.cpu = ev.seq;
  });
  let gpuEnded: string | null = null;
  const gpu = new Camera({ url: file, loop: true, realtime: true, decoder: 'nvdec' }, (ev) => {
    if (ev.type === 'frame') newest.gpu = ev.seq;
    if (ev.type === 'ended') gpuEnded = `${ev.reason}: ${ev.message}`;
  });
  cpu.open();
  while (newest.cpu === 0) await new Promise((r) => setTimeout(r, 2));
  gpu.open();
  const a = new Float32Array(3 * size * size);
  const b = new Float32Array(3 * size * size);
  let matched = 0;
  let maxAbs = 0;
  let sumAbs = 0;
  let over1 = 0;
  let n = 0;
  let seq = 5;
  const t0 = performance.now();
  try {
    while (matched < pairs && performance.now() - t0 < timeoutMs) {
      if (newest.gpu < seq || newest.cpu < seq) {
        await new Promise((r) => setTimeout(r, 2));
        continue;
      }
      seq = newest.gpu; // the GPU camera's newest: still in both pools
      const slot = matched % 4;
      const [ra, rb] = (await Promise.all([
        gpu.letterbox(batch ? { batch, slot } : a, size, norm, seq, true),
        cpu.letterbox(b, size, norm, seq, true),
      ])) as [LetterboxResult | null, LetterboxResult | null];
      seq += 3;
      if (!ra || !rb) continue; // left one pool already
      if (batch) a.set(loadChecks().deviceBatchRead(batch, slot, 1));
      expectSameBox(ra, rb);
      matched++;
      const plane = size * size;
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]! - b[i]!) * norm.std[Math.floor(i / plane)]!;
        if (d > maxAbs) maxAbs = d;
        if (d > 1.5) over1++;
        sumAbs += d;
        n++;
      }
    }
    const gpuStats: CameraCounters = gpu.stats();
    // One snapshot of the GPU camera: the frame has to come down, and the count says so.
    const snap = await gpu.snapshot(80);
    const after = gpu.stats();
    return {
      file,
      into,
      pairs: matched,
      maxAbsPx: Math.round(maxAbs * 100) / 100,
      meanAbsPx: Math.round((sumAbs / Math.max(1, n)) * 1000) / 1000,
      shareOver1_5Px: Math.round((over1 / Math.max(1, n)) * 1e6) / 1e6,
      gpuDecoder: gpuStats.decoder,
      gpuEnded,
      gpuFrames: gpuStats.gpuFrames,
      hostCopiesWhileLetterboxing: gpuStats.hostCopies,
      snapshotBytes: snap?.jpeg.length ?? 0,
      hostCopiesAfterOneSnapshot: after.hostCopies,
    };
  } finally {
    gpu.close();
    cpu.close();
  }
}

function expectSameBox(a: LetterboxResult, b: LetterboxResult): void {
  if (a.scale !== b.scale || a.padX !== b.padX || a.padY !== b.padY || a.width !== b.width || a.height !== b.height) {
    throw new Error(`letterbox geometry differs: GPU ${JSON.stringify(a)} vs CPU ${JSON.stringify(b)}`);
  }
}

/** Head outputs of real frames with their letterbox: the input of the post-processing checks. */
export interface HeadFrame {
  levels: HeadLevel[];
  lb: Letterbox;
}

/** One file: a JSON line (per frame: strides, array lengths, letterbox), then the float32 data. */
export function writeHeads(path: string, frames: HeadFrame[]): void {
  const meta = frames.map((f) => ({
    lb: f.lb,
    levels: f.levels.map((l) => ({ stride: l.stride, cls: l.cls.length, reg: l.reg.length })),
  }));
  const arrays = frames.flatMap((f) => f.levels.flatMap((l) => [l.cls, l.reg]));
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from(`${JSON.stringify(meta)}\n`),
      ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)),
    ]),
  );
}

export function readHeads(path: string): HeadFrame[] {
  const buf = readFileSync(path);
  const nl = buf.indexOf(10);
  const meta = JSON.parse(buf.subarray(0, nl).toString()) as Array<{
    lb: Letterbox;
    levels: Array<{ stride: number; cls: number; reg: number }>;
  }>;
  let at = nl + 1;
  const take = (n: number) => {
    const a = new Float32Array(n);
    Buffer.from(a.buffer).set(buf.subarray(at, at + 4 * n));
    at += 4 * n;
    return a;
  };
  return meta.map((m) => ({
    lb: m.lb,
    levels: m.levels.map((l) => ({ stride: l.stride, cls: take(l.cls), reg: take(l.reg) })),
  }));
}

/**
 * The GPU post-processing (head decode + NMS in CUDA) against the CPU one (NanodetHead.ts) on
 * the same raw head outputs: the same boxes in the same order, classes and scores equal,
 * coordinates within float rounding.
 */
export function comparePostprocess(frames: HeadFrame[], scoreThreshold: number) {
  let cpuCount = 0;
  let gpuCount = 0;
  let mismatches = 0;
  let maxBoxDiff = 0;
  let maxCandidates = 0;
  for (const f of frames) {
    const o = {
      inputSize: NANODET_MODEL.input.size,
      numClasses: NANODET_MODEL.classes.length,
      regMax: NANODET_MODEL.head.regMax,
      scoreThreshold,
      iouThreshold: 0.6,
      maxDetections: 100,
    };
    const cpu = decodeNanodet(f.levels, f.lb, o);
    const r = loadChecks().nanodetPostGpu(f.levels, {
      ...o,
      scale: f.lb.scale,
      padX: f.lb.padX,
      padY: f.lb.padY,
      srcWidth: f.lb.srcWidth,
      srcHeight: f.lb.srcHeight,
    });
    const gpu = decodeDetectionRecords(r.records);
    cpuCount += cpu.length;
    gpuCount += gpu.length;
    maxCandidates = Math.max(maxCandidates, r.candidates);
    for (let i = 0; i < Math.max(cpu.length, gpu.length); i++) {
      const a = cpu[i];
      const b = gpu[i];
      if (!a || !b || a.classId !== b.classId || Math.fround(a.score) !== b.score) {
        mismatches++;
        continue;
      }
      maxBoxDiff = Math.max(
        maxBoxDiff,
        Math.abs(a.x1 - b.x1),
        Math.abs(a.y1 - b.y1),
        Math.abs(a.x2 - b.x2),
        Math.abs(a.y2 - b.y2),
      );
    }
  }
  return {
    scoreThreshold,
    frames: frames.length,
    cpuDetections: cpuCount,
    gpuDetections: gpuCount,
    mismatches,
    maxBoxDiffPx: maxBoxDiff,
    maxCandidates,
  };
}

/**
 * Boxes that exercise the painter: every class colour, overlaps of different classes (the
 * last one drawn wins), boxes cut by every edge, odd and fractional coordinates, a box thinner
 * than the line, an empty and a NaN one (nothing drawn), plus `random` seeded ones.
 */
export function paintBoxes(width: number, height: number, random = 40) {
  const boxes = [
    { x1: 100, y1: 100, x2: 300, y2: 400, score: 0.9, classId: 0 },
    { x1: 150.4, y1: 151.6, x2: 351, y2: 301, score: 0.8, classId: 1 },
    { x1: 149, y1: 150, x2: 249, y2: 250, score: 0.7, classId: 2 },
    { x1: -40, y1: -30, x2: 60, y2: 80, score: 0.6, classId: 3 },
    { x1: width - 51, y1: height - 61, x2: width + 40, y2: height + 30, score: 0.6, classId: 4 },
    { x1: 11, y1: 401, x2: 13, y2: 409, score: 0.5, classId: 5 },
    { x1: 500, y1: 300, x2: 500, y2: 340, score: 0.5, classId: 6 },
    { x1: Number.NaN, y1: 10, x2: 20, y2: 30, score: 0.5, classId: 7 },
  ];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < random; i++) {
    const x = rnd() * width * 1.1 - width * 0.05;
    const y = rnd() * height * 1.1 - height * 0.05;
    boxes.push({
      x1: x,
      y1: y,
      x2: x + rnd() * width * 0.4,
      y2: y + rnd() * height * 0.4,
      score: rnd(),
      classId: Math.floor(rnd() * 80),
    });
  }
  return encodeDetectionRecords(boxes);
}

/**
 * The CUDA box painter (NV12 in GPU memory) against the CPU painter (YUV420P) on the same
 * NVDEC frames: the same rectangles, so the pictures must be the same bytes.
 */
export async function comparePaint(file: string, frames = 20, timeoutMs = 60_000) {
  const { Camera } = loadAddon();
  let newest = 0;
  const size = { w: 0, h: 0 };
  const cam = new Camera({ url: file, loop: true, realtime: true, decoder: 'nvdec' }, (ev) => {
    if (ev.type !== 'frame') return;
    newest = ev.seq;
    size.w = ev.width;
    size.h = ev.height;
  });
  cam.open();
  const t0 = performance.now();
  const r = {
    file,
    frames: 0,
    bytes: 0,
    painted: 0,
    mismatched: 0,
    width: 0,
    height: 0,
    hostCopiesOfThePath: null as CameraCounters['hostCopies'] | null,
  };
  try {
    let last = 0;
    while (r.frames < frames && performance.now() - t0 < timeoutMs) {
      if (newest <= last) {
        await new Promise((res) => setTimeout(res, 5));
        continue;
      }
      last = newest;
      const c = await loadChecks().paintCheck(cam, last, paintBoxes(size.w, size.h, r.frames * 3));
      if (!c) continue;
      r.frames++;
      r.bytes += c.bytes;
      r.painted += c.painted;
      r.mismatched += c.mismatched;
      r.width = c.width;
      r.height = c.height;
    }
    r.hostCopiesOfThePath = cam.stats().hostCopies; // the checks' own copies are not the frame path's
    return r;
  } finally {
    cam.close();
  }
}

/**
 * The annotated stream and the live-view transcode of NVDEC frames: the encoder each chose
 * (NVENC from CUDA frames, else libx264 with the reason), what they produced, and how many
 * frames came down to the host for it. Returns the fMP4 bytes too, for checking elsewhere.
 */
export async function gpuEncode(h264File: string, hevcFile: string, frames = 20, timeoutMs = 60_000) {
  const { Camera } = loadAddon();
  let newest = 0;
  const cam = new Camera({ url: h264File, loop: true, realtime: true, decoder: 'nvdec' }, (ev) => {
    if (ev.type === 'frame') newest = ev.seq;
  });
  cam.open();
  const chunks: AnnotatedFragment[] = [];
  let annotateError: string | null = null;
  const t0 = performance.now();
  try {
    let last = 0;
    while (chunks.length < frames && !annotateError && performance.now() - t0 < timeoutMs) {
      if (newest <= last) {
        await new Promise((res) => setTimeout(res, 5));
        continue;
      }
      last = newest;
      try {
        const out = await cam.annotate(last, paintBoxes(768, 576, 0));
        if (out) chunks.push(out);
      } catch (err) {
        annotateError = (err as Error).message;
      }
    }
  } finally {
    cam.close();
  }
  const a = cam.stats();
  const video: VideoEvent[] = [];
  let opened = '';
  let ended = '';
  const tc = new Camera({ url: hevcFile, realtime: false, video: true, decoder: 'nvdec', queueSize: 4096 }, (ev) => {
    if (ev.type === 'video') video.push(ev);
    if (ev.type === 'opened') opened = ev.video ?? '';
    if (ev.type === 'ended') ended = `${ev.reason}${ev.message ? `: ${ev.message}` : ''}`;
  });
  tc.open();
  const t1 = performance.now();
  while (!ended && performance.now() - t1 < timeoutMs) await new Promise((res) => setTimeout(res, 20));
  const t = tc.stats();
  tc.close();
  return {
    annotate: {
      encoder: a.annotateEncoder,
      error: annotateError,
      fragments: chunks.length,
      gpuFrames: a.gpuFrames,
      hostCopies: a.hostCopies.annotate,
      mp4: chunks.length && chunks[0]!.init ? Buffer.concat([chunks[0]!.init, ...chunks.map((c) => c.data)]) : null,
    },
    transcode: {
      video: opened,
      encoder: t.encoder,
      ended,
      framesDecoded: t.framesDecoded,
      encoded: t.videoEncoded,
      fragments: video.length,
      gpuFrames: t.gpuFrames,
      hostCopies: t.hostCopies.encode,
      mp4: video.length && video[0]!.init ? Buffer.concat([video[0]!.init, ...video.map((v) => v.data)]) : null,
    },
  };
}

/**
 * A software-decoded camera's letterbox into a slot of a GPU input batch (the tensor is made on
 * the CPU, then uploaded) against the same frame into a host tensor: the same floats.
 */
export async function compareUploadedSlot(file: string, frames = 10, timeoutMs = 30_000) {
  const addon = loadAddon();
  const size = NANODET_MODEL.input.size;
  const norm = NANODET_MODEL.input.normalize;
  const batch = addon.createDeviceBatch(4, size);
  let newest = 0;
  const cam = new addon.Camera({ url: file, loop: true, realtime: true, decoder: 'software', poolSlots: 16 }, (ev) => {
    if (ev.type === 'frame') newest = ev.seq;
  });
  cam.open();
  const host = new Float32Array(3 * size * size);
  let compared = 0;
  let differing = 0;
  const t0 = performance.now();
  try {
    let last = 0;
    while (compared < frames && performance.now() - t0 < timeoutMs) {
      if (newest <= last) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      last = newest;
      const slot = compared % 4;
      const [a, b] = await Promise.all([
        cam.letterbox({ batch, slot }, size, norm, last, true),
        cam.letterbox(host, size, norm, last, true),
      ]);
      if (!a || !b) continue;
      const back = loadChecks().deviceBatchRead(batch, slot, 1);
      for (let i = 0; i < back.length; i++) if (back[i] !== host[i]) differing++;
      compared++;
    }
    return { file, frames: compared, differingFloats: differing };
  } finally {
    cam.close();
  }
}

/**
 * An event snapshot of an NVDEC frame: camera.snapshot(quality, seq) for a frame the pool still
 * holds (copied down from GPU memory, counted) and null for one it no longer holds; the same seq
 * of a software-decoded camera of the same file is the reference picture. Returns both JPEGs.
 */
export async function snapshotBySeq(file: string, timeoutMs = 30_000) {
  const { Camera } = loadAddon();
  const seqs = { nvdec: [] as number[], software: [] as number[] };
  const cams = (['nvdec', 'software'] as const).map(
    (decoder) =>
      new Camera({ url: file, realtime: true, decoder, poolSlots: 8 }, (ev) => {
        if (ev.type === 'frame') seqs[decoder].push(ev.seq);
      }),
  );
  try {
    for (const c of cams) c.open();
    const t0 = performance.now();
    while (Math.min(seqs.nvdec.length, seqs.software.length) < 12 && performance.now() - t0 < timeoutMs)
      await new Promise((r) => setTimeout(r, 10));
    // The newest NVDEC frame at once; the software camera's frame of that seq when it has it.
    const seq = seqs.nvdec.at(-1) ?? 0;
    const gpu = await cams[0]!.snapshot(95, seq);
    while (!seqs.software.includes(seq) && performance.now() - t0 < timeoutMs)
      await new Promise((r) => setTimeout(r, 5));
    const cpu = await cams[1]!.snapshot(95, seq);
    // How far back the NVDEC pool still holds frames (an event's best frame is a few frames old).
    const newest = seqs.nvdec.at(-1) ?? 0;
    const held: number[] = [];
    for (let k = 0; k < 8; k++) if (await cams[0]!.snapshot(50, newest - k)) held.push(k);
    const gone = await cams[0]!.snapshot(95, 1); // long since rewritten
    const stats = cams[0]!.stats();
    return {
      seq,
      gpuFrames: stats.gpuFrames,
      hostCopiesSnapshot: stats.hostCopies.snapshot,
      gpu: gpu && { seq: gpu.seq, width: gpu.width, height: gpu.height, bytes: gpu.jpeg.length },
      cpu: cpu && { seq: cpu.seq, width: cpu.width, height: cpu.height, bytes: cpu.jpeg.length },
      goneIsNull: gone === null,
      /** Frames back from the newest that the NVDEC pool still held (0 = the newest). */
      heldBack: held,
      jpegs: { gpu: gpu?.jpeg ?? null, cpu: cpu?.jpeg ?? null },
    };
  } finally {
    for (const c of cams) c.close();
  }
}
