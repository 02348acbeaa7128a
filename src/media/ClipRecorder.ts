import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';

import type { VideoEvent } from '../native/types.js';
import { openNewSync } from './files.js';

interface Fragment {
  data: Buffer;
  keyframe: boolean;
  ptsUs: number;
}

/** Bytes of encoded video a camera's pre-roll may hold (past it, its oldest GOPs go). */
const RING_MAX_BYTES = 64 * 1024 * 1024;
/** A stopped clip whose post-roll has not come this long after it was due ends anyway. */
const STOP_GRACE_MS = 5000;

/** One event's clip being written: the camera's fMP4 (init segment, then fragments) to a part file. */
export class ClipWriter {
  private readonly out: WriteStream;
  /** Camera-timeline µs: the first fragment written, and the newest. */
  firstPtsUs: number | null = null;
  lastPtsUs = 0;
  /** Set by stop(): the clip ends with the first fragment at or past this. */
  stopAtUs = Number.POSITIVE_INFINITY;
  fragments = 0;
  private failed: Error | null = null;

  /** Wall clock (ms) past which the clip ends even without video (set by stop()). */
  deadlineMs = Number.POSITIVE_INFINITY;

  constructor(
    readonly eventId: number,
    /** The finished clip's path relative to the media directory, and the part file's absolute path. */
    readonly rel: string,
    readonly partPath: string,
    /** Wall clock (ms) of the clip's first frame. */
    readonly startedAtMs: number,
    readonly maxUs: number,
  ) {
    // Opened synchronously: the file exists before the event can close (a line event closes at once).
    this.out = createWriteStream('', { fd: openNewSync(partPath) });
    this.out.on('error', (err) => {
      this.failed ??= err;
    });
  }

  write(f: Fragment): void {
    this.firstPtsUs ??= f.ptsUs;
    this.lastPtsUs = f.ptsUs;
    this.fragments++;
    this.out.write(f.data);
  }

  writeInit(init: Buffer): void {
    this.out.write(init);
  }

  /** Whether the clip has what it needs: past its stop (post-roll), or at its longest. */
  full(): boolean {
    return (
      this.firstPtsUs !== null && (this.lastPtsUs >= this.stopAtUs || this.lastPtsUs - this.firstPtsUs >= this.maxUs)
    );
  }

  /** Closes the part file; rejects when any write failed. */
  end(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.out.end(() => (this.failed ? reject(this.failed) : resolve()));
    });
  }

  /** Closes and deletes the part file. */
  async abort(): Promise<void> {
    this.out.destroy();
    await finished(this.out).catch(() => {}); // settles at once when the stream had already failed and closed
    await rm(this.partPath, { force: true });
  }
}

/**
 * One camera's event clips: a pre-roll of its encoded video (whole GOPs: from the newest
 * keyframe at least `preRollUs` old) and the clips being written. A clip starts with the
 * session's init segment and the pre-roll and follows the live fragments until its stop
 * (post-roll), its longest, or the session's end (a new init segment).
 */
export class ClipRecorder {
  private init: Buffer | null = null;
  private ring: Fragment[] = [];
  private ringBytes = 0;
  private readonly active = new Map<number, ClipWriter>();
  /** Camera-timeline µs of the newest fragment, and the wall clock (ms) it arrived. */
  private lastPtsUs: number | null = null;
  private lastAtMs = 0;

  constructor(
    private readonly preRollUs: number,
    private readonly maxUs: number,
    /** A clip that has what it needs (or whose session ended): finish it. */
    private readonly onFull: (w: ClipWriter) => void,
  ) {}

  video(ev: VideoEvent): void {
    if (ev.init) {
      for (const w of [...this.active.values()]) this.release(w); // the session changed: clips end here
      this.init = ev.init;
      this.ring = [];
      this.ringBytes = 0;
    }
    if (!this.init) return;
    const f: Fragment = { data: ev.data, keyframe: ev.keyframe, ptsUs: ev.ptsUs };
    this.lastPtsUs = ev.ptsUs;
    this.lastAtMs = Date.now();
    this.remember(f);
    for (const w of [...this.active.values()]) {
      w.write(f);
      if (w.full()) this.release(w);
    }
  }

  /** The session ended: clips end with what they have. */
  ended(): void {
    for (const w of [...this.active.values()]) this.release(w);
    this.init = null;
    this.ring = [];
    this.ringBytes = 0;
    this.lastPtsUs = null;
  }

  /** Starts event `eventId`'s clip into `partPath` (pre-roll first); null when there is no video to record. Throws when the file cannot be made. */
  start(eventId: number, rel: string, partPath: string): ClipWriter | null {
    if (!this.init || this.ring.length === 0 || this.lastPtsUs === null || this.active.has(eventId)) return null;
    const first = this.ring[0]!;
    const w = new ClipWriter(eventId, rel, partPath, this.lastAtMs - (this.lastPtsUs - first.ptsUs) / 1000, this.maxUs);
    w.writeInit(this.init);
    for (const f of this.ring) w.write(f);
    this.active.set(eventId, w);
    return w;
  }

  /** The event ended: its clip goes on for `postRollUs` of video more (and ends by the wall clock if video stops coming). */
  stop(eventId: number, postRollUs: number): void {
    const w = this.active.get(eventId);
    if (!w) return;
    w.stopAtUs = (this.lastPtsUs ?? w.lastPtsUs) + postRollUs;
    w.deadlineMs = Date.now() + postRollUs / 1000 + STOP_GRACE_MS;
    if (w.full()) this.release(w);
  }

  /** Ends clips whose post-roll the video never delivered (the camera sends frames but no video, or nothing). */
  expire(nowMs = Date.now()): void {
    for (const w of [...this.active.values()]) if (nowMs >= w.deadlineMs) this.release(w);
  }

  /** Ends every clip now (the daemon stops). */
  releaseAll(): void {
    for (const w of [...this.active.values()]) this.release(w);
  }

  /** Takes a clip away unfinished (its event was deleted); the caller aborts it. */
  take(eventId: number): ClipWriter | null {
    const w = this.active.get(eventId) ?? null;
    this.active.delete(eventId);
    return w;
  }

  has(eventId: number): boolean {
    return this.active.has(eventId);
  }

  get recording(): number {
    return this.active.size;
  }

  private release(w: ClipWriter): void {
    this.active.delete(w.eventId);
    this.onFull(w);
  }

  private remember(f: Fragment): void {
    if (this.ring.length === 0 && !f.keyframe) return; // a pre-roll starts at a keyframe
    this.ring.push(f);
    this.ringBytes += f.data.length;
    // Drop whole GOPs from the front while the next GOP still starts at least preRoll ago.
    const horizon = f.ptsUs - this.preRollUs;
    for (let next = this.nextGop(); next > 0 && this.ring[next]!.ptsUs <= horizon; next = this.nextGop())
      this.dropFront(next);
    // Over the cap: the oldest GOPs go (the pre-roll gets shorter); one GOP alone over it: none is kept.
    while (this.ringBytes > RING_MAX_BYTES) {
      const next = this.nextGop();
      this.dropFront(next < 0 ? this.ring.length : next);
    }
  }

  /** Where the ring's second GOP starts (its next keyframe); -1 when it holds one GOP. */
  private nextGop(): number {
    return this.ring.findIndex((x, i) => i > 0 && x.keyframe);
  }

  private dropFront(n: number): void {
    for (const x of this.ring.splice(0, n)) this.ringBytes -= x.data.length;
  }
}
