import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { ZoneEvent } from '../../src/events/ZoneWatcher.js';
import { mediaPath } from '../../src/media/EventMedia.js';
import { MEDIA_MARKER } from '../../src/media/files.js';
import { mediaSchema } from '../../src/media/mediaConfig.js';
import { reconcileMedia, Retention } from '../../src/media/Retention.js';
import { Store } from '../../src/store/Store.js';
import { createLogger } from '../../src/util/logger.js';
import { filesUnder } from '../helpers/media.js';
import { tempDir } from '../helpers/tempDir.js';

const KB = 1024;
const DAY = 86_400_000;

/** A real store and media directory: `n` events, each with a snapshot and a clip file of real bytes. */
function fixture(n: number, opts: { openLast?: boolean; ageDays?: (id: number) => number } = {}) {
  const root = tempDir('vigil-retention-');
  const store = new Store(join(root, 'vigil.db'));
  const media = join(root, 'media');
  mkdirSync(media);
  writeFileSync(join(media, MEDIA_MARKER), ''); // as the daemon leaves it
  for (let id = 1; id <= n; id++) {
    const started = new Date(Date.now() - (opts.ageDays?.(id) ?? 0) * DAY - (n - id) * 1000).toISOString();
    const ev: ZoneEvent = {
      id,
      camera: id % 2 ? 'a' : 'b',
      type: 'zone',
      zone: 'door',
      direction: null,
      trackId: id,
      classId: 0,
      label: 'person',
      startedAt: started,
      endedAt: opts.openLast && id === n ? null : started,
      bestScore: 0.9,
      bestBox: { x1: 0, y1: 0, x2: 9, y2: 9 },
      bestSeq: id,
      frames: 3,
    };
    store.writeEvents([ev]);
    for (const [ext, bytes] of [
      ['jpg', 40 * KB],
      ['mp4', 60 * KB],
    ] as const) {
      const rel = mediaPath(ev, ext);
      mkdirSync(join(media, rel, '..'), { recursive: true });
      writeFileSync(join(media, rel), Buffer.alloc(bytes, id));
      if (ext === 'jpg')
        store.putMedia({
          eventId: id,
          kind: 'snapshot',
          path: rel,
          bytes,
          info: { seq: id, score: 0.9, box: ev.bestBox, width: 768, height: 576 },
        });
      else
        store.putMedia({
          eventId: id,
          kind: 'clip',
          path: rel,
          bytes,
          info: { durationMs: 3000, startedAt: started, packets: 30 },
        });
    }
  }
  return { store, media };
}

const cfg = (r: Record<string, unknown>) =>
  mediaSchema.parse({ retention: { max_age_days: 0, max_mb: 0, min_free_mb: 0, ...r } }).retention;
const ids = (store: Store) =>
  store
    .events({ cameras: new Set(['a', 'b']), limit: 1000 })
    .map((e) => e.id)
    .sort((x, y) => x - y);

describe('retention', () => {
  it('a quota smaller than the data: the oldest events go (rows and files), busy and open ones stay, DB and disk agree', async () => {
    const { store, media } = fixture(12, { openLast: true }); // 12 × 100 KB; event 12 still open
    const busy = new Set([2]); // still writing its clip
    const r = new Retention(store, media, cfg({ max_mb: 500 / 1024 }), (id) => busy.has(id), createLogger('silent'));
    const res = await r.sweep();
    // 1.2 MB down to ≤ 500 KB: 7 events of 100 KB, oldest first, skipping the busy one.
    expect(res).toMatchObject({ quota: 7, aged: 0, freedBytes: 700 * KB, mediaBytes: 500 * KB });
    expect(ids(store)).toEqual([2, 9, 10, 11, 12]);
    expect(store.mediaBytes()).toBeLessThanOrEqual(500 * KB);
    expect(filesUnder(media, true)).toEqual(store.mediaFiles()); // file for file, byte for byte
    // Nothing more to do within the quota.
    expect((await r.sweep()).quota).toBe(0);
    store.close();
  });

  it("deletes events older than max_age_days, with no media too; keeps the filesystem's free space", async () => {
    const { store, media } = fixture(6, { ageDays: (id) => (id <= 2 ? 40 : 0) });
    const r = new Retention(store, media, cfg({ max_age_days: 30 }), () => false, createLogger('silent'));
    expect(await r.sweep()).toMatchObject({ aged: 2, quota: 0 });
    expect(ids(store)).toEqual([3, 4, 5, 6]);
    // 150 KB short of the free space wanted: two more events (100 KB each) go.
    let free = 874 * KB;
    const r2 = new Retention(
      store,
      media,
      cfg({ min_free_mb: 1 }),
      () => false,
      createLogger('silent'),
      async () => free,
    );
    expect((await r2.sweep()).quota).toBe(2);
    expect(ids(store)).toEqual([5, 6]);
    free = 2 * 1024 * KB;
    expect((await r2.sweep()).quota).toBe(0);
    expect(filesUnder(media, true)).toEqual(store.mediaFiles());
    store.close();
  });

  it('reconcile after a crash: files no row names are deleted, rows whose file is gone are removed', async () => {
    const { store, media } = fixture(3);
    const day = new Date().toISOString().slice(0, 10);
    writeFileSync(join(media, 'a', day, '7.mp4.part'), Buffer.alloc(1000)); // a clip cut by the crash
    writeFileSync(join(media, 'b', day, '8.jpg'), Buffer.alloc(1000)); // a snapshot written just before its row
    const gone = [...store.mediaFiles().keys()][0]!;
    rmSync(join(media, gone));
    const cutShort = [...store.mediaFiles().keys()][1]!;
    writeFileSync(join(media, cutShort), Buffer.alloc(10)); // a power cut kept the row, not the data
    writeFileSync(join(media, 'a', day, 'notes.txt'), 'not ours');
    expect(await reconcileMedia(store, media)).toEqual({ orphanFiles: 2, missingFiles: 2, skipped: null });
    expect(filesUnder(media).has(`a/${day}/notes.txt`)).toBe(true); // not a name Vigil writes: left alone
    rmSync(join(media, 'a', day, 'notes.txt'));
    expect(filesUnder(media, true)).toEqual(store.mediaFiles());
    expect(store.mediaFiles().size).toBe(4);
    expect(await reconcileMedia(store, media)).toEqual({ orphanFiles: 0, missingFiles: 0, skipped: null });
    store.close();
  });

  it('reconcile leaves a missing or unmarked directory alone while the database names files (a disk not mounted yet)', async () => {
    const { store, media } = fixture(2);
    const rows = store.mediaFiles();
    const elsewhere = join(media, '..', 'unmounted');
    const r = await reconcileMedia(store, elsewhere);
    expect(r.skipped).toMatch(/unmounted is missing but the database names 4 media files/);
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'vigil.db'), 'precious');
    expect((await reconcileMedia(store, elsewhere)).skipped).toMatch(/not marked as Vigil's media directory/);
    expect(store.mediaFiles()).toEqual(rows); // no row forgotten
    expect(filesUnder(elsewhere).has('vigil.db')).toBe(true);
    store.close();
  });
});
