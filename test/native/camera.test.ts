import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { clipDir, VTEST_AVI } from '../../src/cli/demoClips.js';
import { loadAddon } from '../../src/native/addon.js';
import { RecordedCamera } from '../helpers/cameraEvents.js';
import { corruptH264Clip, ensureClip, VTEST_FRAMES, type CorruptClip } from '../helpers/fixtures.js';

/** Width and height from a baseline JPEG's SOF0 marker. */
function jpegSize(buf: Buffer): { width: number; height: number } {
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) throw new Error(`bad JPEG marker at ${i}`);
    const marker = buf[i + 1] as number;
    const len = buf.readUInt16BE(i + 2);
    if (marker === 0xc0) return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  throw new Error('no SOF0 marker');
}

const cams: RecordedCamera[] = [];
function camera(opts: ConstructorParameters<typeof RecordedCamera>[0]): RecordedCamera {
  const c = new RecordedCamera(opts);
  cams.push(c);
  return c;
}

let h264 = '';
let hevc = '';
let corrupt: CorruptClip;
beforeAll(async () => {
  h264 = await ensureClip('h264');
  hevc = await ensureClip('hevc');
  corrupt = await corruptH264Clip();
}, 300_000);

afterEach(() => {
  for (const c of cams.splice(0)) c.camera.close();
});

