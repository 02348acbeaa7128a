import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';

import type { BudgetEvent } from '../budget/BudgetGuard.js';
import type { ZoneEvent } from '../events/ZoneWatcher.js';
import { MIGRATIONS } from './migrations.js';

export interface BudgetEventQuery {
  camera?: string;
  /** Only cameras in this set (a viewer's cameras); undefined = all. */
  cameras?: Set<string>;
  limit: number;
}

export interface EventQuery {
  camera?: string;
  /** Only cameras in this set (a viewer's cameras). */
  cameras: Set<string>;
  label?: string;
  type?: 'zone' | 'line';
  zone?: string;
  /** ISO times: started at or after `from`, before `to`. */
  from?: string;
  to?: string;
  /** Paging: events with ids below this (the previous page's last id). */
  before?: number;
  limit: number;
}

const EVENT_COLUMNS = `id, camera, type, zone, direction, track_id AS trackId, class_id AS classId, label, started_at AS startedAt,
  ended_at AS endedAt, best_score AS bestScore, best_box AS bestBox, best_seq AS bestSeq, frames`;

/** A snapshot's facts: the frame it shows, and the detection it was taken for. */
export interface SnapshotInfo {
  seq: number;
  score: number;
  box: ZoneEvent['bestBox'];
  width: number;
  height: number;
}

/** A clip's facts: its length, and where it starts on the wall clock. */
export interface ClipInfo {
  durationMs: number;
  startedAt: string;
  packets: number;
}

/** A file of an event under the media directory (`path` relative to it). */
export type EventMedia =
  | { eventId: number; kind: 'snapshot'; path: string; bytes: number; info: SnapshotInfo }
  | { eventId: number; kind: 'clip'; path: string; bytes: number; info: ClipInfo };

/** An event as stored, with its snapshot and clip when it has them. */
export type StoredEvent = ZoneEvent & {
  snapshot: (SnapshotInfo & { path: string; bytes: number }) | null;
  clip: (ClipInfo & { path: string; bytes: number }) | null;
};

function eventOf(row: Record<string, unknown>): ZoneEvent {
  return { ...(row as unknown as ZoneEvent), bestBox: JSON.parse(row.bestBox as string) as ZoneEvent['bestBox'] };
}

/** An event a retention pass may delete, with the bytes its files hold. */
export interface RetentionCandidate {
  id: number;
  startedAt: string;
  bytes: number;
}

/**
 * Vigil's SQLite database (better-sqlite3, WAL): schema by numbered migrations, written on the
 * main thread. A database newer than this build is refused rather than guessed at.
 */
