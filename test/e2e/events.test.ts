import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import type { DetectionEvent } from '../../src/detect/DetectionService.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import type { ZoneEvent } from '../../src/events/ZoneWatcher.js';
import { api, login, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';

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

const json = async (url: string, path: string, init?: RequestInit) => {
  const res = await api(url, path, init);
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
};

describe('tracks, zones and events', () => {
  it('tracks people, opens and closes zone events, stores them in SQLite and serves them over the REST API', async () => {
    const { daemon, url } = await startDaemon(
      [
        {
          id: 'yard',
          url: h264,
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
            {
              id: 'left',
              polygon: [
                [0, 0],
                [384, 0],
                [384, 576],
                [0, 576],
              ],
              classes: ['person'],
              min_dwell_ms: 500,
            },
          ],
        },
      ],
      { detect: { enabled: true, tracker: { min_hits: 3, max_age: 10 } } },
    );
    running = daemon;
    const announced: Array<{ kind: string; ev: ZoneEvent }> = [];
    daemon.on('event', (kind: string, ev: ZoneEvent) => announced.push({ kind, ev }));
    const tracked = new Map<number, number>(); // track id → detections
    daemon.on('detections', (ev: DetectionEvent) => {
      for (const d of ev.detections as Array<DetectionEvent['detections'][number] & { trackId: number | null }>) {
        if (d.trackId !== null) tracked.set(d.trackId, (tracked.get(d.trackId) ?? 0) + 1);
      }
    });
    await waitFor(
      () =>
        announced.filter((a) => a.kind === 'close').length >= 2 &&
        announced.filter((a) => a.kind === 'open').length >= 4,
      60_000,
      'zone events opening and closing',
    );
    // Tracks persist: the people of vtest are each seen over many frames under one id.
    expect([...tracked.values()].filter((n) => n >= 10).length).toBeGreaterThanOrEqual(2);

    // The REST API, newest first, with filters and paging.
    const all = await json(url, '/api/events?camera=yard&zone=all&label=person&limit=2');
    expect(all.status).toBe(200);
    const page1 = all.body!.events as ZoneEvent[];
    expect(page1).toHaveLength(2);
    expect(page1[0]!.id).toBeGreaterThan(page1[1]!.id);
    expect(page1.every((e) => e.camera === 'yard' && e.zone === 'all' && e.label === 'person')).toBe(true);
    expect(all.body!.next).toBe(page1[1]!.id);
    const page2 = (await json(url, `/api/events?zone=all&limit=2&before=${all.body!.next}`)).body!
      .events as ZoneEvent[];
    expect(page2.every((e) => e.id < page1[1]!.id)).toBe(true);
    expect(
      (await json(url, `/api/events?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body!
        .events,
    ).toEqual([]);
    const one = await json(url, `/api/events/${page1[0]!.id}`);
    expect(one.body).toMatchObject({ id: page1[0]!.id, camera: 'yard', zone: 'all', label: 'person', classId: 0 });
    expect((one.body as unknown as ZoneEvent).bestBox.x2).toBeGreaterThan(
      (one.body as unknown as ZoneEvent).bestBox.x1,
    );

    // Bad requests name what is wrong; unknown ones are 404.
    const bad = async (path: string, status: number, message: RegExp) => {
      const r = await json(url, path);
      expect(r.status, path).toBe(status);
      expect(r.body!.message, path).toMatch(message);
    };
    await bad('/api/events?limit=0', 400, /limit/);
    await bad('/api/events?from=yesterday', 400, /ISO 8601 time .* for from/);
    await bad('/api/events?color=red', 400, /color/);
    await bad('/api/events?camera=nope', 404, /No camera with id 'nope'/);
    await bad('/api/events/abc', 400, /Expected an event id \(a positive integer\) for id but received 'abc'/);
    await bad('/api/events/99999999', 404, /No event 99999999/);

    // A viewer of other cameras sees none of these events, and may not delete.
    expect(
      (
        await json(url, '/api/users/guard', {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: 'guard-password', role: 'viewer', cameras: ['gate'] }),
        })
      ).status,
    ).toBe(200);
    const guard = await login(url, 'guard', 'guard-password');
    const asGuard = (path: string, method = 'GET') =>
      fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${guard}` } });
    expect(((await (await asGuard('/api/events')).json()) as { events: unknown[] }).events).toEqual([]);
    expect((await asGuard(`/api/events/${page1[0]!.id}`)).status).toBe(404);
    expect((await asGuard(`/api/events/${page1[0]!.id}`, 'DELETE')).status).toBe(403);

    // Delete: gone from the API and the database, and a later close does not bring it back.
    const victim = page1[1]!.id;
    expect((await json(url, `/api/events/${victim}`, { method: 'DELETE' })).status).toBe(204);
    expect((await json(url, `/api/events/${victim}`)).status).toBe(404);

    // Stopping closes what is open and writes everything: the SQLite file holds every event
    // announced, closed, with what was announced last.
    await daemon.close();
    running = null;
    const db = new Database(join(daemon.config.data_dir!, 'vigil.db'), { readonly: true });
    const rows = db
      .prepare(
        'SELECT id, camera, zone, track_id AS trackId, label, ended_at AS endedAt, best_score AS bestScore, frames FROM events ORDER BY id',
      )
      .all() as ZoneEvent[];
    db.close();
    const last = new Map<number, ZoneEvent>();
    for (const a of announced) last.set(a.ev.id, a.ev);
    last.delete(victim);
    expect(rows.map((r) => r.id)).toEqual([...last.keys()].sort((a, b) => a - b));
    for (const r of rows) {
      const a = last.get(r.id)!;
      expect(r).toMatchObject({
        camera: 'yard',
        zone: a.zone,
        trackId: a.trackId,
        label: 'person',
        bestScore: a.bestScore,
        frames: a.frames,
      });
      expect(r.endedAt).not.toBeNull();
    }
    expect(rows.some((r) => r.zone === 'left')).toBe(true);
  }, 120_000);

  it('rejects bad zones in the config with the field named', async () => {
    await expect(
      startDaemon([
        {
          id: 'yard',
          url: h264,
          zones: [
            {
              id: 'z',
              polygon: [
                [0, 0],
                [1, 1],
              ],
            },
          ],
        },
      ]),
    ).rejects.toThrow(/cameras\[0\]\.zones\[0\]\.polygon/);
    await expect(
      startDaemon([
        {
          id: 'yard',
          url: h264,
          zones: [
            {
              id: 'z',
              polygon: [
                [0, 0],
                [9, 0],
                [9, 9],
              ],
              classes: ['unicorn'],
            },
          ],
        },
      ]),
    ).rejects.toThrow(/COCO class name .*unicorn|cameras\[0\]\.zones\[0\]\.classes\[0\]/);
    await expect(
      startDaemon([
        {
          id: 'yard',
          url: h264,
          zones: [
            {
              id: 'z',
              polygon: [
                [0, 0],
                [9, 0],
                [9, 9],
              ],
            },
            {
              id: 'z',
              polygon: [
                [0, 0],
                [9, 0],
                [9, 9],
              ],
            },
          ],
        },
      ]),
    ).rejects.toThrow(
      /rule id not already used by another zone or line of this camera for cameras\[0\]\.zones\[1\]\.id/,
    );
    await expect(
      startDaemon([
        {
          id: 'yard',
          url: h264,
          zones: [
            {
              id: 'z',
              polygon: [
                [0, 0],
                [9, 0],
                [9, 9],
              ],
            },
          ],
          lines: [
            {
              id: 'z',
              points: [
                [0, 0],
                [9, 9],
              ],
            },
          ],
        },
      ]),
    ).rejects.toThrow(/cameras\[0\]\.lines\[0\]\.id/);
    await expect(
      startDaemon([
        {
          id: 'yard',
          url: h264,
          lines: [
            {
              id: 'l',
              points: [
                [5, 5],
                [5, 5],
              ],
            },
          ],
        },
      ]),
    ).rejects.toThrow(/two different points .*cameras\[0\]\.lines\[0\]\.points/);
    await expect(
      startDaemon([
        {
          id: 'yard',
          url: h264,
          lines: [
            {
              id: 'l',
              points: [
                [0, 0],
                [9, 9],
              ],
              direction: 'up',
            },
          ],
        },
      ]),
    ).rejects.toThrow(/cameras\[0\]\.lines\[0\]\.direction/);
  });
});
