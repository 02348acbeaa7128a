import type { WebSocket } from 'ws';

import type { ServerMessage } from '../../protocol/control.js';
import type { User } from '../auth/UserStore.js';
import type { LiveFeed, StreamKind, VideoMessage } from './LiveFeed.js';

interface Subscription {
  feed: LiveFeed;
  video: boolean;
  /** Which video: the camera's own, or the annotated stream. */
  stream: StreamKind;
  detections: boolean;
  /** Video resumes only at a keyframe: after a skip, or before the first fragment. */
  needKey: boolean;
  /** The session whose init segment this client has. */
  initSession: number;
  /** The newest detections not yet sent (coalesced while the client is behind). */
  pendingDetections: Uint8Array | null;
}

export interface ClientCounters {
  bytesSent: number;
  videoSent: number;
  videoSkipped: number;
  detectionsSent: number;
  detectionsCoalesced: number;
}

/**
 * One WebSocket viewer. Never blocks the pipeline: every send is checked against the bytes
 * already queued for this socket, and a client that falls behind loses video up to the next
 * keyframe and gets only the newest detections.
 */
export class LiveClient {
  helloDone = false;
  alive = true;
  readonly subs = new Map<string, Subscription>();
  readonly counters: ClientCounters = {
    bytesSent: 0,
    videoSent: 0,
    videoSkipped: 0,
    detectionsSent: 0,
    detectionsCoalesced: 0,
  };
  player: { camera: string; behindMs: number; bufferedMs: number; rate: number; jumps: number } | null = null;

  /**
   * `token`: the session it was opened with (the socket ends with it). `user`: the user's record
   * as stored now; LiveServer replaces it when their rights change and checks it where it routes
   * messages (this class does not: it sends what its subscriptions name, and LiveServer drops the
   * subscriptions of cameras taken away).
   * `highWater`: bytes queued for this socket above which its video skips to the next keyframe
   * and its detections are coalesced; video comes back (at a keyframe) below a quarter of it.
   */
  constructor(
    readonly ws: WebSocket,
    readonly token: string,
    public user: User,
    private readonly highWater: number,
    private readonly onSent: (
      recvUs: number | null,
      what: 'video' | 'detections',
      camera?: string,
      outUs?: number,
    ) => void,
  ) {}

  get queued(): number {
    return this.ws.bufferedAmount;
  }

  json(msg: ServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private binary(data: Uint8Array): void {
    this.ws.send(data, { binary: true });
    this.counters.bytesSent += data.length;
  }

  subscribe(feed: LiveFeed, video: boolean, detections: boolean, stream: StreamKind): void {
    const sub: Subscription = {
      feed,
      video,
      stream,
      detections,
      needKey: true,
      initSession: -1,
      pendingDetections: null,
    };
    this.subs.set(feed.id, sub);
    if (video) {
      const cache = feed.streams[stream];
      const start = cache.startOfStream();
      if (start) {
        this.binary(start.init);
        sub.initSession = cache.session;
        for (const f of start.fragments) this.sendFragment(f);
        sub.needKey = false;
      }
    }
    if (detections && feed.latestDetections) this.sendDetections(sub, feed.latestDetections);
  }

  /** Whether this client takes `stream` of camera `id`. */
  wants(id: string, stream: StreamKind): boolean {
    const sub = this.subs.get(id);
    return !!sub?.video && sub.stream === stream;
  }

  /** A fragment of one of `feed`'s streams (and that stream's init, when new). */
  video(feed: LiveFeed, stream: StreamKind, init: Uint8Array | null, fragment: VideoMessage): void {
    const sub = this.subs.get(feed.id);
    if (!sub?.video || sub.stream !== stream || this.ws.readyState !== this.ws.OPEN) return;
    const cache = feed.streams[stream];
    if (init) {
      sub.needKey = true; // a new session: start over at its first keyframe with its init
      sub.initSession = -1;
    }
    if (this.queued > this.highWater) sub.needKey = true;
    if (sub.needKey && !(fragment.keyframe && this.queued < this.highWater / 4)) {
      this.counters.videoSkipped++;
      return;
    }
    if (sub.initSession !== cache.session) {
      if (!cache.init) return;
      this.binary(cache.init);
      sub.initSession = cache.session;
    }
    sub.needKey = false;
    this.sendFragment(fragment);
  }

  private sendFragment(f: VideoMessage): void {
    this.binary(f.data);
    this.counters.videoSent++;
    this.onSent(f.recvUs, 'video');
  }

  /** `recvUs`: when the frame's first packet was received (for packet-to-send latency). */
  detections(feed: LiveFeed, msg: Uint8Array, recvUs: number | null = null, outUs?: number): void {
    const sub = this.subs.get(feed.id);
    if (!sub?.detections || this.ws.readyState !== this.ws.OPEN) return;
    if (this.queued > this.highWater) {
      if (sub.pendingDetections) this.counters.detectionsCoalesced++;
      sub.pendingDetections = msg;
      return;
    }
    this.sendDetections(sub, msg, recvUs, outUs);
  }

  /** `outUs`: when the detections came out of the detector (for the send stage). */
  private sendDetections(sub: Subscription, msg: Uint8Array, recvUs: number | null = null, outUs?: number): void {
    sub.pendingDetections = null;
    this.binary(msg);
    this.counters.detectionsSent++;
    this.onSent(recvUs, 'detections', sub.feed.id, outUs);
  }

  /** Sends coalesced detections once the client has caught up (called on a timer). */
  flush(): void {
    if (this.queued > this.highWater || this.ws.readyState !== this.ws.OPEN) return;
    for (const sub of this.subs.values()) if (sub.pendingDetections) this.sendDetections(sub, sub.pendingDetections);
  }
}