describe('native addon', () => {
  it('reports what it was built with', () => {
    const info = loadAddon().buildInfo();
    expect(info.decoders.h264).toBe(true);
    expect(info.decoders.hevc).toBe(true);
    expect(info.ffmpeg.avcodec).toMatch(/^\d+\.\d+\.\d+$/);
    if (info.cuda.built) {
      expect(info.cuda.archs).toContain('89');
      expect(info.cuda.archs).toContain('90');
    }
    // No GPU on CI: a CUDA build must say why no device is usable rather than pretend.
    if (info.cuda.devices === 0) expect(info.cuda.reason).toBeTruthy();
  });

  it.each([
    ['h264', () => h264],
    ['hevc', () => hevc],
  ])('decodes every frame of the %s clip with monotonic stamps', async (codec, file) => {
    const cam = camera({ url: file(), realtime: false });
    const session = cam.camera.open();
    const ended = await cam.untilEnded(session);
    expect(ended.reason).toBe('eos');
    const opened = cam.events.find((e) => e.type === 'opened');
    expect(opened).toMatchObject({ type: 'opened', codec, width: 768, height: 576, hardware: false });
    const frames = cam.frames;
    const stats = cam.camera.stats();
    expect(stats.framesDecoded).toBe(VTEST_FRAMES);
    // Every frame was either delivered to JS or counted as dropped.
    expect(frames.length + stats.droppedQueueFull).toBe(stats.framesPublished);
    expect(stats.framesPublished + stats.droppedPoolFull).toBe(VTEST_FRAMES);
    expect(stats.decodeErrors).toBe(0);
    expect(stats.poolAllocations).toBeLessThanOrEqual(4); // preallocated, not per frame
    let prev = frames[0]!;
    for (const f of frames.slice(1)) {
      expect(f.seq).toBeGreaterThan(prev.seq);
      expect(f.ptsUs!).toBeGreaterThan(prev.ptsUs!);
      expect(f.decodedUs).toBeGreaterThanOrEqual(prev.decodedUs);
      expect(f.decodedUs).toBeGreaterThanOrEqual(f.recvUs);
      prev = f;
    }
    // Stamps are on the clock process.hrtime reads.
    const nowUs = Number(process.hrtime.bigint() / 1000n);
    expect(nowUs - prev.decodedUs).toBeGreaterThanOrEqual(0);
    expect(nowUs - prev.decodedUs).toBeLessThan(60_000_000);
  });

  it.each([
    ['avi (MS-MPEG4, the original vtest.avi)', () => VTEST_AVI, 'msmpeg4v3'],
    ['mp4 (H.264)', () => ensureClip('h264', { container: 'mp4' }), 'h264'],
    ['ts (HEVC)', () => ensureClip('hevc', { container: 'ts' }), 'hevc'],
  ])('decodes a %s file source', async (_name, file, codec) => {
    const cam = camera({ url: await file(), realtime: false });
    expect((await cam.untilEnded(cam.camera.open())).reason).toBe('eos');
    expect(cam.events.find((e) => e.type === 'opened')).toMatchObject({ codec, width: 768, height: 576 });
    expect(cam.camera.stats().framesDecoded).toBe(VTEST_FRAMES);
  });

  it('paces a file source in real time', async () => {
    const cam = camera({ url: h264, realtime: true });
    cam.camera.open();
    await cam.until((evs) => evs.filter((e) => e.type === 'frame').length >= 21, 10000, '21 frames');
    const f = cam.frames;
    const wallMs = (f[20]!.decodedUs - f[0]!.decodedUs) / 1000;
    expect(wallMs).toBeGreaterThan(1800); // 20 frame intervals at 10 fps = 2 s
    expect(wallMs).toBeLessThan(2600);
  });

  it("low-delay decode hands out each packet's frame before the next packet; frame threads hold frames back", async () => {
    const low = camera({ url: h264, realtime: true, lowDelay: true, decodeThreads: 4, decoder: 'software' });
    const bulk = camera({ url: h264, realtime: true, decodeThreads: 4, decoder: 'software' });
    low.camera.open();
    bulk.camera.open();
    await Promise.all([low, bulk].map((c) => c.until(() => c.frames.length >= 30, 10000, '30 frames')));
    const median = (c: RecordedCamera) => {
      const d = c.frames
        .slice(5, 30)
        .map((f) => (f.decodedUs - f.recvUs) / 1000)
        .sort((a, b) => a - b);
      return d[Math.floor(d.length / 2)]!;
    };
    expect(low.camera.stats().decoder).toBe('h264 (software, 4 slice threads, low delay)');
    expect(bulk.camera.stats().decoder).toBe('h264 (software, 4 threads)');
    // At 10 fps a packet comes every 100 ms: low delay decodes it within that; 4 frame threads
    // give each frame back 3 packets later.
    expect(median(low)).toBeLessThan(100);
    expect(median(bulk)).toBeGreaterThan(150);
  });

  it('loops a file with a continuous timeline', async () => {
    const cam = camera({ url: h264, realtime: false, loop: true });
    cam.camera.open();
    await cam.until(() => cam.camera.stats().loops >= 1 && cam.frames.length > VTEST_FRAMES + 50, 20000, 'a loop');
    cam.camera.stop();
    const f = cam.frames;
    for (let i = 1; i < f.length; i++) expect(f[i]!.ptsUs!).toBeGreaterThan(f[i - 1]!.ptsUs!);
  });

  it('snapshots the newest frame as a JPEG, and null before the first frame', async () => {
    const cam = camera({ url: hevc, realtime: true });
    expect(await cam.camera.snapshot()).toBeNull();
    cam.camera.open();
    await cam.until(() => cam.frames.length >= 3, 10000, '3 frames');
    const snap = await cam.camera.snapshot(90);
    expect(snap).not.toBeNull();
    expect(snap!.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(snap!.jpeg.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    expect(jpegSize(snap!.jpeg)).toEqual({ width: 768, height: 576 });
    expect(snap!.seq).toBeGreaterThanOrEqual(3);
    expect(() => cam.camera.snapshot(0)).toThrow(
      /Expected an integer between 1 and 100 for quality but received number 0/,
    );
    // A given frame (an event's best one) while the pool holds it; null once it is gone.
    const last = cam.frames.at(-1)!.seq;
    const exact = await cam.camera.snapshot(80, last);
    expect(exact === null || exact.seq === last).toBe(true);
    expect(exact?.seq ?? last).toBe(last);
    await cam.until(() => cam.frames.length >= 12, 10000, '12 frames');
    expect(await cam.camera.snapshot(80, 1)).toBeNull(); // long since rewritten (4 slots)
    expect(() => cam.camera.snapshot(80, -1)).toThrow(/Expected a frame seq \(a non-negative integer\) for seq/);
    // A letterbox target that is neither a tensor nor a GPU input batch's slot is named.
    const norm = {
      mean: [0, 0, 0] as [number, number, number],
      std: [1, 1, 1] as [number, number, number],
      bgr: false,
    };
    expect(() => cam.camera.letterbox({ batch: {} as never, slot: 0 }, 416, norm)).toThrow(
      /Expected a handle from createDeviceBatch\(\) for dst\.batch|built without CUDA/,
    );
    expect(() => cam.camera.letterbox(new Float32Array(10), 416, norm)).toThrow(
      /Expected a Float32Array of at least 3·size·size elements, or \{ batch, slot \} for dst/,
    );
  });

  it('ends a session on a missing file or a file that is not video, with a clear message', async () => {
    const missing = camera({ url: '/nonexistent/clip.mkv' });
    const ended = await missing.untilEnded(missing.camera.open());
    expect(ended).toMatchObject({ reason: 'error' });
    expect(ended.message).toMatch(/No such file or directory/);

    const junk = join(clipDir(), 'junk.mkv');
    writeFileSync(junk, Buffer.alloc(200_000, 0x5a));
    const bad = camera({ url: junk });
    const ended2 = await bad.untilEnded(bad.camera.open());
    expect(ended2.reason).toBe('error');
    expect(ended2.message).toMatch(/cannot open input|stream info|no video stream/);
  });

  it('survives a corrupted stream: errors counted, decoding resumes to the end', async () => {
    const cam = camera({ url: corrupt.path, realtime: false });
    const ended = await cam.untilEnded(cam.camera.open());
    expect(ended.reason).toBe('eos');
    const s = cam.camera.stats();
    expect(corrupt.flipped + corrupt.truncated).toBeGreaterThan(50);
    expect(s.decodeErrors + s.corruptFrames).toBeGreaterThan(0);
    // Damage costs frames, not the stream: the decoder keeps going to the last frame.
    expect(s.framesDecoded).toBeGreaterThan(VTEST_FRAMES * 0.9);
    const lastPts = cam.frames[cam.frames.length - 1]!.ptsUs!;
    expect(lastPts).toBeGreaterThan(75_000_000); // the clip is 79.5 s long
    // ...and reported to JS as rate-limited error events, not silently.
    expect(cam.events.some((e) => e.type === 'error' && e.stage === 'decode' && e.count > 0)).toBe(true);
  });

  it('stops a running session promptly, and close() is idempotent', async () => {
    const cam = camera({ url: h264, realtime: true });
    const session = cam.camera.open();
    expect(() => cam.camera.open()).toThrow(/already running/);
    await cam.until(() => cam.frames.length >= 2, 10000, '2 frames');
    const t0 = performance.now();
    cam.camera.stop();
    expect(performance.now() - t0).toBeLessThan(500);
    expect(cam.camera.running).toBe(false);
    expect((await cam.untilEnded(session)).reason).toBe('stopped');
    const again = cam.camera.open(); // the same camera reconnects
    expect(again).toBe(session + 1);
    await cam.until(() => cam.frames.some((f) => f.session === again), 10000, 'frames of session 2');
    cam.camera.close();
    cam.camera.close();
    expect(cam.camera.closed).toBe(true);
    let err: Error | undefined;
    try {
      cam.camera.open();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe('InvalidStateError');
    expect(() => cam.camera.stop()).toThrow(/closed/);
    expect(cam.camera.stats().sessions).toBe(2);
  });

  it('close() right after open() returns promptly, even on a source that never ends', async () => {
    for (let i = 0; i < 5; i++) {
      const cam = camera({ url: h264, realtime: true, loop: true });
      cam.camera.open();
      const t0 = performance.now();
      cam.camera.close();
      expect(performance.now() - t0).toBeLessThan(1000);
    }
  });

  it('drops and counts frame events when JS falls behind (bounded queue)', async () => {
    const cam = camera({ url: h264, realtime: false, queueSize: 2 });
    const session = cam.camera.open();
    // Hold the JS thread while the camera thread decodes at full speed.
    const until = performance.now() + 400;
    while (performance.now() < until) {
      /* busy */
    }
    await cam.untilEnded(session);
    const s = cam.camera.stats();
    expect(s.droppedQueueFull).toBeGreaterThan(0);
    expect(cam.frames.length + s.droppedQueueFull).toBe(s.framesPublished);
  });

  it('rejects bad options with errors naming the field and value', () => {
    const { Camera } = loadAddon();
    expect(() => new Camera({ url: h264, transport: 'ftp' as 'tcp' }, () => {})).toThrow(
      "Expected 'tcp' or 'udp' for transport but received string 'ftp'",
    );
    expect(() => new Camera({ url: '' }, () => {})).toThrow(/Expected a non-empty string for url/);
    expect(() => new Camera({ url: h264, poolSlots: 1 }, () => {})).toThrow(/for poolSlots but received number 1/);
    expect(() => new Camera({ url: h264 }, undefined as never)).toThrow(/Expected a function for onEvent/);
  });

  it('probes a file: codec, size, fps and time to first frame', async () => {
    const r = await loadAddon().probe({ url: hevc });
    expect(r).toMatchObject({ ok: true, codec: 'hevc', width: 768, height: 576, fps: 10 });
    expect(r.firstFrameMs).toBeGreaterThan(0);
    const bad = await loadAddon().probe({ url: '/nonexistent.mp4' });
    expect(bad).toMatchObject({ ok: false, status: 'error' });
  });
});
