/**
 * One camera's video through Media Source Extensions, kept at the live edge: the fMP4 init
 * segment and fragments go into one SourceBuffer; a player that falls behind the newest
 * fragment first plays a little faster, then jumps back to the live edge; old media is
 * trimmed; a gap (fragments the server skipped for a slow link) is jumped over.
 */
export interface PlayerStats {
  /** How far the displayed frame runs behind the newest fragment received (pts), ms. */
  behindMs: number;
  /** Media buffered ahead of the playhead, ms. */
  bufferedMs: number;
  rate: number;
  /** Jumps to the live edge (fell too far behind, or over a gap). */
  jumps: number;
  /** Pts (µs) of the frame on screen, as the browser reports it. */
  displayedPtsUs: number | null;
  newestPtsUs: number | null;
  fragments: number;
  resets: number;
}

const TARGET_BEHIND_S = 0.2; // where the playhead aims: enough for detections to arrive
const NUDGE_ABOVE_S = 0.4; // beyond this, play 15 % faster (below half the target, 10 % slower)
const JUMP_ABOVE_S = 1.5; // beyond this, jump to the target
const KEEP_BEHIND_S = 10; // media older than this is removed

export class Player {
  readonly stats: PlayerStats = {
    behindMs: 0,
    bufferedMs: 0,
    rate: 1,
    jumps: 0,
    displayedPtsUs: null,
    newestPtsUs: null,
    fragments: 0,
    resets: 0,
  };
  private media: MediaSource | null = null;
  private buffer: SourceBuffer | null = null;
  private queue: Uint8Array[] = [];
  private session = -1;
  private mime = '';
  private timer: number;
  private objectUrl: string | null = null;
  private closed = false;

  constructor(readonly video: HTMLVideoElement) {
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    this.timer = window.setInterval(() => this.keepLive(), 250);
    // The pts of the frame actually on screen (not currentTime, which runs ahead of it).
    const onFrame = (_now: number, meta: VideoFrameCallbackMetadata) => {
      this.stats.displayedPtsUs = Math.round(meta.mediaTime * 1e6);
      if (!this.closed) video.requestVideoFrameCallback(onFrame);
    };
    if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
  }

  /** A session's init segment: (re)starts the MediaSource when the session or codec changes. */
  init(session: number, mime: string, data: Uint8Array): void {
    if (session === this.session && mime === this.mime && this.buffer) return;
    if (!MediaSource.isTypeSupported(mime)) throw new Error(`This browser cannot play ${mime}`);
    this.reset();
    this.session = session;
    this.mime = mime;
    const media = new MediaSource();
    this.media = media;
    this.objectUrl = URL.createObjectURL(media);
    this.video.src = this.objectUrl;
    this.queue = [data];
    media.addEventListener(
      'sourceopen',
      () => {
        if (this.media !== media) return;
        this.buffer = media.addSourceBuffer(mime);
        this.buffer.mode = 'segments';
        this.buffer.addEventListener('updateend', () => this.pump());
        this.pump();
      },
      { once: true },
    );
  }

  fragment(session: number, ptsUs: number, data: Uint8Array): void {
    if (session !== this.session) return; // its init has not come yet
    this.queue.push(data);
    this.stats.fragments++;
    this.stats.newestPtsUs = ptsUs;
    this.pump();
  }

  close(): void {
    this.closed = true;
    window.clearInterval(this.timer);
    this.reset();
  }

  /** Drops the current stream: the next init segment starts a new one (switching streams). */
  restart(): void {
    this.reset();
    this.session = -1;
    this.mime = '';
    this.video.removeAttribute('src');
  }

  private reset(): void {
    if (this.media) this.stats.resets++;
    this.buffer = null;
    this.media = null;
    this.queue = [];
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
  }

  private pump(): void {
    const b = this.buffer;
    if (!b || b.updating || this.queue.length === 0) return;
    const next = this.queue.shift()!;
    try {
      b.appendBuffer(next as Uint8Array<ArrayBuffer>); // decodeBinary slices an ArrayBuffer
    } catch (err) {
      if ((err as DOMException).name === 'QuotaExceededError') {
        this.queue.unshift(next);
        this.trim(1);
      } else {
        throw err;
      }
      return;
    }
    if (this.video.paused) this.video.play().catch(() => {});
  }

  private trim(keepS = KEEP_BEHIND_S): void {
    const b = this.buffer;
    if (!b || b.updating || b.buffered.length === 0) return;
    const start = b.buffered.start(0);
    const until = this.video.currentTime - keepS;
    if (until > start + 1) b.remove(start, until);
  }

  private jumpTo(t: number): void {
    this.video.currentTime = t;
    this.stats.jumps++;
  }

  /** Keeps the playhead near the live edge and fills the stats. */
  private keepLive(): void {
    const v = this.video;
    const b = this.buffer;
    if (!b || b.buffered.length === 0) return;
    const end = b.buffered.end(b.buffered.length - 1);
    const t = v.currentTime;
    let inRange = false;
    for (let i = 0; i < b.buffered.length; i++)
      if (t >= b.buffered.start(i) - 0.05 && t <= b.buffered.end(i)) inRange = true;
    const behind = end - t;
    if (!inRange || behind > JUMP_ABOVE_S) {
      // Outside the buffer (start, or a gap) or far behind: back to the target, inside the
      // newest buffered range (the browser decodes from that range's keyframe).
      this.jumpTo(Math.max(b.buffered.start(b.buffered.length - 1), end - TARGET_BEHIND_S));
    } else {
      const rate = behind > NUDGE_ABOVE_S ? 1.15 : behind < TARGET_BEHIND_S / 2 ? 0.9 : 1;
      if (v.playbackRate !== rate) v.playbackRate = rate;
    }
    this.stats.rate = v.playbackRate;
    this.stats.bufferedMs = Math.round(behind * 1000);
    if (!('requestVideoFrameCallback' in v)) this.stats.displayedPtsUs = Math.round(t * 1e6);
    if (this.stats.newestPtsUs !== null && this.stats.displayedPtsUs !== null) {
      this.stats.behindMs = Math.max(0, Math.round((this.stats.newestPtsUs - this.stats.displayedPtsUs) / 1000));
    }
    if (Math.random() < 0.1) this.trim();
  }
}
