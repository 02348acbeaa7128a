import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon, loadChecks } from '../../src/native/addon.js';
import type { OpenedEvent, VideoEvent } from '../../src/native/types.js';
import { DETECTION_RECORD_BYTES, DETECTION_RECORD_OFFSETS, encodeDetectionRecords } from '../../src/protocol/binary.js';
import { RecordedCamera } from '../helpers/cameraEvents.js';
import { ensureClip, VTEST_FRAMES } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tempDir.js';

const dir = tempDir('vigil-remux-');
const cams: RecordedCamera[] = [];
afterEach(() => {
  for (const c of cams.splice(0)) c.camera.close();
});
function camera(opts: ConstructorParameters<typeof RecordedCamera>[0]): RecordedCamera {
  const c = new RecordedCamera(opts);
  cams.push(c);
  return c;
}
const boxType = (b: Buffer, at = 0) => b.subarray(at + 4, at + 8).toString('latin1');
/** Frames ffprobe decodes from a file. */
function probeFrames(file: string): number {
  const out = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_frames,codec_name,width,height',
      '-of',
      'json',
      file,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const s = (JSON.parse(out) as { streams: Array<{ nb_read_frames: string; codec_name: string; width: number }> })
    .streams[0]!;
  expect(s.codec_name).toBe('h264');
  expect(s.width).toBe(768);
  return Number(s.nb_read_frames);
}

let h264 = '';
let hevc = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
  hevc = await ensureClip('hevc');
}, 300_000);

