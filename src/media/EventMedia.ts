import { chmod, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { EventLog } from '../events/EventLog.js';
import type { ZoneEvent } from '../events/ZoneWatcher.js';
import type { NativeAddon, Snapshot, VideoEvent } from '../native/types.js';
import type { EventMedia as MediaRow, Store } from '../store/Store.js';
import type { Logger } from '../util/logger.js';
import { ClipRecorder, type ClipWriter } from './ClipRecorder.js';
import { PRIVATE_FILE, syncDir, syncFile, writeDurable } from './files.js';
import type { MediaConfig } from './mediaConfig.js';

/**
 * Where an event's files go, relative to the media directory: <camera>/<UTC day>/<id>.mp4 for
 * its clip, <id>-<frame seq>.jpg for a snapshot (each version its own name: the row always names
 * a whole file, and a URL names one frame).
 */
export function mediaPath(
  ev: Pick<ZoneEvent, 'id' | 'camera' | 'startedAt'>,
  ext: 'jpg' | 'mp4',
  seq?: number,
): string {
  return `${ev.camera}/${ev.startedAt.slice(0, 10)}/${ev.id}${seq === undefined ? '' : `-${seq}`}.${ext}`;
}

interface SnapshotState {
  lastAt: number;
  inFlight: boolean;
  seq: number | null;
  /** The file its row names now. */
  path: string | null;
}

export interface MediaStats {
  dir: string;
  snapshots: number;
  clips: number;
  recording: number;
  failed: number;
  lastError: string | null;
}

/**
 * Events' snapshots and clips, written beside the database: a file is written whole (temp name,
 * then renamed; a clip is remuxed from its part file) before its row is inserted, and its row is
 * deleted before the file. Whatever a crash leaves between the two is a file no row names,
 * which reconcileMedia (src/media/Retention.ts) removes at the next start.
 */
export class EventMedia {
  private readonly recorders = new Map<string, ClipRecorder>();
  private readonly snaps = new Map<number, SnapshotState>();
  private readonly gone = new Set<number>(); // deleted while their files were on the way
  private readonly writing = new Map<number, number>(); // event id → files being written
  private readonly work = new Set<Promise<void>>();
  private readonly counts = { snapshots: 0, clips: 0, failed: 0 };
  private lastError: string | null = null;

  constructor(
    readonly dir: string,
    private readonly cfg: MediaConfig,
    private readonly store: Store,
    private readonly log: EventLog,
    private readonly addon: Pick<NativeAddon, 'remuxToMp4'>,
    private readonly snapshot: (camera: string, quality: number, seq: number) => Promise<Snapshot | null>,
    private readonly logger: Logger,
  ) {
    this.tick = setInterval(() => {
      for (const r of this.recorders.values()) r.expire();
    }, 1000);
    this.tick.unref();
  }

  private readonly tick: NodeJS.Timeout;

  /** Records `camera`'s encoded video for clips (call with every 'video' event, and ended()). */
  camera(camera: string): { video: (ev: VideoEvent) => void; ended: () => void } | null {
    if (!this.cfg.clips.enabled) return null;
    const rec = new ClipRecorder(this.cfg.clips.pre_roll_seconds * 1e6, this.cfg.clips.max_seconds * 1e6, (w) =>
      this.track(w.eventId, this.finishClip(w)),
    );
    this.recorders.set(camera, rec);
    return { video: (ev) => rec.video(ev), ended: () => rec.ended() };
  }

  /** A camera left (config reload): its recorder goes (its clips were ended when it stopped). */
  dropCamera(camera: string): void {
    this.recorders.get(camera)?.releaseAll();
    this.recorders.delete(camera);
  }

  opened(ev: ZoneEvent): void {
    if (this.cfg.snapshots.enabled) {
      this.snaps.set(ev.id, { lastAt: 0, inFlight: false, seq: null, path: null });
      this.takeSnapshot(ev);
    }
    const rec = this.recorders.get(ev.camera);
    if (!rec) return;
    const rel = mediaPath(ev, 'mp4');
    try {
      if (!rec.start(ev.id, rel, join(this.dir, `${rel}.part`)))
        this.logger.debug({ event: ev.id, camera: ev.camera }, 'no video to record a clip from');
    } catch (err) {
      this.failure(ev.id, err as Error);
    }
  }

  /** A better detection of an open event: a new snapshot, at most every min_interval_ms. */
  best(ev: ZoneEvent): void {
    const s = this.snaps.get(ev.id);
    if (!s || s.inFlight || Date.now() - s.lastAt < this.cfg.snapshots.min_interval_ms) return;
    this.takeSnapshot(ev);
  }

  closed(ev: ZoneEvent): void {
    const s = this.snaps.get(ev.id);
    // The best frame came after the last snapshot: one more try while the pool may still hold it.
    if (s && !s.inFlight && s.seq !== ev.bestSeq) this.takeSnapshot(ev);
    this.snaps.delete(ev.id);
    this.recorders.get(ev.camera)?.stop(ev.id, this.cfg.clips.post_roll_seconds * 1e6);
  }

  /** The event was deleted: its clip stops and files still on their way are dropped. */
  async forget(ev: Pick<ZoneEvent, 'id' | 'camera'>): Promise<void> {
    this.gone.add(ev.id);
    this.snaps.delete(ev.id);
    const w = this.recorders.get(ev.camera)?.take(ev.id);
    if (w) await w.abort();
    if (!this.busy(ev.id)) this.gone.delete(ev.id);
  }

  /** Whether the event's files are still being written (retention leaves it alone). */
  busy(id: number): boolean {
    if (this.snaps.has(id) || this.writing.has(id)) return true;
    for (const r of this.recorders.values()) if (r.has(id)) return true;
    return false;
  }

  stats(): MediaStats {
    let recording = 0;
    for (const r of this.recorders.values()) recording += r.recording;
    return { dir: this.dir, ...this.counts, recording, lastError: this.lastError };
  }

  /** Ends every clip where it is and waits for the files (the daemon stops). */
  async close(): Promise<void> {
    clearInterval(this.tick);
    for (const r of this.recorders.values()) r.releaseAll();
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  private takeSnapshot(ev: ZoneEvent): void {
    const s = this.snaps.get(ev.id);
    if (!s) return;
    s.inFlight = true;
    s.lastAt = Date.now();
    this.track(
      ev.id,
      (async () => {
        try {
          const snap = await this.snapshot(ev.camera, this.cfg.snapshots.quality, ev.bestSeq);
          if (!snap || snap.seq === s.seq) return; // the frame left the pool: the snapshot taken before stays
          const rel = mediaPath(ev, 'jpg', snap.seq);
          await writeDurable(join(this.dir, rel), snap.jpeg);
          this.commit({
            eventId: ev.id,
            kind: 'snapshot',
            path: rel,
            bytes: snap.jpeg.length,
            info: { seq: snap.seq, score: ev.bestScore, box: ev.bestBox, width: snap.width, height: snap.height },
          });
          // The row names the new file now: the old one can go.
          const old = s.path;
          s.path = rel;
          s.seq = snap.seq;
          if (old && old !== rel) await rm(join(this.dir, old), { force: true });
          this.counts.snapshots++;
        } finally {
          s.inFlight = false;
        }
      })(),
    );
  }

  private async finishClip(w: ClipWriter): Promise<void> {
    const part = w.partPath;
    const file = join(this.dir, w.rel);
    try {
      await w.end();
      if (this.gone.has(w.eventId)) return;
      const r = await this.addon.remuxToMp4(part, file);
      await chmod(file, PRIVATE_FILE); // libavformat creates it 0666 less the umask
      await syncFile(file); // whole on the disk before its row
      await syncDir(dirname(file));
      const { size } = await stat(file);
      this.commit({
        eventId: w.eventId,
        kind: 'clip',
        path: w.rel,
        bytes: size,
        info: {
          durationMs: Math.round(r.durationUs / 1000),
          startedAt: new Date(w.startedAtMs).toISOString(),
          packets: r.packets,
        },
      });
      this.counts.clips++;
    } finally {
      await rm(part, { force: true });
    }
  }

  /** Deletes a file no row names (best effort: reconcile removes what is left). */
  private discard(rel: string): void {
    rm(join(this.dir, rel), { force: true }).catch((err: Error) =>
      this.logger.warn({ err: err.message, path: rel }, 'could not delete a media file'),
    );
  }

  /** Inserts a whole file's row; when that fails (its event was deleted meanwhile), the file goes. */
  private commit(m: MediaRow): void {
    try {
      if (this.gone.has(m.eventId)) throw new Error(`event ${m.eventId} was deleted`);
      this.log.flush(); // the event's row before its media's
      this.store.putMedia(m);
    } catch (err) {
      this.discard(m.path);
      if (!this.gone.has(m.eventId)) throw err;
    }
  }

  private failure(id: number, err: Error): void {
    this.counts.failed++;
    this.lastError = err.message;
    this.logger.error({ err: err.message, event: id }, 'could not write an event snapshot or clip');
  }

  /** Follows one event's file work: counted while it runs (busy), failures logged. */
  private track(id: number, p: Promise<void>): void {
    this.writing.set(id, (this.writing.get(id) ?? 0) + 1);
    const t = p
      .catch((err: Error) => this.failure(id, err))
      .finally(() => {
        this.work.delete(t);
        const n = (this.writing.get(id) ?? 1) - 1;
        if (n > 0) this.writing.set(id, n);
        else {
          this.writing.delete(id);
          if (!this.busy(id)) this.gone.delete(id); // nothing of it is on its way any more
        }
      });
    this.work.add(t);
  }
}
