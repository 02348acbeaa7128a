import { describe, expect, it } from 'vitest';

import { ensureClip } from '../helpers/fixtures.js';
import { VTEST_AVI } from '../../src/cli/demoClips.js';
import { modelInputs } from '../../src/model/eval/modelFrames.js';
import { letterboxGeometry } from '../../src/detect/letterbox.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import { nanodetLevels } from '../../src/detect/nanodet/NanodetHead.js';
import { NANODET_MODEL } from '../../src/detect/nanodet/nanodetSpec.js';
import { OrtDetector } from '../../src/detect/OrtDetector.js';
import { loadAddon, loadChecks } from '../../src/native/addon.js';
import {
  compareLetterbox,
  comparePaint,
  compareUploadedSlot,
  comparePostprocess,
  decodeFile,
  gpuEncode,
  gpuHere,
  type HeadFrame,
} from './checks.js';

const gpu = gpuHere();

// Needs an NVIDIA GPU (and an FFmpeg with NVDEC): skipped cleanly elsewhere. bench/gpuCheck.ts
// runs the same checks on the lent GPU box and records the figures.
describe.skipIf(!gpu.ok)(`NVDEC and the CUDA letterbox (GPU: ${gpu.ok ? 'yes' : gpu.reason})`, () => {
  it('decodes H.264 and HEVC on NVDEC: every frame, in GPU memory, none copied to the host', async () => {
    for (const codec of ['h264', 'hevc'] as const) {
      const file = await ensureClip(codec);
      const sw = await decodeFile(file, 'software');
      const hw = await decodeFile(file, 'nvdec');
      expect(hw.decoder).toMatch(/NVDEC/);
      expect(hw.ended).toBe('eos');
      expect(hw.frames).toBe(sw.frames);
      expect(hw.gpuFrames).toBe(true);
      expect(hw.hostCopies).toEqual({ letterbox: 0, snapshot: 0, annotate: 0, encode: 0 });
    }
  });

  it('the CUDA letterbox of NVDEC frames matches the CPU letterbox of the same frames; no frame leaves the GPU', async () => {
    const r = await compareLetterbox(await ensureClip('h264'));
    expect(r.pairs).toBe(30);
    expect(r.gpuFrames).toBe(true);
    // Not bit-exact: swscale works in fixed point (14-bit filters, table-driven YUV→RGB); a JS
    // model of the kernel against swscale on a vtest frame: mean 0.77, max 4 levels of 255.
    expect(r.meanAbsPx).toBeLessThan(1.25);
    expect(r.maxAbsPx).toBeLessThanOrEqual(8);
    expect(r.hostCopiesWhileLetterboxing.letterbox).toBe(0);
    expect(r.hostCopiesAfterOneSnapshot.snapshot).toBe(1);
  }, 120_000);

  it("writes straight into a slot of a GPU input batch (a GPU backend's input): the same tensor as the CPU letterbox", async () => {
    const r = await compareLetterbox(await ensureClip('h264'), 30, 60_000, 'device-batch');
    expect(r.pairs).toBe(30);
    expect(r.meanAbsPx).toBeLessThan(1.25);
    expect(r.maxAbsPx).toBeLessThanOrEqual(8);
    expect(r.hostCopiesWhileLetterboxing.letterbox).toBe(0);
    // A software-decoded camera's tensor is uploaded into its slot: the same floats as on the host.
    const u = await compareUploadedSlot(await ensureClip('h264'));
    expect(u.frames).toBe(10);
    expect(u.differingFloats).toBe(0);
  }, 120_000);
});

describe.skipIf(!gpu.ok)('GPU overlay and encode', () => {
  it('the CUDA box painter on NVDEC frames paints the same bytes as the CPU painter', async () => {
    const r = await comparePaint(await ensureClip('h264'));
    expect(r.frames).toBe(20);
    expect(r.painted).toBeGreaterThan(0);
    expect(r.mismatched).toBe(0);
    expect(r.hostCopiesOfThePath?.annotate).toBe(0);
  }, 120_000);

  it('the annotated stream and the transcode take NVDEC frames: NVENC as they are, else libx264 with the reason and every copy counted', async () => {
    const r = await gpuEncode(await ensureClip('h264'), await ensureClip('hevc'));
    for (const [enc, copies, produced] of [
      [r.annotate.encoder, r.annotate.hostCopies, r.annotate.fragments],
      [r.transcode.encoder, r.transcode.hostCopies, r.transcode.encoded],
    ] as const) {
      expect(produced).toBeGreaterThan(0);
      if (enc === 'h264_nvenc (CUDA frames)') expect(copies).toBe(0);
      else {
        expect(enc).toMatch(/^libx264 \(h264_nvenc \(CUDA frames\): .+\)$/);
        expect(copies).toBe(produced);
      }
    }
  }, 180_000);
});

describe.skipIf(!gpu.ok)('GPU post-processing', () => {
  it('NanoDet decode + NMS in CUDA equals the CPU post-processing on the same raw head outputs', async () => {
    const inputs = await modelInputs({ kind: 'video', path: VTEST_AVI, from: 100, every: 150, count: 4 });
    const det = await OrtDetector.load(fp32OnnxPath(), {});
    const frames: HeadFrame[] = [];
    for (const t of inputs)
      frames.push({
        levels: nanodetLevels(NANODET_MODEL, await det.infer(t)),
        lb: letterboxGeometry(768, 576, NANODET_MODEL.input.size),
      });
    await det.release();
    for (const threshold of [0.4, 0.05]) {
      const r = comparePostprocess(frames, threshold);
      expect(r.cpuDetections).toBeGreaterThan(0);
      expect(r.mismatches).toBe(0);
      expect(r.gpuDetections).toBe(r.cpuDetections);
      expect(r.maxBoxDiffPx).toBeLessThan(0.01);
    }
  });
});

describe('NVDEC where there is none', () => {
  it.skipIf(gpu.ok)('a GPU input batch says why it cannot be made', () => {
    expect(() => loadAddon().createDeviceBatch(4, 416)).toThrow(/GPU input batch|cuda|without CUDA/i);
  });

  it.skipIf(gpu.ok)('GPU post-processing says why it cannot run', () => {
    const cls = new Float32Array(52 * 52 * 80);
    const reg = new Float32Array(52 * 52 * 44);
    expect(() =>
      loadChecks().nanodetPostGpu([{ stride: 8, cls, reg }], {
        inputSize: 416,
        numClasses: 80,
        regMax: 10,
        scoreThreshold: 0.4,
        iouThreshold: 0.6,
        maxDetections: 100,
        scale: 1,
        padX: 0,
        padY: 0,
        srcWidth: 416,
        srcHeight: 416,
      }),
    ).toThrow(/GPU post-processing: .*cuda|without CUDA/i);
  });

  it.skipIf(gpu.ok)('auto falls back to software and says why; nvdec is an error that says why', async () => {
    const file = await ensureClip('h264');
    const auto = await decodeFile(file, 'auto');
    expect(auto.ended).toBe('eos');
    expect(auto.frames).toBe(795);
    expect(auto.gpuFrames).toBe(false);
    expect(auto.decoder).toMatch(/software.*NVDEC unavailable: /);
    const hw = await decodeFile(file, 'nvdec');
    expect(hw.frames).toBe(0);
    expect(hw.ended).toMatch(/^error: NVDEC unavailable: /);
  });
});
