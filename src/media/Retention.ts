import { mkdir, readdir, rm, rmdir, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

import type { RetentionCandidate, Store } from '../store/Store.js';
import type { Logger } from '../util/logger.js';
import { MEDIA_FILE, MEDIA_MARKER, PRIVATE_DIR, PRIVATE_FILE } from './files.js';
import type { MediaConfig } from './mediaConfig.js';

const MB = 1024 * 1024;

export interface SweepResult {
  /** Events deleted for their age, and to keep the quota / free space. */
  aged: number;
  quota: number;
  freedBytes: number;
  mediaBytes: number;
}

export interface ReconcileResult {
  /** Files no row named (a crash between a file and its row, or left-over parts), deleted. */
  orphanFiles: number;
  /** Rows whose file was missing (or not the size written), removed. */
  missingFiles: number;
  /** Why nothing was reconciled; null when it was. */
  skipped: string | null;
}

/** Deletes the files of deleted rows, and the directories they leave empty (not `root` itself). */
export async function removeMedia(root: string, paths: readonly string[]): Promise<void> {
  const dirs = new Set<string>();
  for (const p of paths) {
    await rm(join(root, p), { force: true });
    dirs.add(dirname(join(root, p)));
  }
  for (const d of dirs) {
    // <camera>/<day>, then <camera>: stop at the first that is not empty.
    for (let dir = d; dir.startsWith(root + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
    }
  }
}

/**
 * Makes the media directory and the database agree (at start, before anything records): files
 * no row names are deleted (part files of clips cut by a crash, a snapshot written just before
 * its row), and rows whose file is missing or not the size written are removed (with the file).
 * Only Vigil's own names are touched, and only in a directory marked as Vigil's: a directory
 * that is missing or unmarked while the database has media rows (a disk not mounted yet, a
 * wrong `media.dir`) is left alone, rows included, and `skipped` says why.
 */
export async function reconcileMedia(store: Store, root: string): Promise<ReconcileResult> {
  const rows = store.mediaFiles();
  const marked = await stat(join(root, MEDIA_MARKER)).then(
    () => true,
    () => false,
  );
  if (!marked) {
    const entries = await readdir(root).catch(() => null);
    if (rows.size > 0) {
      return {
        orphanFiles: 0,
        missingFiles: 0,
        skipped: `${root} is ${entries === null ? 'missing' : "not marked as Vigil's media directory"} but the database names ${rows.size} media files: not mounted, or media.dir changed? Nothing was deleted`,
      };
    }
    await mkdir(root, { recursive: true, mode: PRIVATE_DIR });
    await writeFile(
      join(root, MEDIA_MARKER),
      'Vigil event snapshots and clips: files here are deleted when the database does not name them.\n',
      { mode: PRIVATE_FILE },
    );
  }
  const onDisk = new Map<string, number>();
  const orphans: string[] = [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const parent = (e as { parentPath?: string; path?: string }).parentPath ?? (e as { path?: string }).path ?? root;
    const rel = relative(root, join(parent, e.name)).split(sep).join('/');
    if (!MEDIA_FILE.test(rel)) continue; // not a name Vigil writes: not ours to delete
    if (rows.has(rel)) onDisk.set(rel, (await stat(join(root, rel))).size);
    else orphans.push(rel);
  }
  const bad = [...rows].filter(([p, bytes]) => onDisk.get(p) !== bytes).map(([p]) => p); // missing, or cut short
  store.forgetMedia(bad);
  await removeMedia(root, [...orphans, ...bad.filter((p) => onDisk.has(p))]);
  return { orphanFiles: orphans.length, missingFiles: bad.length, skipped: null };
}

/**
 * Retention: events older than max_age_days go, then the oldest events with files go while
 * snapshots and clips exceed max_mb or the filesystem has less than min_free_mb free. An event
 * goes whole (row, snapshot, clip): its rows in one transaction, then its files. Events still
 * open or still writing files stay.
 */
export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepResult> | null = null;
  /** Since start: sweeps, events deleted for age / quota, bytes freed. */
  readonly totals = { sweeps: 0, aged: 0, quota: 0, freedBytes: 0 };

  constructor(
    private readonly store: Store,
    private readonly root: string,
    private readonly cfg: MediaConfig['retention'],
    private readonly busy: (eventId: number) => boolean,
    private readonly log: Logger,
    /** Bytes free on the media filesystem (tests replace it). */
    private readonly freeBytes: () => Promise<number> = async () => {
      const s = await statfs(root);
      return s.bavail * s.bsize;
    },
  ) {}

  start(): void {
    this.timer = setInterval(
      () => void this.sweep().catch((err: Error) => this.log.error({ err: err.message }, 'retention sweep failed')),
      this.cfg.check_seconds * 1000,
    );
    this.timer.unref();
  }

  /** One pass; concurrent calls share it. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async pass(): Promise<SweepResult> {
    const res: SweepResult = { aged: 0, quota: 0, freedBytes: 0, mediaBytes: 0 };
    if (this.cfg.max_age_days > 0) {
      const cutoff = new Date(Date.now() - this.cfg.max_age_days * 86_400_000).toISOString();
      for (let after = 0; ;) {
        const page = this.store.oldestEvents(500, after);
        if (page.length === 0) break;
        after = page.at(-1)!.id;
        const { deleted, bytes } = await this.delete(page.filter((c) => c.startedAt < cutoff && !this.busy(c.id)));
        res.aged += deleted;
        res.freedBytes += bytes;
        if (page.every((c) => c.startedAt >= cutoff)) break; // ids follow time: nothing older beyond
      }
    }
    const quota = this.cfg.max_mb > 0 ? this.cfg.max_mb * MB : Number.POSITIVE_INFINITY;
    let need = this.store.mediaBytes() - quota;
    if (this.cfg.min_free_mb > 0) {
      try {
        await stat(this.root);
        need = Math.max(need, this.cfg.min_free_mb * MB - (await this.freeBytes()));
      } catch {
        // no media directory yet: nothing to free
      }
    }
    for (let after = 0; need > 0;) {
      const page = this.store.oldestEvents(500, after);
      if (page.length === 0) break;
      after = page.at(-1)!.id;
      const pick: typeof page = [];
      let sum = 0;
      for (const c of page) {
        if (c.bytes === 0 || this.busy(c.id)) continue; // deleting it frees nothing / it is still being written
        pick.push(c);
        sum += c.bytes;
        if (sum >= need) break;
      }
      const { deleted, bytes } = await this.delete(pick);
      res.quota += deleted;
      res.freedBytes += bytes;
      need -= bytes;
    }
    res.mediaBytes = this.store.mediaBytes();
    this.totals.sweeps++;
    this.totals.aged += res.aged;
    this.totals.quota += res.quota;
    this.totals.freedBytes += res.freedBytes;
    if (res.aged + res.quota > 0) this.log.info({ ...res }, 'retention deleted the oldest events');
    return res;
  }

  /** Deletes these events (rows, then files); how many existed, and the bytes their files held. */
  private async delete(candidates: RetentionCandidate[]): Promise<{ deleted: number; bytes: number }> {
    if (candidates.length === 0) return { deleted: 0, bytes: 0 };
    const { deleted, paths } = this.store.deleteEvents(candidates.map((c) => c.id));
    await removeMedia(this.root, paths);
    const gone = new Set(deleted);
    return {
      deleted: deleted.length,
      bytes: candidates.filter((c) => gone.has(c.id)).reduce((a, c) => a + c.bytes, 0),
    };
  }
}
