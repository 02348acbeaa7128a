import type { Store } from '../store/Store.js';
import type { Logger } from '../util/logger.js';
import type { ZoneEvent } from './ZoneWatcher.js';

/**
 * Zone events on their way to SQLite: each event's newest state waits here and is written with
 * the others in one transaction every `flushMs` (or at once when `maxPending` wait), on the
 * main thread. Ids are numbered here, after the largest stored one, so an event can be closed
 * before its opening was written. A failed write keeps the states for the next flush. States
 * are announced (onWritten) only once committed: what anyone was told is in the database.
 */
export class EventLog {
  private readonly pending = new Map<number, ZoneEvent>();
  private readonly deleted = new Set<number>(); // deleted while open: its close must not bring it back
  private timer: NodeJS.Timeout | null = null;
  private lastId: number;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    /** Called with the event states a transaction has just committed (in id order of recording). */
    private readonly onWritten: (events: ZoneEvent[]) => void = () => {},
    private readonly flushMs = 100,
    private readonly maxPending = 1000,
  ) {
    this.lastId = store.maxEventId();
  }

  newId(): number {
    return ++this.lastId;
  }

  record(ev: ZoneEvent): void {
    if (this.deleted.has(ev.id)) {
      if (ev.endedAt !== null) this.deleted.delete(ev.id); // its last state: nothing more will come
      return;
    }
    this.pending.set(ev.id, ev);
    if (this.pending.size >= this.maxPending) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** The event was deleted (API): its pending state is dropped; if it was open, its close is ignored. */
  forget(ev: Pick<ZoneEvent, 'id' | 'endedAt'>): void {
    this.pending.delete(ev.id);
    if (ev.endedAt === null) this.deleted.add(ev.id);
  }

  /** Writes what waits; returns how many event states were written. */
  flush(): number {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return 0;
    const batch = [...this.pending.values()];
    try {
      this.store.writeEvents(batch);
    } catch (err) {
      this.log.error({ err: (err as Error).message, events: batch.length }, 'could not store events; will retry');
      this.timer = setTimeout(() => this.flush(), Math.max(1000, this.flushMs));
      return 0;
    }
    // Only the states written: a newer state recorded meanwhile is a different object.
    for (const ev of batch) if (this.pending.get(ev.id) === ev) this.pending.delete(ev.id);
    this.onWritten(batch);
    return batch.length;
  }

  close(): void {
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
