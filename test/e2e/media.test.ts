import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import ffmpeg from 'fluent-ffmpeg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import type { ZoneEvent } from '../../src/events/ZoneWatcher.js';
import type { ServerMessage } from '../../src/protocol/control.js';
import { api, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { Viewer } from '../helpers/viewer.js';
import { filesUnder, mediaRows } from '../helpers/media.js';

let running: Daemon | null = null;
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264'); // vtest.avi: pedestrians walking through, 768×576, 10 fps
  fp32OnnxPath();
}, 300_000);

afterEach(async () => {
  await running?.close();
  running = null;
});

interface ApiEvent extends ZoneEvent {
  snapshot: { url: string; seq: number; score: number; width: number; height: number; bytes: number } | null;
  clip: { url: string; durationMs: number; startedAt: string; packets: number; bytes: number } | null;
}

function probe(file: string): Promise<ffmpeg.FfprobeData> {
  return new Promise((resolve, reject) =>
    ffmpeg.ffprobe(file, ['-count_packets'], (err: Error | null, data: ffmpeg.FfprobeData) =>
      err ? reject(err) : resolve(data),
    ),
  );
}

const events = async (url: string, query = '') =>
  ((await (await api(url, `/api/events${query}`)).json()) as { events: ApiEvent[] }).events;