describe('fMP4 remux for live view (no re-encoding)', () => {
  it('turns every H.264 packet into one fragment that a real demuxer and decoder read back', async () => {
    const cam = camera({ url: h264, realtime: false, video: true, queueSize: 4096 });
    const session = cam.camera.open();
    expect((await cam.untilEnded(session)).reason).toBe('eos');
    const opened = cam.events.find((e): e is OpenedEvent => e.type === 'opened')!;
    expect(opened.video).toBe('passthrough');
    const video = cam.events.filter((e): e is VideoEvent => e.type === 'video');
    const stats = cam.camera.stats();
    // Every packet is accounted for: posted, or dropped while skipping to a keyframe.
    expect(stats.videoFragments + stats.videoDropped).toBe(stats.packets);
    expect(video.length).toBe(stats.videoFragments);

    const first = video[0]!;
    expect(first.keyframe).toBe(true); // a viewer's stream starts on a keyframe
    expect(first.mime).toMatch(/^video\/mp4; codecs="avc1\.[0-9a-f]{6}"$/);
    expect(boxType(first.init!)).toBe('ftyp');
    expect(video.filter((v) => v.init)).toHaveLength(1); // one init segment per session
    for (const v of video) expect(boxType(v.data)).toBe('moof');

    // Same timeline as decoded frames: the overlay finds its frame by pts.
    const videoPts = new Set(video.map((v) => v.ptsUs));
    const frames = cam.frames;
    expect(frames.length).toBeGreaterThan(100);
    for (const f of frames) expect(videoPts.has(f.ptsUs!)).toBe(true);

    const file = join(dir, 'all.mp4');
    writeFileSync(file, Buffer.concat([first.init!, ...video.map((v) => v.data)]));
    expect(probeFrames(file)).toBe(video.length);
    if (stats.videoDropped === 0) expect(video.length).toBe(VTEST_FRAMES);
  });

  it('an event clip: init + fragments from a keyframe mid-stream become a plain MP4 from 0 (remuxToMp4); bad input is refused', async () => {
    const cam = camera({ url: h264, realtime: false, video: true, queueSize: 4096 });
    expect((await cam.untilEnded(cam.camera.open())).reason).toBe('eos');
    const video = cam.events.filter((e): e is VideoEvent => e.type === 'video');
    const k = video.findIndex((v, i) => i > 100 && v.keyframe);
    expect(k).toBeGreaterThan(100);
    const slice = video.slice(k, k + 40);
    const part = join(dir, 'clip.mp4.part');
    const out = join(dir, 'clip.mp4');
    writeFileSync(part, Buffer.concat([video[0]!.init!, ...slice.map((v) => v.data)]));
    const addon = loadAddon();
    const r = await addon.remuxToMp4(part, out);
    expect(r).toMatchObject({ packets: 40, skipped: 0 });
    expect(Math.abs(r.startUs - slice[0]!.ptsUs)).toBeLessThan(1000); // what became 0
    expect(Math.abs(r.durationUs - 40 * 100_000)).toBeLessThan(1000); // 40 frames at 10 fps
    expect(probeFrames(out)).toBe(40);
    const fmt = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=start_time,duration', '-of', 'json', out], {
        encoding: 'utf8',
      }),
    ) as { format: { start_time: string; duration: string } };
    expect(Number(fmt.format.start_time)).toBe(0);
    expect(Number(fmt.format.duration)).toBeCloseTo(4, 1);
    const bytes = readFileSync(out);
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat')); // faststart
    expect(bytes.indexOf('moof')).toBe(-1); // not fragmented

    const junk = join(dir, 'junk.part');
    writeFileSync(junk, Buffer.alloc(4096, 7));
    await expect(addon.remuxToMp4(junk, join(dir, 'junk.mp4'))).rejects.toThrow(/cannot open .*junk\.part/);
    expect(existsSync(join(dir, 'junk.mp4'))).toBe(false);
    await expect(addon.remuxToMp4(join(dir, 'missing.part'), join(dir, 'm.mp4'))).rejects.toThrow(
      /cannot open .*missing\.part: No such file/,
    );
    expect(() => addon.remuxToMp4(42 as never, out)).toThrow(/Expected a file path for input/);
  });

  it('a viewer joining mid-stream decodes from the newest keyframe: init + that GOP', async () => {
    const cam = camera({ url: h264, realtime: false, video: true, queueSize: 4096 });
    expect((await cam.untilEnded(cam.camera.open())).reason).toBe('eos');
    const video = cam.events.filter((e): e is VideoEvent => e.type === 'video');
    const keys = video.map((v, i) => (v.keyframe ? i : -1)).filter((i) => i >= 0);
    expect(keys.length).toBeGreaterThan(2);
    const from = keys[keys.length - 2]!; // a late joiner's GOP cache
    const file = join(dir, 'late.mp4');
    writeFileSync(file, Buffer.concat([video[0]!.init!, ...video.slice(from).map((v) => v.data)]));
    expect(probeFrames(file)).toBe(video.length - from);
  });

  it('a bounded queue drops fragments only up to the next keyframe, so what arrives stays decodable', async () => {
    const cam = camera({ url: h264, realtime: false, video: true, queueSize: 1 });
    // Hold the JS thread now and then so the camera thread outruns it.
    const session = cam.camera.open();
    const busy = setInterval(() => {
      const t = performance.now();
      while (performance.now() - t < 30);
    }, 5);
    try {
      expect((await cam.untilEnded(session, 60000)).reason).toBe('eos');
    } finally {
      clearInterval(busy);
    }
    const stats = cam.camera.stats();
    const video = cam.events.filter((e): e is VideoEvent => e.type === 'video');
    expect(stats.videoDropped).toBeGreaterThan(0);
    expect(stats.videoFragments + stats.videoDropped).toBe(stats.packets);
    const file = join(dir, 'dropped.mp4');
    writeFileSync(file, Buffer.concat([video[0]!.init!, ...video.map((v) => v.data)]));
    expect(probeFrames(file)).toBe(video.length);
    // After every gap the next fragment is a keyframe.
    const keyAfterGap = video.slice(1).every((v, i) => v.keyframe || v.ptsUs - video[i]!.ptsUs < 150_000);
    expect(keyAfterGap).toBe(true);
  });

  it('re-encodes HEVC to H.264 (libx264 here) from the decoded frames: same timeline, readable fMP4', async () => {
    const cam = camera({ url: hevc, realtime: false, video: true, queueSize: 4096 });
    expect((await cam.untilEnded(cam.camera.open(), 60000)).reason).toBe('eos');
    const opened = cam.events.find((e): e is OpenedEvent => e.type === 'opened')!;
    expect(opened.video).toBe('transcode (libx264)'); // no NVENC on this machine
    const video = cam.events.filter((e): e is VideoEvent => e.type === 'video');
    const stats = cam.camera.stats();
    expect(stats.encoder).toMatch(/^libx264 \(h264_nvenc: .+\)$/); // why not NVENC, for /api/health
    expect(stats.videoEncoded).toBe(stats.framesPublished);
    expect(stats.videoFragments + stats.videoDropped).toBe(stats.videoEncoded);
    expect(video[0]!.keyframe).toBe(true);
    expect(video[0]!.mime).toMatch(/^video\/mp4; codecs="avc1\.64[0-9a-f]{4}"$/); // High profile
    // Keyframes about every 2 s of stream time (a viewer joins within one GOP).
    const keys = video.filter((v) => v.keyframe).map((v) => v.ptsUs);
    for (let i = 1; i < keys.length; i++) expect(keys[i]! - keys[i - 1]!).toBeLessThanOrEqual(2_000_000);
    const framePts = new Set(cam.frames.map((f) => f.ptsUs));
    expect(video.every((v) => framePts.has(v.ptsUs))).toBe(true);
    const file = join(dir, 'transcoded.mp4');
    writeFileSync(file, Buffer.concat([video[0]!.init!, ...video.map((v) => v.data)]));
    expect(probeFrames(file)).toBe(video.length);
  }, 90_000);

  it('remuxes nothing unless asked', async () => {
    const cam = camera({ url: h264, realtime: false });
    expect((await cam.untilEnded(cam.camera.open())).reason).toBe('eos');
    expect(cam.events.some((e) => e.type === 'video')).toBe(false);
    expect(cam.events.find((e): e is OpenedEvent => e.type === 'opened')!.video).toBeUndefined();
  });
});

