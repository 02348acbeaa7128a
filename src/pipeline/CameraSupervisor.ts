import { EventEmitter } from 'node:events';

import type {
  AnnotatedFragment,
  CameraEvent,
  CameraOptions,
  FrameEvent,
  InputNorm,
  LetterboxResult,
  LetterboxTarget,
  NativeCamera,
  OpenedEvent,
  Snapshot,
  VideoEvent,
} from '../native/types.js';
import type { Logger } from '../util/logger.js';
import { redactText, redactUrl } from '../util/redact.js';
import { backoffDelay } from './backoff.js';
import type { CameraConfig } from './cameraConfig.js';

/**
 * connecting: a session is opening (connect, RTSP handshake, first frame not yet decoded)
 * streaming:  frames arrive
 * stalled:    no frame for stall_seconds while streaming (the session is being torn down)
 * backoff:    waiting before the next attempt
 * stopped:    closed by the daemon (or disabled in config)
 */
export type CameraState = 'connecting' | 'streaming' | 'stalled' | 'backoff' | 'stopped';

export interface CameraError {
  stage: string;
  message: string;
  /** ISO time it was seen. */
  at: string;
}

export interface CameraHealth {
  id: string;
  name: string;
  url: string;
  state: CameraState;
  /** ISO time the current state began. */
  since: string;
  codec: string | null;
  width: number | null;
  height: number | null;
  decoder: string | null;
  /** Frames stay in GPU memory (NVDEC); and GPU frames copied to the host so far, by consumer. */
  gpuFrames: boolean;
  hostCopies: { letterbox: number; snapshot: number; annotate: number; encode: number };
  /** Live-view video: 'passthrough', 'transcode (libx264)' / 'transcode (h264_nvenc)', or why there is none; null while connecting or when off. */
  video: string | null;
  /**
   * The encoders at work, with why not NVENC where it fell back: the live view's when it
   * transcodes ("h264_nvenc (CUDA frames)", "libx264 (h264_nvenc: …)") and the annotated
   * stream's; null when none.
   */
  encoders: { live: string | null; annotated: string | null };
  fps: { received: number; decoded: number };
  frames: { received: number; decoded: number };
  drops: { queue: number; pool: number; total: number };
  decodeErrors: number;
  corruptFrames: number;
  reconnects: number;
  /** ms since the last decoded frame; null before the first. */
  lastFrameAgoMs: number | null;
  /** ms until the next attempt while in backoff. */
  retryInMs: number | null;
  lastError: CameraError | null;
}

export interface SupervisorDeps {
  createCamera(options: CameraOptions, onEvent: (ev: CameraEvent) => void): NativeCamera;
  logger: Logger;
  /** Monotonic ms. */
  now?: () => number;
  random?: () => number;
  /** Encoded video even without the live view (event clips record it). */
  recordVideo?: boolean;
}

/** What a supervisor announces; the compiler checks names and payloads. */
export interface CameraSupervisorEvents {
  state: [state: CameraState, previous: CameraState];
  /** A session opened: codec, size, decoder. */
  opened: [ev: OpenedEvent];
  /** A frame was decoded into the camera's pool. */
  frame: [ev: FrameEvent];
  /** fMP4 fragments, when the camera remuxes for the live view or clips. */
  video: [ev: VideoEvent];
}

interface RateSample {
  at: number;
  packets: number;
  decoded: number;
}

const TICK_MS = 250;
const RATE_WINDOW_MS = 5000;

/**
 * Keeps one camera streaming: owns its native camera, follows its sessions, detects stalls,
 * and reconnects with exponential backoff. Emits CameraSupervisorEvents.
 */
export class CameraSupervisor extends EventEmitter<CameraSupervisorEvents> {
  readonly id: string;
  private readonly camera: NativeCamera;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private stateValue: CameraState = 'stopped';
  private stateSince = Date.now();
  private session = 0;
  private attempt = 0;
  private lastFrameAt: number | null = null;
  private stream: OpenedEvent | null = null;
  private lastErrorValue: CameraError | null = null;
  private retryAt: number | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly tick: NodeJS.Timeout;
  private samples: RateSample[] = [];
  private closed = false;

  constructor(
    readonly config: CameraConfig,
    deps: SupervisorDeps,
  ) {
    super();
    this.id = config.id;
    this.log = deps.logger;
    this.now = deps.now ?? (() => performance.now());
    this.random = deps.random ?? Math.random;
    this.camera = deps.createCamera(
      {
        url: config.url,
        transport: config.transport,
        timeoutMs: config.timeout_ms,
        realtime: config.realtime,
        protocols: config.allowed_protocols,
        loop: config.loop,
        decoder: config.decoder,
        decodeThreads: config.decode_threads,
        lowDelay: config.decode_mode === 'low_latency',
        video: config.live || deps.recordVideo === true,
      },
      (ev) => this.onEvent(ev),
    );
    this.tick = setInterval(() => this.onTick(), TICK_MS);
    this.tick.unref();
  }

  get state(): CameraState {
    return this.stateValue;
  }

  get lastError(): CameraError | null {
    return this.lastErrorValue;
  }

  /** Starts the first session. */
  start(): void {
    if (this.closed) throw new Error(`Camera ${this.id} is closed`);
    this.connect();
  }

  /** Stops the session and frees the native camera. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tick);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.camera.close();
    this.setState('stopped');
  }

  snapshot(quality?: number, seq?: number): Promise<Snapshot | null> {
    return this.camera.snapshot(quality, seq);
  }

  /** The annotated stream's next frame: boxes burned into frame `seq` (see NativeCamera.annotate). */
  annotate(seq: number, records: Uint8Array): Promise<AnnotatedFragment | null> {
    if (this.closed) return Promise.resolve(null);
    return this.camera.annotate(seq, records);
  }

