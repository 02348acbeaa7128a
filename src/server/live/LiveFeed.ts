import type { DetectionEvent } from '../../detect/DetectionService.js';
import type { AnnotatedFragment, OpenedEvent, VideoEvent } from '../../native/types.js';
import { encodeDetections, encodeFragment, encodeInit } from '../../protocol/binary.js';

/** Bytes of fragments kept for late joiners; past it the cache waits for the next keyframe. */
const GOP_CACHE_BYTES = 8 * 1024 * 1024;

export type StreamKind = 'video' | 'annotated';

export interface VideoMessage {
  data: Uint8Array;
  keyframe: boolean;
  /** The packet's receive stamp (monotonic µs), for decode-to-send latency; null when unknown. */
  recvUs: number | null;
}

/** One fMP4 stream's init segment and the fragments since its newest keyframe, encoded once. */
export class StreamCache {
  session = -1;
  init: Uint8Array | null = null;
  private gop: VideoMessage[] = [];
  private gopBytes = 0;
  private gopValid = false;

  reset(): void {
    this.session = -1;
    this.init = null;
    this.gop = [];
    this.gopBytes = 0;
    this.gopValid = false;
  }

  /** Records a fragment (and a new init); returns the init message when there is a new one. */
  add(session: number, init: Uint8Array | null, fragment: VideoMessage): Uint8Array | null {
    if (init) {
      this.session = session;
      this.init = init;
      this.gop = [];
      this.gopBytes = 0;
    }
    if (fragment.keyframe) {
      this.gop = [];
      this.gopBytes = 0;
      this.gopValid = true;
    }
    if (this.gopValid) {
      this.gop.push(fragment);
      this.gopBytes += fragment.data.length;
      if (this.gopBytes > GOP_CACHE_BYTES) {
        this.gop = [];
        this.gopBytes = 0;
        this.gopValid = false;
      }
    }
    return init;
  }

  /** What a new viewer gets first: init + the fragments since the newest keyframe. */
  startOfStream(): { init: Uint8Array; fragments: VideoMessage[] } | null {
    return this.init && this.gopValid && this.gop.length > 0 ? { init: this.init, fragments: [...this.gop] } : null;
  }
}

/**
 * One camera's live state, encoded once for every viewer: its video stream and its annotated
 * stream (each an init segment and the fragments since the newest keyframe: a new viewer starts
 * there, so video shows at once), and the newest detections.
 */
export class LiveFeed {
  session = 0;
  codec: string | null = null;
  width: number | null = null;
  height: number | null = null;
  /** 'passthrough', 'transcode (…)', or why this camera has no video. */
  video: string | null = null;
  readonly streams: Record<StreamKind, StreamCache> = { video: new StreamCache(), annotated: new StreamCache() };
  latestDetections: Uint8Array | null = null;

  constructor(
    readonly index: number,
    readonly id: string,
    readonly name: string,
  ) {}

  opened(ev: OpenedEvent): void {
    this.session = ev.session;
    this.codec = ev.codec;
    this.width = ev.width;
    this.height = ev.height;
    this.video = ev.video ?? null;
    this.streams.video.reset();
    this.latestDetections = null;
  }

  /** Encodes a video event; returns the init message (new session) and the fragment message. */
  fragment(ev: VideoEvent): { init: Uint8Array | null; fragment: VideoMessage } {
    const h = { camera: this.index, session: ev.session, ptsUs: ev.ptsUs };
    const init = ev.init && ev.mime ? encodeInit(h, ev.mime, ev.init) : null;
    const fragment: VideoMessage = {
      data: encodeFragment(h, ev.keyframe, ev.data),
      keyframe: ev.keyframe,
      recvUs: ev.recvUs,
    };
    this.streams.video.add(ev.session, init, fragment);
    return { init, fragment };
  }

  /** The same for one frame of the annotated stream (its own init segment and GOPs). */
  annotated(a: AnnotatedFragment): { init: Uint8Array | null; fragment: VideoMessage } {
    const cache = this.streams.annotated;
    // The annotated stream's own "session": a new init starts one.
    const session = a.init ? cache.session + 1 : cache.session;
    const h = { camera: this.index, session, ptsUs: a.ptsUs };
    const init = a.init && a.mime ? encodeInit(h, a.mime, a.init, true) : null;
    const fragment: VideoMessage = {
      data: encodeFragment(h, a.keyframe, a.data, true),
      keyframe: a.keyframe,
      recvUs: null,
    };
    cache.add(session, init, fragment);
    return { init, fragment };
  }

  detections(ev: DetectionEvent): Uint8Array {
    const msg = encodeDetections(
      { camera: this.index, session: this.session, ptsUs: ev.ptsUs },
      { seq: ev.seq, width: ev.width, height: ev.height },
      ev.detections,
    );
    this.latestDetections = msg;
    return msg;
  }
}