// One person box (green in the overlay palette), packed as the protocol carries it.
const GREEN_BOX = encodeDetectionRecords([{ x1: 100, y1: 100, x2: 300, y2: 400, score: 0.9, classId: 0 }]);

describe('annotated stream (boxes burned in, re-encoded)', () => {
  it('reads the same detection record layout as the protocol', () => {
    expect(loadAddon().detectionRecordLayout()).toEqual({ bytes: DETECTION_RECORD_BYTES, ...DETECTION_RECORD_OFFSETS });
  });

  it('burns boxes into the detected frame and encodes it: decodable fMP4, the box painted, the pool frame untouched', async () => {
    const cam = camera({ url: h264, realtime: true, loop: true });
    cam.camera.open();
    await cam.until((evs) => evs.filter((e) => e.type === 'frame').length >= 3, 10000, 'frames');
    const chunks = [];
    // One green (person) box per frame, then a frame the pool no longer holds.
    for (let i = 0; i < 12; i++) {
      const f = cam.frames.at(-1)!;
      const out = await cam.camera.annotate(f.seq, GREEN_BOX);
      if (out) chunks.push(out);
      await new Promise((r) => setTimeout(r, 110));
    }
    // The pool's own frame has no box: annotation paints a copy (checked below).
    let snap: Awaited<ReturnType<typeof cam.camera.snapshot>> = null;
    for (let attempt = 0; attempt < 5 && !snap; attempt++) {
      const n = cam.frames.length;
      await cam.until(() => cam.frames.length > n, 2000, 'a new frame');
      const latest = cam.frames.at(-1)!;
      expect(await cam.camera.annotate(latest.seq, GREEN_BOX)).not.toBeNull();
      const s = (await cam.camera.snapshot(95))!;
      if (s.seq === latest.seq) snap = s; // the very frame just annotated (else a newer one came in between)
    }
    expect(snap).not.toBeNull();
    expect(await cam.camera.annotate(1, new Uint8Array(0))).toBeNull();
    expect(cam.camera.stats().annotateEncoder).toMatch(/^libx264 \(h264_nvenc: .+\)$/);
    // The GPU painter's check takes GPU frames only, and says so.
    await expect(loadChecks().paintCheck(cam.camera, cam.frames.at(-1)!.seq, GREEN_BOX)).rejects.toThrow(
      /paintCheck: (frame \d+ is not in GPU memory|this addon was built without CUDA)/,
    );
    expect(() => cam.camera.annotate(5, new Uint8Array(10))).toThrow(
      /Expected a Uint8Array of 24-byte detection records for records/,
    );
    expect(chunks.length).toBeGreaterThanOrEqual(10);
    expect(chunks[0]!.init).toBeDefined();
    expect(chunks[0]!.keyframe).toBe(true);
    expect(chunks[0]!.mime).toMatch(/^video\/mp4; codecs="avc1\./);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.ptsUs).toBeGreaterThan(chunks[i - 1]!.ptsUs);
    const file = join(dir, 'annotated.mp4');
    writeFileSync(file, Buffer.concat([chunks[0]!.init!, ...chunks.map((c) => c.data)]));
    expect(probeFrames(file)).toBe(chunks.length);
    // The first frame's pixels: the top edge of the box is the overlay's green, inside it is not.
    const raw = execFileSync(
      'ffmpeg',
      ['-v', 'error', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
      { maxBuffer: 8 << 20 },
    );
    const px = (x: number, y: number) => [
      raw[(y * 768 + x) * 3]!,
      raw[(y * 768 + x) * 3 + 1]!,
      raw[(y * 768 + x) * 3 + 2]!,
    ];
    const [r, g, b] = px(200, 101);
    expect(g).toBeGreaterThan(200);
    expect(r).toBeLessThan(120);
    expect(b).toBeLessThan(120);
    const jpg = join(dir, 'pool.jpg');
    writeFileSync(jpg, snap!.jpeg);
    const plain = execFileSync('ffmpeg', ['-v', 'error', '-i', jpg, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
      maxBuffer: 8 << 20,
    });
    const at = (200 + 101 * 768) * 3;
    expect(plain[at + 1]! > 200 && plain[at]! < 120 && plain[at + 2]! < 120).toBe(false);
  }, 30_000);
});
