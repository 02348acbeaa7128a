import { mkdirSync } from 'node:fs';
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
  zone?: string;
  /** ISO times: started at or after `from`, before `to`. */
  from?: string;
  to?: string;
  /** Paging: events with ids below this (the previous page's last id). */
  before?: number;
  limit: number;
}

const EVENT_COLUMNS = `id, camera, zone, track_id AS trackId, class_id AS classId, label, started_at AS startedAt,
  ended_at AS endedAt, best_score AS bestScore, best_box AS bestBox, best_seq AS bestSeq, frames`;

function eventOf(row: Record<string, unknown>): ZoneEvent {
  return { ...(row as unknown as ZoneEvent), bestBox: JSON.parse(row.bestBox as string) as ZoneEvent['bestBox'] };
}

/**
 * Vigil's SQLite database (better-sqlite3, WAL): schema by numbered migrations, written on the
 * main thread. A database newer than this build is refused rather than guessed at.
 */
export class Store {
  private readonly db: Database.Database;
  private readonly insertBudget: Database.Statement;
  private readonly upsertEvent: Database.Statement;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    try {
      const current = this.schemaVersion;
      const latest = MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest) throw new Error(`${path} has schema version ${current}, newer than this build knows (${latest}): upgrade Vigil or restore the database`);
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
      `INSERT INTO events (id, camera, zone, track_id, class_id, label, started_at, ended_at, best_score, best_box, best_seq, frames)
       VALUES (@id, @camera, @zone, @trackId, @classId, @label, @startedAt, @endedAt, @bestScore, @bestBox, @bestSeq, @frames)
       ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, best_score = excluded.best_score, best_box = excluded.best_box,
         best_seq = excluded.best_seq, frames = excluded.frames`,
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

  events(q: EventQuery): ZoneEvent[] {
    const cams = [...q.cameras].filter((c) => q.camera === undefined || c === q.camera);
    if (cams.length === 0) return [];
    const where = [`camera IN (${cams.map(() => '?').join(', ')})`];
    const args: Array<string | number> = [...cams];
    for (const [col, v] of [['label', q.label], ['zone', q.zone]] as const) {
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
    const rows = this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`).all(...args, q.limit);
    return (rows as Array<Record<string, unknown>>).map(eventOf);
  }

  event(id: number): ZoneEvent | null {
    const row = this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
    return row ? eventOf(row) : null;
  }

  /** true when it existed. */
  deleteEvent(id: number): boolean {
    return this.db.prepare('DELETE FROM events WHERE id = ?').run(id).changes > 0;
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
