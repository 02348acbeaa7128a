import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

import { WebSocketServer, type RawData, type WebSocket } from 'ws';

import type { BudgetEvent } from '../../budget/BudgetGuard.js';
import type { CameraDetectStats, DetectionEvent } from '../../detect/DetectionService.js';
import type { FrameLatency } from '../../detect/FrameLatency.js';
import type { CameraSupervisor } from '../../pipeline/CameraSupervisor.js';
import { detectionRecordsOf } from '../../protocol/binary.js';
import {
  LIVE_CLOSE,
  parseClientMessage,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  type CameraInfo,
  type CameraLive,
  type EventMessage,
  type ServerMessage,
} from '../../protocol/control.js';
import { LatencyWindow, monoNowUs } from '../../util/LatencyWindow.js';
import type { Logger } from '../../util/logger.js';
import { describeValue } from '../../util/zodIssues.js';
import type { AuthConfig } from '../auth/authConfig.js';
import { tokenOf, type SessionEndReason, type Sessions } from '../auth/Sessions.js';
import { canSee, type User } from '../auth/UserStore.js';
import { LiveClient } from './LiveClient.js';
import { LiveFeed } from './LiveFeed.js';

export const LIVE_PATH = '/api/live';
const TICK_MS = 100;
const HEALTH_EVERY = 10; // ticks
const LATENCY_WINDOW = 16384;
const NO_SAMPLES = { p50: null, p95: null, p99: null, n: 0 }; // recent sends the latency percentiles cover

export interface LiveDeps {
  cameras: Map<string, CameraSupervisor>;
  /** Detection stats per camera (null when detection is off). */
  detectStats: (id: string) => CameraDetectStats | null;
  /** A camera's latency record: stage percentiles, interval and jitter; where send and display times go. */
  latency: (id: string) => FrameLatency | undefined;
  /** Subscribes to the detections stream. */
  onDetections: (fn: (ev: DetectionEvent) => void) => void;
  /** Subscribes to latency budget breaches and recoveries. */
  onBudget: (fn: (ev: BudgetEvent) => void) => void;
  /** Subscribes to zone and line events, once committed to the database. */
  onEvent?: (fn: (kind: 'open' | 'close', ev: EventMessage) => void) => void;
  /** Resolves the upgrade's token; its `ended` and `userChanged` events reach the open sockets. */
  sessions: Pick<Sessions, 'resolve' | 'on' | 'off'>;
  auth: AuthConfig;
  /** Per-client send queue bound (bytes) and ping interval (ms): server.live_queue_kb, live_ping_seconds. */
  queueBytes: number;
  pingMs: number;
  logger: Logger;
}

/**
 * The live WebSocket (/api/live): authenticated at the upgrade (session cookie or bearer token;
 * a browser's Origin must be the daemon's own or allowed in config), JSON control messages,
 * binary video fragments and detections (src/protocol). The pipeline never waits on a client.
 * A socket lives only as long as its session and sees only what its user may see now: the
 * session's end closes it (LIVE_CLOSE says why), a camera taken away is unsubscribed.
 */
