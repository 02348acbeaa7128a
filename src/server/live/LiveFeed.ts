import type { DetectionEvent } from '../../detect/DetectionService.js';
import type { OpenedEvent, VideoEvent } from '../../native/types.js';
import { encodeDetections, encodeFragment, encodeInit } from '../../protocol/binary.js';

/** Bytes of fragments kept for late joiners; past it the cache waits for the next keyframe. */
const GOP_CACHE_BYTES = 8 * 1024 * 1024;

export interface VideoMessage {
  data: Uint8Array;
  keyframe: boolean;
  /** The packet's receive stamp (monotonic µs), for decode-to-send latency. */
  recvUs: number;
}

/**
 * One camera's live state, encoded once for every viewer: the session's init segment, the
 * fragments since the newest keyframe (a new viewer starts there, so video shows at once),
 * and the newest detections.
 */
export class LiveFeed {
  session = 0;
  codec: string | null = null;
  width: number | null = null;
  height: number | null = null;
  /** 'passthrough', or why this camera has no video. */
  video: string | null = null;
  init: Uint8Array | null = null;
  private gop: VideoMessage[] = [];
  private gopBytes = 0;
  private gopValid = false;
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
    this.init = null;
    this.gop = [];
    this.gopBytes = 0;
    this.gopValid = false;
    this.latestDetections = null;
  }

  /** Encodes a video event; returns the init message (new session) and the fragment message. */
  fragment(ev: VideoEvent): { init: Uint8Array | null; fragment: VideoMessage } {
    const h = { camera: this.index, session: ev.session, ptsUs: ev.ptsUs };
    let init: Uint8Array | null = null;
    if (ev.init && ev.mime) {
      this.session = ev.session;
      init = this.init = encodeInit(h, ev.mime, ev.init);
      this.gop = [];
      this.gopBytes = 0;
    }
    const fragment: VideoMessage = { data: encodeFragment(h, ev.keyframe, ev.data), keyframe: ev.keyframe, recvUs: ev.recvUs };
    if (ev.keyframe) {
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
    return { init, fragment };
  }

  /** What a new viewer gets first: init + the fragments since the newest keyframe. */
  startOfStream(): { init: Uint8Array; fragments: VideoMessage[] } | null {
    return this.init && this.gopValid && this.gop.length > 0 ? { init: this.init, fragments: [...this.gop] } : null;
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
