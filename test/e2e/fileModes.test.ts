import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import { Store } from '../../src/store/Store.js';
import { api, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tempDir.js';

let running: Daemon | null = null;
let h264 = '';
let umaskBefore = 0;
beforeAll(async () => {
  h264 = await ensureClip('h264');
  fp32OnnxPath();
}, 300_000);

afterEach(async () => {
  await running?.close();
  running = null;
  process.umask(umaskBefore);
});

/** Every entry under `root` (not root itself): path relative to root → permission bits. */
function modesUnder(root: string): Map<string, { mode: number; dir: boolean }> {
  const out = new Map<string, { mode: number; dir: boolean }>();
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue; // a part or temp file renamed or removed since the listing
    }
    out.set(relative(root, p), { mode: st.mode & 0o777, dir: st.isDirectory() });
  }
  return out;
}

describe('file modes', () => {
  it('everything the daemon creates in an existing data dir is 0600/0700 under umask 022; the dir keeps its mode', async () => {
    umaskBefore = process.umask(0o022); // a shell's usual umask: run outside systemd
    const dataDir = join(tempDir('vigil-modes-'), 'state');
    mkdirSync(dataDir, { mode: 0o755 }); // the user made it, world-readable
    const { daemon, url } = await startDaemon(
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
        },
      ],
      {
        data_dir: dataDir,
        detect: { enabled: true, tracker: { min_hits: 2, max_age: 10 } },
        media: {
          clips: { pre_roll_seconds: 1, post_roll_seconds: 1, max_seconds: 5 },
          snapshots: { min_interval_ms: 300 },
        },
      },
    );
    running = daemon;
    // Media files are private by their own modes too, not only by the umask the daemon set.
    process.umask(0o022);
    await waitFor(
      async () => {
        const { events } = (await (await api(url, '/api/events')).json()) as {
          events: Array<{ snapshot: unknown; clip: unknown }>;
        };
        return events.some((e) => e.snapshot && e.clip);
      },
      100_000,
      'an event with a snapshot and a clip',
    );
    const live = modesUnder(dataDir); // while running: the database's -wal and -shm exist
    await daemon.close();
    running = null;
    const after = modesUnder(dataDir);
    const all = new Map([...live, ...after]);
    const names = [...all.keys()];
    expect(names).toEqual(expect.arrayContaining(['vigil.db', 'users.json', 'media', join('media', 'yard')]));
    expect(names.some((n) => n.endsWith('-wal'))).toBe(true);
    expect(names.some((n) => n.endsWith('.jpg'))).toBe(true);
    expect(names.some((n) => n.endsWith('.mp4'))).toBe(true);
    const wrong = [...all]
      .filter(([, m]) => m.mode !== (m.dir ? 0o700 : 0o600))
      .map(([n, m]) => `${n} ${m.mode.toString(8)}`);
    expect(wrong).toEqual([]);
    expect(statSync(dataDir).mode & 0o777).toBe(0o755);
  });

  it('the database and its -wal/-shm are 0600 by their own mode under umask 022; an older readable one is tightened', () => {
    umaskBefore = process.umask(0o022);
    const dir = tempDir('vigil-modes-');
    const path = join(dir, 'vigil.db');
    const store = new Store(path);
    store.closeOpenEvents(new Date().toISOString());
    const modes = [path, `${path}-wal`, `${path}-shm`].map((f) => (statSync(f).mode & 0o777).toString(8));
    store.close();
    expect(modes).toEqual(['600', '600', '600']);
    const old = join(dir, 'old.db');
    new Store(old).close();
    chmodSync(old, 0o644);
    new Store(old).close();
    expect((statSync(old).mode & 0o777).toString(8)).toBe('600');
  });
});