  letterbox(dst: LetterboxTarget, size: number, norm: InputNorm, minSeq?: number): Promise<LetterboxResult | null> {
    return this.camera.letterbox(dst, size, norm, minSeq);
  }

  health(): CameraHealth {
    const c = this.camera.stats();
    const rates = this.rates();
    const now = this.now();
    return {
      id: this.id,
      name: this.config.name ?? this.id,
      url: redactUrl(this.config.url),
      state: this.stateValue,
      since: new Date(this.stateSince).toISOString(),
      codec: this.stream?.codec ?? null,
      width: this.stream?.width ?? null,
      height: this.stream?.height ?? null,
      decoder: c.decoder || null,
      gpuFrames: c.gpuFrames,
      hostCopies: c.hostCopies,
      video: this.stream?.video ?? null,
      encoders: { live: c.encoder || null, annotated: c.annotateEncoder || null },
      fps: rates,
      frames: { received: c.packets, decoded: c.framesDecoded },
      drops: { queue: c.droppedQueueFull, pool: c.droppedPoolFull, total: c.droppedQueueFull + c.droppedPoolFull },
      decodeErrors: c.decodeErrors,
      corruptFrames: c.corruptFrames,
      reconnects: Math.max(0, c.sessions - 1),
      lastFrameAgoMs: this.lastFrameAt === null ? null : Math.round(now - this.lastFrameAt),
      retryInMs: this.retryAt === null ? null : Math.max(0, Math.round(this.retryAt - now)),
      lastError: this.lastErrorValue,
    };
  }

  /** Native counters, for metrics. */
  counters() {
    return this.camera.stats();
  }

  private connect(): void {
    this.retryAt = null;
    this.retryTimer = null;
    if (this.closed) return;
    this.setState('connecting');
    this.stream = null;
    this.session = this.camera.open();
    this.log.debug({ session: this.session, url: redactUrl(this.config.url) }, 'session opening');
  }

  private onEvent(ev: CameraEvent): void {
    if (this.closed || ev.session !== this.session) return; // late events of an old session
    switch (ev.type) {
      case 'opened':
        this.stream = ev;
        this.log.info(
          {
            session: ev.session,
            codec: ev.codec,
            width: ev.width,
            height: ev.height,
            fps: ev.fps,
            decoder: ev.decoder,
            openMs: ev.openMs,
          },
          'stream opened',
        );
        this.emit('opened', ev);
        break;
      case 'video':
        this.emit('video', ev);
        break;
      case 'frame':
        this.lastFrameAt = this.now();
        if (this.stateValue !== 'streaming') {
          this.attempt = 0; // a healthy stream resets the backoff
          this.setState('streaming');
        }
        this.emit('frame', ev);
        break;
      case 'error':
        this.recordError(ev.stage, ev.message);
        this.log.warn({ stage: ev.stage, count: ev.count }, redactText(ev.message, this.config.url));
        break;
      case 'ended': {
        if (ev.reason === 'stopped') break; // we stopped it (stall or close) and handle the rest
        const message = ev.reason === 'eos' ? 'the stream ended' : ev.message || `the session ended (${ev.reason})`;
        this.recordError(ev.reason === 'eos' ? 'stream' : 'connect', message);
        this.log.warn({ session: ev.session, reason: ev.reason }, redactText(message, this.config.url));
        // The source went silent mid-stream: the same fault as a stall, found by the I/O timeout.
        if (ev.reason === 'timeout' && this.stateValue === 'streaming') this.setState('stalled');
        this.scheduleReconnect();
        break;
      }
    }
  }

  private onTick(): void {
    this.sampleRates();
    if (this.stateValue !== 'streaming' || this.lastFrameAt === null) return;
    const silentMs = this.now() - this.lastFrameAt;
    if (silentMs < this.config.stall_seconds * 1000) return;
    this.setState('stalled');
    this.recordError('stream', `no frame for ${(silentMs / 1000).toFixed(1)} s`);
    this.log.warn({ silentMs: Math.round(silentMs) }, 'camera stalled; reconnecting');
    this.camera.stop(); // aborts blocking I/O and joins the session thread
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    const delay = backoffDelay(this.config.backoff, this.attempt++, this.random);
    this.retryAt = this.now() + delay;
    this.setState('backoff');
    this.log.info({ delayMs: delay, attempt: this.attempt }, 'reconnecting after backoff');
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private recordError(stage: string, message: string): void {
    this.lastErrorValue = { stage, message: redactText(message, this.config.url), at: new Date().toISOString() };
  }

  private setState(next: CameraState): void {
    if (next === this.stateValue) return;
    const prev = this.stateValue;
    this.stateValue = next;
    this.stateSince = Date.now();
    this.emit('state', next, prev);
  }

  private sampleRates(): void {
    const c = this.camera.stats();
    const at = this.now();
    this.samples.push({ at, packets: c.packets, decoded: c.framesDecoded });
    while (this.samples.length > 2 && at - (this.samples[0]?.at ?? at) > RATE_WINDOW_MS) this.samples.shift();
  }

  private rates(): { received: number; decoded: number } {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at < 500) return { received: 0, decoded: 0 };
    const dt = (last.at - first.at) / 1000;
    const round = (v: number) => Math.round(v * 10) / 10;
    return {
      received: round((last.packets - first.packets) / dt),
      decoded: round((last.decoded - first.decoded) / dt),
    };
  }
}