export class Store {
  private readonly db: Database.Database;
  private readonly insertBudget: Database.Statement;
  private readonly upsertEvent: Database.Statement;
  private readonly upsertMedia: Database.Statement;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // SQLite makes the database 0644 (less the umask) and gives its -wal and -shm the database's
    // mode: made 0600 first, they all stay private; one an older run left readable is tightened.
    closeSync(openSync(path, 'a', 0o600));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) privateMode(f);
    this.db = new Database(path);
    try {
      const current = this.schemaVersion;
      const latest = MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest)
        throw new Error(
          `${path} has schema version ${current}, newer than this build knows (${latest}): upgrade Vigil or restore the database`,
        );
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.migrate(current);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.insertBudget = this.db.prepare(
      'INSERT INTO budget_events (camera, kind, at, budget_ms, policy, latency_ms, duration_ms, dropped) VALUES (@camera, @kind, @at, @budgetMs, @policy, @latencyMs, @durationMs, @dropped)',
    );
    // An event's whole state: inserted when it opens, updated as it closes (one statement for both).
    this.upsertEvent = this.db.prepare(
      `INSERT INTO events (id, camera, type, zone, direction, track_id, class_id, label, started_at, ended_at, best_score, best_box, best_seq, frames)
       VALUES (@id, @camera, @type, @zone, @direction, @trackId, @classId, @label, @startedAt, @endedAt, @bestScore, @bestBox, @bestSeq, @frames)
       ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, best_score = excluded.best_score, best_box = excluded.best_box,
         best_seq = excluded.best_seq, frames = excluded.frames`,
    );
    this.upsertMedia = this.db.prepare(
      `INSERT INTO event_media (event_id, kind, path, bytes, info, written_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (event_id, kind) DO UPDATE SET path = excluded.path, bytes = excluded.bytes, info = excluded.info, written_at = excluded.written_at`,
    );
  }

  /**
   * Events a previous run left open (it stopped without closing them: a crash) are closed as
   * of `at`; returns how many.
   */
  closeOpenEvents(at: string): number {
    return this.db.prepare('UPDATE events SET ended_at = ? WHERE ended_at IS NULL').run(at).changes;
  }

  /** The largest event id stored (new events are numbered after it). */
  maxEventId(): number {
    return (this.db.prepare('SELECT MAX(id) AS m FROM events').get() as { m: number | null }).m ?? 0;
  }

  /** Writes events' states (opened or closed) in one transaction: all or none. */
  writeEvents(events: readonly ZoneEvent[]): void {
    this.db.transaction(() => {
      for (const ev of events) this.upsertEvent.run({ ...ev, bestBox: JSON.stringify(ev.bestBox) });
    })();
  }

  events(q: EventQuery): StoredEvent[] {
    const cams = [...q.cameras].filter((c) => q.camera === undefined || c === q.camera);
    if (cams.length === 0) return [];
    const where = [`camera IN (${cams.map(() => '?').join(', ')})`];
    const args: Array<string | number> = [...cams];
    for (const [col, v] of [
      ['label', q.label],
      ['type', q.type],
      ['zone', q.zone],
    ] as const) {
      if (v !== undefined) {
        where.push(`${col} = ?`);
        args.push(v);
      }
    }
    if (q.from !== undefined) {
      where.push('started_at >= ?');
      args.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('started_at < ?');
      args.push(q.to);
    }
    if (q.before !== undefined) {
      where.push('id < ?');
      args.push(q.before);
    }
    const rows = this.db
      .prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`)
      .all(...args, q.limit);
    return this.withMedia((rows as Array<Record<string, unknown>>).map(eventOf));
  }

  event(id: number): StoredEvent | null {
    const row = this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ?`).get(id) as
      Record<string, unknown> | undefined;
    return row ? this.withMedia([eventOf(row)])[0]! : null;
  }

  private withMedia(events: ZoneEvent[]): StoredEvent[] {
    const out: StoredEvent[] = events.map((ev) => ({ ...ev, snapshot: null, clip: null }));
    if (out.length === 0) return out;
    const byId = new Map(out.map((ev) => [ev.id, ev]));
    const rows = this.db
      .prepare(
        `SELECT event_id AS eventId, kind, path, bytes, info FROM event_media WHERE event_id IN (${out.map(() => '?').join(', ')})`,
      )
      .all(...byId.keys()) as Array<{
      eventId: number;
      kind: 'snapshot' | 'clip';
      path: string;
      bytes: number;
      info: string;
    }>;
    for (const r of rows) {
      const ev = byId.get(r.eventId)!;
      const info = JSON.parse(r.info) as SnapshotInfo & ClipInfo;
      if (r.kind === 'snapshot') ev.snapshot = { ...info, path: r.path, bytes: r.bytes };
      else ev.clip = { ...info, path: r.path, bytes: r.bytes };
    }
    return out;
  }

  /**
   * Deletes events (rows and media rows) in one transaction; returns the media paths they
   * held, for the caller to delete after (a crash between leaves files no row names, which
   * reconcileMedia removes) and the ids that existed.
   */
  deleteEvents(ids: readonly number[]): { deleted: number[]; paths: string[] } {
    const deleted: number[] = [];
    const paths: string[] = [];
    const mediaOf = this.db.prepare('SELECT path FROM event_media WHERE event_id = ?').pluck();
    const del = this.db.prepare('DELETE FROM events WHERE id = ?');
    this.db.transaction(() => {
      for (const id of ids) {
        const p = mediaOf.all(id) as string[];
        if (del.run(id).changes > 0) {
          deleted.push(id);
          paths.push(...p);
        }
      }
    })();
    return { deleted, paths };
  }

  /** Records an event's snapshot or clip (the file is already whole on disk); replaces the previous one of its kind. Throws when the event is gone. */
  putMedia(m: EventMedia): void {
    this.upsertMedia.run(m.eventId, m.kind, m.path, m.bytes, JSON.stringify(m.info), new Date().toISOString());
  }

  /** Every media row's path and bytes (reconciling the media directory). */
  mediaFiles(): Map<string, number> {
    const rows = this.db.prepare('SELECT path, bytes FROM event_media').all() as Array<{ path: string; bytes: number }>;
    return new Map(rows.map((r) => [r.path, r.bytes]));
  }

  /** Removes media rows by path (their files are gone); returns how many. */
  forgetMedia(paths: readonly string[]): number {
    const del = this.db.prepare('DELETE FROM event_media WHERE path = ?');
    let n = 0;
    this.db.transaction(() => {
      for (const p of paths) n += del.run(p).changes;
    })();
    return n;
  }

  /** Bytes of every snapshot and clip. */
  mediaBytes(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(bytes), 0) AS b FROM event_media').get() as { b: number }).b;
  }

  /** Closed events, oldest first (by id: numbered as they open), with their media bytes; `before` pages. */
  oldestEvents(limit: number, afterId = 0): RetentionCandidate[] {
    return this.db
      .prepare(
        `SELECT e.id, e.started_at AS startedAt, COALESCE(SUM(m.bytes), 0) AS bytes FROM events e LEFT JOIN event_media m ON m.event_id = e.id
       WHERE e.ended_at IS NOT NULL AND e.id > ? GROUP BY e.id ORDER BY e.id LIMIT ?`,
      )
      .all(afterId, limit) as RetentionCandidate[];
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(current: number): void {
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.version}`);
      })();
    }
  }

  addBudgetEvent(ev: BudgetEvent): number {
    return Number(this.insertBudget.run(ev).lastInsertRowid);
  }

  budgetEvents(q: BudgetEventQuery): Array<BudgetEvent & { id: number }> {
    const rows = this.db
      .prepare(
        `SELECT id, camera, kind, at, budget_ms AS budgetMs, policy, latency_ms AS latencyMs, duration_ms AS durationMs, dropped
         FROM budget_events ${q.camera ? 'WHERE camera = ?' : ''} ORDER BY id DESC`,
      )
      .iterate(...(q.camera ? [q.camera] : [])) as IterableIterator<BudgetEvent & { id: number }>;
    const out: Array<BudgetEvent & { id: number }> = [];
    for (const r of rows) {
      if (q.cameras && !q.cameras.has(r.camera)) continue;
      out.push(r);
      if (out.length >= q.limit) break;
    }
    return out;
  }

  close(): void {
    this.db.close();
  }
}

/** chmod 0600 a file of ours that is more open (absent, or not ours to change: left as it is). */
function privateMode(file: string): void {
  try {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EPERM') throw err;
  }
}