export class LiveServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  private readonly feeds = new Map<string, LiveFeed>();
  private nextIndex = 0;
  private readonly clients = new Set<LiveClient>();
  /** Packet received → handed to a socket, µs: video fragments and detection batches. */
  private readonly latency = {
    video: new LatencyWindow(LATENCY_WINDOW),
    detections: new LatencyWindow(LATENCY_WINDOW),
  };
  /** Annotated stream: cameras with an annotate call in flight; frames encoded, and frames the pool had already dropped or skipped while busy. */
  private readonly annotating = new Set<string>();
  private readonly annotatedCounts = { frames: 0, missed: 0, busy: 0, errors: 0 };
  private ticks = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly pinger: NodeJS.Timeout;
  private readonly allowedOrigins: Set<string>;
  private readonly upgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    this.upgrade(req, socket, head);
  private readonly sessionEnded = (token: string, reason: SessionEndReason) => {
    for (const c of this.clients) if (c.token === token) this.end(c, reason);
  };
  private readonly userChanged = (user: User) => {
    for (const c of this.clients) if (c.user.name === user.name) this.rightsChanged(c, user);
  };

  constructor(
    private readonly server: Server,
    private readonly deps: LiveDeps,
  ) {
    this.allowedOrigins = new Set(deps.auth.allowed_origins.map((o) => new URL(o).origin));
    for (const [id, sup] of deps.cameras) this.addCamera(id, sup);
    deps.onDetections((ev) => {
      const feed = this.feeds.get(ev.camera);
      if (!feed) return;
      const msg = feed.detections(ev);
      const outUs = ev.stamps.postprocessedUs;
      for (const c of this.clients) c.detections(feed, msg, ev.stamps.recvUs, outUs);
      this.annotate(feed, ev.seq, msg);
    });
    deps.onBudget((event) => {
      this.toViewersOf(event.camera, { type: 'budget', event });
    });
    deps.onEvent?.((kind, event) => {
      this.toViewersOf(event.camera, { type: 'event', kind, event });
    });
    deps.sessions.on('ended', this.sessionEnded);
    deps.sessions.on('userChanged', this.userChanged);
    server.on('upgrade', this.upgradeListener);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.pinger = setInterval(() => this.ping(), deps.pingMs);
    this.pinger.unref();
  }

  /** Clients, their counters, and packet-to-send latency (packet received → handed to the socket) of video and of detections. */
  /**
   * A camera joins the live view (at start, or a config reload); its index is new (never reused
   * in this run: binary messages name cameras by index). Clients that said hello get the new list.
   */
  addCamera(id: string, sup: CameraSupervisor): void {
    const feed = new LiveFeed(this.nextIndex++, id, sup.config.name ?? id);
    this.feeds.set(id, feed);
    sup.on('opened', (ev) => feed.opened(ev));
    sup.on('video', (ev) => {
      if (!sup.config.live || this.feeds.get(id) !== feed) return; // video for event clips only; or a removed camera's
      const { init, fragment } = feed.fragment(ev);
      for (const c of this.clients) c.video(feed, 'video', init, fragment);
    });
    this.announceCameras();
  }

  /** A camera leaves (config reload): its subscribers are told, and every client gets the new list. */
  removeCamera(id: string): void {
    if (!this.feeds.delete(id)) return;
    this.annotating.delete(id);
    for (const c of this.clients) {
      if (c.subs.delete(id)) c.json({ type: 'unsubscribed', camera: id });
    }
    this.announceCameras();
  }

  private announceCameras(): void {
    for (const c of this.clients) {
      if (c.helloDone) c.json(this.hello(c.user));
    }
  }

  stats() {
    return {
      clients: this.clients.size,
      sendLatencyMs: this.latency.video.percentiles() ?? NO_SAMPLES,
      detectionSendLatencyMs: this.latency.detections.percentiles() ?? NO_SAMPLES,
      annotated: { ...this.annotatedCounts },
      perClient: [...this.clients].map((c) => ({
        user: c.user.name,
        queued: c.queued,
        ...c.counters,
        player: c.player,
      })),
    };
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.pinger);
    this.server.off('upgrade', this.upgradeListener);
    this.deps.sessions.off('ended', this.sessionEnded);
    this.deps.sessions.off('userChanged', this.userChanged);
    for (const c of [...this.clients]) this.closeClient(c, 1001, 'server shutting down');
    this.wss.close();
  }

  private refuse(socket: Duplex, code: number, status: string, message: string): void {
    const body = JSON.stringify({ error: status.toLowerCase().replace(/ /g, '_'), message });
    socket.end(
      `HTTP/1.1 ${code} ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== LIVE_PATH)
      return this.refuse(
        socket,
        404,
        'Not Found',
        `No WebSocket at ${describeValue(path)}; the live view is at ${LIVE_PATH}`,
      );
    // Cross-site WebSocket hijacking: a browser always sends Origin; it must be ours.
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, req.headers.host)) {
      this.deps.logger.warn({ origin: origin.slice(0, 200) }, 'live WebSocket refused: foreign Origin'); // anonymous input: logged cut short
      return this.refuse(socket, 403, 'Forbidden', `Origin ${describeValue(origin)} may not open the live view`);
    }
    const token = tokenOf(req.headers);
    const user = this.deps.sessions.resolve(token);
    if (!token || !user)
      return this.refuse(
        socket,
        401,
        'Unauthorized',
        'Log in first: the session cookie or Authorization: Bearer <token>',
      );
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, token, user));
  }

  private originAllowed(origin: string, host: string | undefined): boolean {
    if (this.allowedOrigins.has(origin)) return true;
    try {
      return host !== undefined && new URL(origin).host === host;
    } catch {
      return false;
    }
  }

  private connected(ws: WebSocket, token: string, user: User): void {
    const client = new LiveClient(ws, token, user, this.deps.queueBytes, (recvUs, what, camera, outUs) => {
      const now = monoNowUs();
      if (recvUs !== null && recvUs > 0) this.latency[what].add((now - recvUs) / 1000);
      if (camera !== undefined && outUs !== undefined)
        this.deps.latency(camera)?.delivery.send.add((now - outUs) / 1000);
    });
    this.clients.add(client);
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data: RawData, isBinary: boolean) => this.message(client, data, isBinary));
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => {
      this.clients.delete(client);
      ws.terminate();
    });
  }

  /** Closes a client's socket; it leaves `clients` now, not when the peer answers the close. */
  private closeClient(client: LiveClient, code: number, reason: string): void {
    this.clients.delete(client);
    client.subs.clear();
    client.ws.close(code, reason);
  }

  /** The client's session ended: nothing more reaches it, and it is told why. */
  private end(client: LiveClient, why: SessionEndReason): void {
    const { code, reason } = LIVE_CLOSE[why];
    this.deps.logger.info({ user: client.user.name, reason }, 'live client closed: its session ended');
    this.closeClient(client, code, reason);
  }

  /** The user's cameras changed: those taken away are unsubscribed, and a changed list is said again. */
  private rightsChanged(client: LiveClient, user: User): void {
    const before = this.cameraList(client.user)
      .map((c) => c.id)
      .join('\n');
    client.user = user;
    for (const id of [...client.subs.keys()]) {
      if (canSee(user, id)) continue;
      client.subs.delete(id);
      client.json({ type: 'unsubscribed', camera: id });
    }
    if (client.player && !canSee(user, client.player.camera)) client.player = null;
    if (
      client.helloDone &&
      this.cameraList(user)
        .map((c) => c.id)
        .join('\n') !== before
    )
      client.json(this.hello(user));
  }

  private message(client: LiveClient, data: RawData, isBinary: boolean): void {
    // A closing socket still delivers what its peer sent before it answers the close: an ended
    // client's user (deleted, logged out) acts on nothing any more.
    if (!this.clients.has(client)) return;
    if (isBinary)
      return client.json({
        type: 'error',
        code: 'bad_message',
        message: 'Expected a JSON text message but received binary data',
      });
    const parsed = parseClientMessage(data.toString());
    if (!parsed.ok) return client.json({ type: 'error', code: 'bad_message', message: parsed.error });
    const msg = parsed.message;
    if (msg.type === 'hello') {
      if (msg.version !== PROTOCOL_VERSION) {
        client.json({
          type: 'error',
          code: 'version',
          message: `Expected protocol version ${PROTOCOL_VERSION} but received ${msg.version}`,
        });
        return this.closeClient(client, LIVE_CLOSE.version.code, LIVE_CLOSE.version.reason);
      }
      client.helloDone = true;
      return client.json(this.hello(client.user));
    }
    if (!client.helloDone)
      return client.json({
        type: 'error',
        code: 'hello_first',
        message: `Expected a hello message first but received ${msg.type}`,
      });
    // A camera this user may not see answers as one that does not exist: no oracle of camera ids.
    const feed = this.feeds.get(msg.camera);
    if (!feed || !canSee(client.user, feed.id))
      return client.json({
        type: 'error',
        code: 'unknown_camera',
        message: `No camera with id ${describeValue(msg.camera)}`,
      });
    switch (msg.type) {
      case 'subscribe':
        client.json({
          type: 'subscribed',
          camera: feed.id,
          index: feed.index,
          video: msg.video,
          detections: msg.detections,
          annotated: msg.annotated,
        });
        client.subscribe(feed, msg.video, msg.detections, msg.annotated ? 'annotated' : 'video');
        break;
      case 'unsubscribe':
        client.subs.delete(feed.id);
        client.json({ type: 'unsubscribed', camera: feed.id });
        break;
      case 'player':
        client.player = {
          camera: feed.id,
          behindMs: msg.behindMs,
          bufferedMs: msg.bufferedMs,
          rate: msg.rate,
          jumps: msg.jumps,
        };
        break;
      case 'overlay': {
        const w = this.deps.latency(feed.id)?.delivery.display;
        for (const ms of msg.drawnMs) w?.add(ms);
        break;
      }
    }
  }

  /** A JSON message to every client that said hello and may see `camera`. */
  private toViewersOf(camera: string, msg: ServerMessage): void {
    for (const c of this.clients) if (c.helloDone && canSee(c.user, camera)) c.json(msg);
  }

  private hello(user: User): ServerMessage {
    return {
      type: 'hello',
      version: PROTOCOL_VERSION,
      user: { name: user.name, role: user.role },
      cameras: this.cameraList(user),
    };
  }

  private cameraList(user: User): CameraInfo[] {
    return [...this.feeds.values()]
      .filter((f) => canSee(user, f.id))
      .map((f) => ({
        index: f.index,
        id: f.id,
        name: f.name,
        codec: f.codec,
        width: f.width,
        height: f.height,
        video: f.video,
      }));
  }

  /**
   * The annotated stream of a camera, while someone watches it: the detected frame with its
   * boxes burned in, encoded natively off the JS thread; one call at a time per camera (a frame
   * that comes while one is running is skipped: the stream runs at what the encoder keeps up with).
   */
  private annotate(feed: LiveFeed, seq: number, detectionsMessage: Uint8Array): void {
    if (![...this.clients].some((c) => c.wants(feed.id, 'annotated'))) return;
    if (this.annotating.has(feed.id)) {
      this.annotatedCounts.busy++;
      return;
    }
    const sup = this.deps.cameras.get(feed.id);
    if (!sup) return;
    this.annotating.add(feed.id);
    // The same detection records the viewers get, handed to the native painter as they are.
    sup.annotate(seq, detectionRecordsOf(detectionsMessage)).then(
      (a) => {
        this.annotating.delete(feed.id);
        if (!a) {
          this.annotatedCounts.missed++;
          return;
        }
        this.annotatedCounts.frames++;
        const { init, fragment } = feed.annotated(a);
        for (const c of this.clients) c.video(feed, 'annotated', init, fragment);
      },
      (err: unknown) => {
        this.annotating.delete(feed.id);
        this.annotatedCounts.errors++;
        this.deps.logger.warn({ camera: feed.id, err: (err as Error).message }, 'annotated stream: frame not encoded');
      },
    );
  }

  private tick(): void {
    for (const c of this.clients) c.flush();
    if (++this.ticks % HEALTH_EVERY !== 0) return;
    const live = new Map<string, CameraLive>();
    for (const [id, sup] of this.deps.cameras) {
      const h = sup.health();
      const d = this.deps.detectStats(id);
      const lat = this.deps.latency(id);
      const st = lat?.percentiles() ?? null;
      const timing = lat?.timing() ?? null;
      const total = st?.total ?? null;
      live.set(id, {
        id,
        state: h.state,
        fps: h.fps.decoded,
        drops: h.drops.total,
        detectFps: d?.fps ?? null,
        inferMs: d?.inferMs?.p50 ?? null,
        latencyMs: total ? { p50: total.p50, p99: total.p99 } : null,
        objects: d?.lastObjects ?? {},
        stages: total ? st : null,
        budget: d?.budget ?? null,
        dropReasons: d?.dropReasons ?? null,
        intervalMs: timing?.intervalMs ?? null,
        jitterMs: timing?.jitterMs ?? null,
      });
    }
    for (const c of this.clients) {
      if (!c.helloDone) continue;
      c.json({ type: 'health', cameras: [...live.values()].filter((x) => canSee(c.user, x.id)) });
    }
  }

  private ping(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.deps.logger.info({ user: c.user.name }, 'live client reaped: no pong');
        c.ws.terminate();
        this.clients.delete(c);
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}