describe('event snapshots and clips', () => {
  it('writes a snapshot and an MP4 clip (pre- and post-roll) per event, serves them, deletes them with the event; line events too', async () => {
    const { daemon, url, token } = await startDaemon(
      [
        {
          id: 'yard',
          url: h264,
          loop: true,
          zones: [
            {
              id: 'all',
              polygon: [
                [0, 0],
                [768, 0],
                [768, 576],
                [0, 576],
              ],
              classes: ['person'],
            },
          ],
          lines: [
            {
              id: 'middle',
              points: [
                [384, 0],
                [384, 576],
              ],
              classes: ['person'],
            },
          ],
        },
      ],
      {
        detect: { enabled: true, tracker: { min_hits: 2, max_age: 10 } },
        media: {
          clips: { pre_roll_seconds: 2, post_roll_seconds: 1, max_seconds: 20 },
          snapshots: { min_interval_ms: 300 },
        },
      },
    );
    running = daemon;
    const dir = daemon.mediaDir!;
    const viewer = new Viewer(url, token); // events reach the live WebSocket once committed
    await viewer.hello();
    await waitFor(
      async () => {
        const evs = await events(url);
        return (
          evs.filter((e) => e.type === 'zone' && e.clip).length >= 2 && evs.some((e) => e.type === 'line' && e.clip)
        );
      },
      200_000,
      'two zone events and a line event with clips',
    );

    const all = await events(url);
    const zoneEv = all.find((e) => e.type === 'zone' && e.clip && e.snapshot)!;
    const lineEv = all.find((e) => e.type === 'line' && e.clip)!;
    expect(lineEv).toMatchObject({ zone: 'middle', label: 'person', frames: 1 });
    expect(['left_to_right', 'right_to_left']).toContain(lineEv.direction);
    expect(lineEv.startedAt).toBe(lineEv.endedAt);
    expect((await events(url, '?type=line')).every((e) => e.type === 'line')).toBe(true);
    // Over the WebSocket: each event opened and closed, as stored.
    const sent = viewer.json.filter((m): m is Extract<ServerMessage, { type: 'event' }> => m.type === 'event');
    const closedLine = sent.find((m) => m.kind === 'close' && m.event.id === lineEv.id)!;
    expect(closedLine.event).toMatchObject({
      type: 'line',
      zone: 'middle',
      direction: lineEv.direction,
      endedAt: lineEv.endedAt,
      trackId: lineEv.trackId,
    });
    // Announced as committed: opened then closed, or closed only when both fell in one write (a loaded box).
    const zoneSent = sent.filter((m) => m.event.id === zoneEv.id).map((m) => m.kind);
    expect(zoneSent.length ? zoneSent : ['none']).toContain(zoneEv.endedAt === null ? 'open' : 'close');
    viewer.close();

    // The snapshot: a JPEG of the camera's frame, a frame the event saw.
    const snap = zoneEv.snapshot!;
    expect(snap).toMatchObject({
      url: `/api/events/${zoneEv.id}/snapshot.jpg?seq=${snap.seq}`,
      width: 768,
      height: 576,
    });
    expect(snap.seq).toBeGreaterThan(0);
    const jpg = await api(url, snap.url);
    expect(jpg.status).toBe(200);
    expect(jpg.headers.get('content-type')).toBe('image/jpeg');
    expect(jpg.headers.get('cache-control')).toBe('private, no-cache'); // replaced while its event runs
    const jpeg = Buffer.from(await jpg.arrayBuffer());
    expect(jpeg.length).toBe(snap.bytes);
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);

    // The clip: a plain MP4 from 0, at least the event plus most of the post-roll long; ranges work (seeking).
    const clip = zoneEv.clip!;
    const eventMs = Date.parse(zoneEv.endedAt!) - Date.parse(zoneEv.startedAt);
    expect(clip.durationMs).toBeGreaterThanOrEqual(eventMs + 1000 * 0.5);
    const res = await api(url, clip.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    const mp4 = Buffer.from(await res.arrayBuffer());
    expect(mp4.length).toBe(clip.bytes);
    const part = await api(url, clip.url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(mp4.subarray(100, 200))).toBe(true);
    const local = join(daemon.config.data_dir!, 'probe.mp4');
    writeFileSync(local, mp4);
    const info = await probe(local);
    expect(info.format.format_name).toContain('mp4');
    expect(Number(info.format.start_time)).toBeLessThan(0.05);
    expect(Number(info.format.duration) * 1000).toBeGreaterThan(clip.durationMs - 200);
    expect(Number(info.streams[0]!.nb_read_packets)).toBe(clip.packets);
    expect(info.streams[0]).toMatchObject({ codec_name: 'h264', width: 768, height: 576 });
    expect(mp4.indexOf('moov')).toBeLessThan(mp4.indexOf('mdat')); // the index first: plays before it is all loaded
    const lineClip = lineEv.clip!;
    expect(lineClip.durationMs).toBeGreaterThanOrEqual(1500); // pre-roll (from a keyframe) + post-roll around an instant

    // Deleting the event deletes its files; another's are untouched.
    const files = filesUnder(dir);
    const zonePaths = [...files.keys()].filter(
      (p) => p.endsWith(`/${zoneEv.id}-${snap.seq}.jpg`) || p.endsWith(`/${zoneEv.id}.mp4`),
    );
    expect(zonePaths).toHaveLength(2);
    expect((await api(url, `/api/events/${zoneEv.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(url, snap.url)).status).toBe(404);
    for (const p of zonePaths) expect(filesUnder(dir).has(p), p).toBe(false);
    expect(filesUnder(dir).has(`yard/${lineEv.startedAt.slice(0, 10)}/${lineEv.id}.mp4`)).toBe(true);
    expect((await api(url, `/api/events/${lineEv.id}/nothing.mp4`)).status).toBe(404);

    // Stopped: the database and the media directory agree, file for file and byte for byte.
    await daemon.close();
    running = null;
    const rows = mediaRows(daemon.config.data_dir!);
    expect(rows.size).toBeGreaterThanOrEqual(3);
    expect(filesUnder(dir, true)).toEqual(rows);
  }, 300_000);

  it('retention: with a quota smaller than the data, the oldest events go and the database and disk agree', async () => {
    const quotaMb = 1;
    const { daemon, url } = await startDaemon(
      [
        {
          id: 'yard',
          url: h264,
          loop: true,
          lines: [
            {
              id: 'middle',
              points: [
                [384, 0],
                [384, 576],
              ],
              classes: ['person'],
            },
          ],
        },
      ],
      {
        detect: { enabled: true, tracker: { min_hits: 2, max_age: 10 } },
        media: {
          clips: { pre_roll_seconds: 1, post_roll_seconds: 1 },
          retention: { max_mb: quotaMb, min_free_mb: 0, check_seconds: 1 },
        },
      },
    );
    running = daemon;
    const announced = new Set<number>();
    daemon.on('event', (_kind: string, ev: ZoneEvent) => announced.add(ev.id));
    const media = async () =>
      (
        (await (await api(url, '/api/health')).json()) as {
          media: { clips: number; bytes: number; retention: { quota: number } };
        }
      ).media;
    await waitFor(
      async () => (await media()).retention.quota >= 3,
      200_000,
      'retention deleting 3 events for the quota',
    );
    const seen = await media();
    expect(seen.bytes).toBeLessThanOrEqual(quotaMb * 1024 * 1024 + 400 * 1024); // at most the clips since the last sweep over
    await daemon.close();
    running = null;
    const rows = mediaRows(daemon.config.data_dir!);
    const onDisk = filesUnder(daemon.mediaDir!, true);
    expect(onDisk).toEqual(rows);
    const total = [...rows.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(quotaMb * 1024 * 1024);
    // The oldest went: every event deleted is older than every event that kept its files.
    const db = new Database(join(daemon.config.data_dir!, 'vigil.db'), { readonly: true });
    const kept = new Set(db.prepare('SELECT id FROM events').pluck().all() as number[]);
    const withMedia = db.prepare('SELECT DISTINCT event_id FROM event_media').pluck().all() as number[];
    db.close();
    const deleted = [...announced].filter((id) => !kept.has(id));
    expect(deleted.length).toBeGreaterThanOrEqual(3);
    expect(withMedia.length).toBeGreaterThan(0);
    expect(Math.max(...deleted)).toBeLessThan(Math.min(...withMedia));
    console.log(
      `retention: quota ${quotaMb} MB, ${deleted.length} events deleted, ${withMedia.length} kept with ${rows.size} files, ${(total / 1024).toFixed(0)} KB`,
    );
  }, 300_000);
});
