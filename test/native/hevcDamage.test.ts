import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import { api, cameraHealth, startDaemon, waitFor } from '../helpers/daemon.js';
import { RecordedCamera } from '../helpers/cameraEvents.js';
import { ensureClip, nalUnits } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tempDir.js';

const run = promisify(execFile);

/** mulberry32: the same damage on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The clip as a bad link leaves it: 0.1 % of the bytes after the first keyframe flipped (one bit
 * each, seeded), inside NAL unit payloads only (start codes and NAL headers intact, no new start
 * code made), remuxed to MPEG-TS so the demuxer still finds every packet.
 */
async function damagedClip(codec: 'h264' | 'hevc', dir: string): Promise<{ path: string; flipped: number }> {
  const clean = await ensureClip(codec);
  const es = join(dir, `clean.${codec}`);
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-i',
    clean,
    '-c:v',
    'copy',
    '-bsf:v',
    `${codec}_mp4toannexb`,
    '-an',
    '-f',
    codec,
    es,
  ]);
  const buf = Buffer.from(readFileSync(es));
  const nals = nalUnits(buf).map((n) => ({
    ...n,
    type: codec === 'hevc' ? ((buf[n.start] as number) >> 1) & 0x3f : (buf[n.start] as number) & 0x1f,
  }));
  const isKey = (t: number) => (codec === 'hevc' ? t >= 16 && t <= 21 : t === 5);
  const firstKey = nals.find((n) => isKey(n.type));
  if (!firstKey) throw new Error(`no keyframe in ${es}`);
  const header = codec === 'hevc' ? 2 : 1;
  const payloads = nals.filter((n) => n.start > firstKey.start && n.end - n.start > header + 8);
  const total = payloads.reduce((s, n) => s + n.end - n.start - header, 0);
  const rnd = prng(24);
  const want = Math.round(total * 0.001);
  let flipped = 0;
  while (flipped < want) {
    let at = Math.floor(rnd() * total);
    const nal = payloads.find((n) => {
      const len = n.end - n.start - header;
      if (at < len) return true;
      at -= len;
      return false;
    })!;
    const i = nal.start + header + at;
    const was = buf[i] as number;
    buf[i] = was ^ (1 << Math.floor(rnd() * 8));
    // Never make (or break) a start code: the damage stays inside its NAL unit.
    if ((buf[i] as number) <= 3 || was <= 3) {
      buf[i] = was;
      continue;
    }
    flipped++;
  }
  const damaged = join(dir, `damaged.${codec}`);
  writeFileSync(damaged, buf);
  const path = join(dir, `damaged-${codec}.ts`);
  await run('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    codec,
    '-framerate',
    '10',
    '-i',
    damaged,
    '-c:v',
    'copy',
    '-f',
    'mpegts',
    path,
  ]);
  return { path, flipped };
}

const clips: Record<'h264' | 'hevc', { path: string; flipped: number }> = {
  h264: { path: '', flipped: 0 },
  hevc: { path: '', flipped: 0 },
};
beforeAll(async () => {
  const dir = tempDir('vigil-damage-');
  clips.h264 = await damagedClip('h264', dir);
  clips.hevc = await damagedClip('hevc', dir);
}, 300_000);

const cams: RecordedCamera[] = [];
let running: Daemon | null = null;
afterEach(async () => {
  for (const c of cams.splice(0)) c.camera.close();
  await running?.close();
  running = null;
});

describe('damaged streams are counted for every codec', () => {
  it.each(['h264', 'hevc'] as const)(
    '%s: decode errors and corrupt frames counted, decoding goes on to the end',
    async (codec) => {
      const clip = clips[codec];
      expect(clip.flipped).toBeGreaterThan(500);
      const cam = new RecordedCamera({ url: clip.path, realtime: false, decoder: 'software' });
      cams.push(cam);
      const ended = await cam.untilEnded(cam.camera.open());
      expect(ended.reason).toBe('eos');
      const s = cam.camera.stats();
      expect(s.decodeErrors).toBeGreaterThan(0);
      expect(s.corruptFrames).toBeGreaterThan(0);
      // Damage costs frames, not the stream.
      expect(s.framesDecoded).toBeGreaterThan(700);
      expect(cam.events.some((e) => e.type === 'error' && e.stage === 'decode' && e.count > 0)).toBe(true);
    },
  );

  it.each(['h264', 'hevc'] as const)(
    '%s: the clean clip counts nothing (low delay and frame threads)',
    async (codec) => {
      const clean = await ensureClip(codec, { container: 'ts' });
      for (const lowDelay of [true, false]) {
        const cam = new RecordedCamera({ url: clean, realtime: false, decoder: 'software', lowDelay });
        cams.push(cam);
        expect((await cam.untilEnded(cam.camera.open())).reason).toBe('eos');
        const s = cam.camera.stats();
        expect({ decoded: s.framesDecoded, errors: s.decodeErrors, corrupt: s.corruptFrames }).toEqual({
          decoded: 795,
          errors: 0,
          corrupt: 0,
        });
      }
    },
  );

  it('a damaged HEVC camera shows its damage in /api/health and /metrics; a clean one shows none', async () => {
    const clean = await ensureClip('hevc', { container: 'ts' });
    const { daemon, url } = await startDaemon([
      { id: 'damaged', url: clips.hevc.path, realtime: true },
      { id: 'clean', url: clean, realtime: true },
    ]);
    running = daemon;
    // The first damage is a second or so into the clip (after the first keyframe, at random).
    await waitFor(
      async () => {
        const h = await cameraHealth(url, 'damaged');
        return h.decodeErrors > 0 && h.corruptFrames > 0;
      },
      40_000,
      'the damaged camera to count decode errors and corrupt frames',
    );
    const damaged = await cameraHealth(url, 'damaged');
    expect(damaged.codec).toBe('hevc');
    expect(damaged.lastError?.stage).toBe('decode');
    const metrics = await (await api(url, '/metrics')).text();
    const value = (name: string, camera: string) =>
      Number(new RegExp(`^${name}\\{camera="${camera}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    expect(value('vigil_camera_decode_errors_total', 'damaged')).toBeGreaterThan(0);
    expect(value('vigil_camera_corrupt_frames_total', 'damaged')).toBeGreaterThan(0);
    const ok = await cameraHealth(url, 'clean');
    expect(ok.frames.decoded).toBeGreaterThan(0);
    expect([ok.decodeErrors, ok.corruptFrames]).toEqual([0, 0]);
    expect(value('vigil_camera_decode_errors_total', 'clean')).toBe(0);
    expect(value('vigil_camera_corrupt_frames_total', 'clean')).toBe(0);
  });
});
