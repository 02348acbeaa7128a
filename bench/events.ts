// npm run bench:events — events/s the store sustains: each event written twice (opened, then
// closed) as the daemon does it (EventLog: the states of 100 ms in one transaction), against
// one transaction per state (autocommit, the naive way), same machine, same run, real SQLite
// files in WAL mode (synchronous NORMAL, as the daemon opens them).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ZoneEvent } from '../src/events/ZoneWatcher.js';
import { Store } from '../src/store/Store.js';
import { writeResult } from './record.js';

const N = Number(process.env.BENCH_EVENTS ?? 20_000);
const event = (id: number, closed: boolean): ZoneEvent => ({
  id,
  camera: `cam${id % 8}`,
  type: 'zone',
  zone: 'door',
  direction: null,
  trackId: id,
  classId: 0,
  label: 'person',
  startedAt: new Date(1_764_000_000_000 + id * 100).toISOString(),
  endedAt: closed ? new Date(1_764_000_000_000 + id * 100 + 5000).toISOString() : null,
  bestScore: 0.8,
  bestBox: { x1: 10, y1: 20, x2: 110, y2: 220 },
  bestSeq: id,
  frames: 12,
});

/** Writes N events (open, then close 50 events later), `perTx` states a transaction; events/s. */
function run(perTx: number, n: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-events-'));
  const store = new Store(join(dir, 'vigil.db'));
  const states: ZoneEvent[] = [];
  for (let i = 1; i <= n; i++) {
    states.push(event(i, false));
    if (i > 50) states.push(event(i - 50, true));
  }
  for (let i = n - 49; i <= n; i++) states.push(event(i, true));
  const t0 = performance.now();
  for (let i = 0; i < states.length; i += perTx) store.writeEvents(states.slice(i, i + perTx));
  const s = (performance.now() - t0) / 1000;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return Math.round(n / s);
}

// Batches the daemon forms: at 100 ms per flush, every state of that window (10 to 1000 states).
const batched = [10, 100, 1000].map((perTx) => ({ perTx, eventsPerS: run(perTx, N) }));
const naive = run(1, Math.min(N, 5000));
console.log(JSON.stringify({ batched, naive }));
const best = batched.at(-1)!.eventsPerS;
const file = writeResult({
  bench: 'events',
  setup: `${N} events, each written opened then closed (2 upserts), into a fresh SQLite file (WAL, synchronous NORMAL) through Store.writeEvents, the states of one flush per transaction`,
  peer: 'one transaction per state (autocommit), same store, same run',
  rows: [
    ...batched.map((b) => ({
      case: `${b.perTx} states a transaction`,
      vigil: b.eventsPerS,
      peer: naive,
      unit: 'events/s',
      ratio: Math.round((b.eventsPerS / naive) * 10) / 10,
    })),
  ],
  summary: { events_per_s: batched[1]!.eventsPerS, events_per_s_1000_per_tx: best, autocommit_events_per_s: naive },
});
console.log(`wrote ${file}`);
