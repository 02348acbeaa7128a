import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';

import type { BudgetEvent } from '../budget/BudgetGuard.js';
import { MIGRATIONS } from './migrations.js';

export interface BudgetEventQuery {
  camera?: string;
  /** Only cameras in this set (a viewer's cameras); undefined = all. */
  cameras?: Set<string>;
  limit: number;
}

/**
 * Vigil's SQLite database (better-sqlite3, WAL): schema by numbered migrations, written on the
 * main thread. A database newer than this build is refused rather than guessed at.
 */
export class Store {
  private readonly db: Database.Database;
  private readonly insertBudget: Database.Statement;

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
