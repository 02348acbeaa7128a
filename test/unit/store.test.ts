import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { Store } from '../../src/store/Store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { tempDir } from '../helpers/tempDir.js';

const event = (camera: string, kind: 'breach' | 'recovered', at: string) => ({
  camera,
  kind,
  at,
  budgetMs: 200,
  policy: 'newest_wins' as const,
  latencyMs: 250,
  durationMs: kind === 'recovered' ? 1200 : null,
  dropped: kind === 'recovered' ? 7 : null,
});

describe('store (a real SQLite file)', () => {
  it('migrates a new file once, in WAL mode; events survive a reopen; newest first, filtered and limited', () => {
    const path = join(tempDir('vigil-store-'), 'sub', 'vigil.db');
    const s1 = new Store(path);
    expect(s1.schemaVersion).toBe(MIGRATIONS.at(-1)!.version);
    s1.addBudgetEvent(event('a', 'breach', '2026-11-25T10:00:00.000Z'));
    s1.addBudgetEvent(event('b', 'breach', '2026-11-25T10:00:01.000Z'));
    s1.addBudgetEvent(event('a', 'recovered', '2026-11-25T10:00:02.000Z'));
    s1.close();
    const s2 = new Store(path); // migrations are not applied twice (they would fail: the table exists)
    expect(s2.budgetEvents({ limit: 10 }).map((e) => `${e.camera}:${e.kind}`)).toEqual([
      'a:recovered',
      'b:breach',
      'a:breach',
    ]);
    expect(s2.budgetEvents({ camera: 'a', limit: 1 })).toEqual([
      { id: 3, ...event('a', 'recovered', '2026-11-25T10:00:02.000Z') },
    ]);
    expect(s2.budgetEvents({ cameras: new Set(['b']), limit: 10 }).map((e) => e.camera)).toEqual(['b']);
    s2.close();
    const raw = new Database(path);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('refuses a database from a newer Vigil, saying so, and leaves it untouched', () => {
    const path = join(tempDir('vigil-store-'), 'vigil.db');
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => new Store(path)).toThrow(
      `${path} has schema version 99, newer than this build knows (${MIGRATIONS.at(-1)!.version}): upgrade Vigil or restore the database`,
    );
    const again = new Database(path);
    expect(again.pragma('user_version', { simple: true })).toBe(99);
    expect(again.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(again.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({ n: 0 });
    again.close();
  });
});
