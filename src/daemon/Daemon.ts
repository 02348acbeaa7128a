import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';

import type { FastifyInstance } from 'fastify';

import type { BudgetEvent } from '../budget/BudgetGuard.js';
import type { VigilConfig } from '../config/schema.js';
import type { CameraConfig } from '../pipeline/cameraConfig.js';
import { loadAddon } from '../native/addon.js';
import type { NativeAddon } from '../native/types.js';
import type { DetectionEvent, DetectionService } from '../detect/DetectionService.js';
import { FrameLatency, stageTimes } from '../detect/FrameLatency.js';
import { modelCatalog, type ResolvedModel } from '../detect/modelConfig.js';
import { ModelDetectors } from '../detect/ModelDetectors.js';
import { NANODET_MODEL } from '../detect/nanodet/nanodetSpec.js';
import { EventLog } from '../events/EventLog.js';
import { EventMedia } from '../media/EventMedia.js';
import { reconcileMedia, removeMedia, Retention } from '../media/Retention.js';
import { MqttPublisher } from '../mqtt/MqttPublisher.js';
import { Tracker } from '../events/Tracker.js';
import { ZoneWatcher, type ZoneEvent } from '../events/ZoneWatcher.js';
import { CameraSupervisor } from '../pipeline/CameraSupervisor.js';
import { defaultDataDir } from '../server/auth/authConfig.js';
import { Sessions } from '../server/auth/Sessions.js';
import { UserStore } from '../server/auth/UserStore.js';
import { createHttpServer } from '../server/HttpServer.js';
import { LiveServer } from '../server/live/LiveServer.js';
import { createMetrics } from '../server/metrics.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import { Store } from '../store/Store.js';
import { moduleLogger, type Logger } from '../util/logger.js';

const OFF = { status: 'off', backend: 'cpu', precision: null, model: null, reason: null, fallback: null } as const;

/** Whether a camera makes events: it detects, and has zones or lines. */
function hasRules(c: CameraConfig): boolean {
  return c.detect && c.zones.length + c.lines.length > 0;
}

/** What a configuration reload did (camera ids), and which other sections need a restart. */
export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  failed: Array<{ camera: string; reason: string }>;
  restartNeeded: string[];
}

/** What the daemon announces; the compiler checks names and payloads. */
export interface DaemonEvents {
  /** One frame's detections (tracked), and when they left the daemon (monotonic µs). */
  detections: [ev: DetectionEvent, emittedUs: number];
  /** A camera's latency budget was breached, or is kept again (stored first). */
  budget: [ev: BudgetEvent];
  /**
   * An event's state as committed to the database: open (endedAt null) or closed. One that
   * opened and closed within one write is announced closed only.
   */
  event: [kind: 'open' | 'close', ev: ZoneEvent];
}

/** The running appliance: one supervisor per enabled camera, and the HTTP server. */
export class Daemon extends EventEmitter<DaemonEvents> {
  private readonly supervisors = new Map<string, CameraSupervisor>();
  /** One detector and detection service per model in use; null when detection is off. */
  private detectors: ModelDetectors | null = null;
  /** Per camera: inter-frame interval and jitter; recent per-stage latencies of detected frames, and cold starts. */
  private readonly latency = new Map<string, FrameLatency>();
  private liveServer: LiveServer | null = null;
  /** Set when this start created the admin account with a random password (print it once). */
  private adminPassword: string | null = null;
  private userStore: UserStore | null = null;
  private sessions: Sessions | null = null;
  /** The database (data_dir/vigil.db): events, media rows, budget events. */
  private db: Store | null = null;
  /** The MQTT publisher (config.mqtt), after start. */
  private publisher: MqttPublisher | null = null;
  /** Zone events on their way to the store (after start). */
  private eventLog: EventLog | null = null;
  /** Events' snapshots and clips, and their retention (after start). */
  private eventMedia: EventMedia | null = null;
  private retention: Retention | null = null;
  /** Why events have no snapshots or clips this run (the media directory could not be trusted); null when they do. */
  private mediaError: string | null = null;
  private readonly tracking = new Map<string, { tracker: Tracker; watcher: ZoneWatcher | null }>();
  private server: FastifyInstance | null = null;
  private closed = false;
  private serving = false;
  private readonly log: Logger;

  constructor(
    /** The configuration in force: a reload replaces its cameras. */
    private cfg: VigilConfig,
    private readonly logger: Logger,
    private readonly addon: NativeAddon = loadAddon(),
  ) {
    super();
    this.log = moduleLogger(logger, 'Daemon');
  }

  /** The configuration in force (a reload replaces its cameras). */
  get config(): VigilConfig {
    return this.cfg;
  }

  /** One supervisor per enabled camera. */
  get cameras(): ReadonlyMap<string, CameraSupervisor> {
    return this.supervisors;
  }

  /** The default model's detection service (its cameras' batches); null when off or before start. */
  get detection(): DetectionService | null {
    return this.detectors?.defaultService() ?? null;
  }

  /** Every model's detector (after start; null when detection is off). */
  get models(): ModelDetectors | null {
    return this.detectors;
  }

  /** The live view's WebSocket server (after start). */
  get live(): LiveServer | null {
    return this.liveServer;
  }

  /** The HTTP server (after start). */
  get http(): FastifyInstance | null {
    return this.server;
  }

  /** The database (after start). */
  get store(): Store | null {
    return this.db;
  }

  /** The MQTT publisher (config.mqtt, after start). */
  get mqtt(): MqttPublisher | null {
    return this.publisher;
  }

  /** Where events' snapshots and clips go; null before start or when this run has none. */
  get mediaDir(): string | null {
    return this.eventMedia?.dir ?? null;
  }

  /** Set when this start created the admin account with a random password (print it once). */
  get generatedAdminPassword(): string | null {
    return this.adminPassword;
  }

  /** Where the user accounts are stored (after start). */
  get usersFile(): string | null {
    return this.userStore?.file ?? null;
  }

  /** Starts cameras and the HTTP server; resolves with the URL it listens on. */
  async start(): Promise<string> {
    // What Vigil creates (database, users, media, engine caches) is private however it was
    // started: systemd's UMask= covers the unit, a shell's 022 would not. Files also set modes.
    if (isMainThread) process.umask(0o077);
    this.addon.setLibavLogLevel(this.cfg.log.libav);
    const build = this.addon.buildInfo();
    this.log.info({ cuda: build.cuda, ffmpeg: build.ffmpeg }, 'native addon loaded');
    const media = this.cfg.media;
    for (const cam of this.cfg.cameras) if (cam.enabled) this.addCamera(cam);
    const auth = this.cfg.auth;
    const dataDir = this.cfg.data_dir ?? defaultDataDir();
    const usersFile = auth.users_file ?? join(dataDir, 'users.json');
    const { store: users, generatedPassword } = await UserStore.open(usersFile, auth.admin_password);
    this.userStore = users;
    this.adminPassword = generatedPassword;
    if (generatedPassword)
      this.log.warn(
        { usersFile },
        'first run: created the admin account with a generated password (printed once on stdout)',
      );
    const store = (this.db = new Store(join(dataDir, 'vigil.db')));
    const dangling = store.closeOpenEvents(new Date().toISOString());
    if (dangling > 0)
      this.log.warn({ events: dangling }, 'closed events the previous run left open (it did not stop cleanly)');
    const mediaDir = resolve(media.dir ?? join(dataDir, 'media'));
    const fixed = await reconcileMedia(store, mediaDir);
    if (fixed.skipped) {
      this.mediaError = fixed.skipped;
      this.log.error(
        { dir: mediaDir, reason: fixed.skipped },
        'media directory not reconciled: events get no snapshots or clips this run, and retention is off',
      );
    } else if (fixed.orphanFiles + fixed.missingFiles > 0)
      this.log.warn(
        { ...fixed, dir: mediaDir },
        'media files and the database disagreed (the previous run did not stop cleanly): made them agree',
      );
    if (this.cfg.mqtt) this.startMqtt(this.cfg.mqtt);
    const events = (this.eventLog = new EventLog(store, moduleLogger(this.logger, 'EventLog'), (evs) => {
      for (const ev of evs) {
        const kind = ev.endedAt === null ? 'open' : 'close';
        this.publisher?.publish(`events/${ev.camera}`, { kind, ...ev });
        try {
          this.emit('event', kind, ev);
        } catch (err) {
          // a listener's failure is not the store's
          this.log.error({ err: (err as Error).message, event: ev.id }, 'an event listener failed');
        }
      }
    }));
    if (!this.mediaError) {
      this.eventMedia = new EventMedia(
        mediaDir,
        media,
        store,
        events,
        this.addon,
        (camera, quality, seq) => {
          const sup = this.supervisors.get(camera);
          return sup && sup.state !== 'stopped' ? sup.snapshot(quality, seq) : Promise.resolve(null);
        },
        moduleLogger(this.logger, 'EventMedia'),
      );
      this.retention = new Retention(
        store,
        mediaDir,
        media.retention,
        (id) => this.eventMedia?.busy(id) ?? false,
        moduleLogger(this.logger, 'Retention'),
      );
      await this.retention.sweep();
      this.retention.start();
    }
    const sessions = (this.sessions = new Sessions(auth.session_hours * 3_600_000, users));
    await this.startDetector();
    const metrics = createMetrics({
      cameras: () => this.supervisors.values(),
      detection: {
        detectStats: (id) => this.detectors?.stats(id) ?? null,
        batchStats: () => this.detection?.batchStats() ?? null,
        latency: (id) => this.latency.get(id),
        backend: () => this.detectors?.defaultHealth().backend ?? 'cpu',
        onDetections: (fn) => this.on('detections', fn),
        onBudget: (fn) => this.on('budget', fn),
      },
    });
    const eventMedia = this.eventMedia;
    const retention = this.retention;
    this.server = await createHttpServer({
      cameras: () => this.supervisors,
      detectStats: (id) => this.detectors?.stats(id) ?? null,
      latency: (id) => this.latency.get(id),
      detector: () => this.detectors?.defaultHealth() ?? { ...OFF },
      models: () => this.detectors?.models() ?? [],
      calibration: async (id) => (await this.detectors?.calibration(id)) ?? null,
      batchStats: () => this.detection?.batchStats() ?? null,
      mqttStats: () => this.publisher?.stats() ?? null,
      liveStats: () => this.liveServer?.stats() ?? null,
      media: eventMedia && {
        dir: eventMedia.dir,
        stats: () => ({ ...eventMedia.stats(), bytes: store.mediaBytes(), retention: retention?.totals ?? null }),
      },
      mediaError: this.mediaError,
      store,
      flushEvents: () => events.flush(),
      deleteEvent: (ev) => this.deleteEvent(ev),
      metrics,
      build,
      logger: this.logger,
      startedAt: Date.now(),
      auth: { config: auth, users, sessions, knownLoginsFile: join(dataDir, 'known-logins.json') },
      trustedProxies: this.cfg.server.trusted_proxies,
    });
    this.liveServer = new LiveServer(this.server.server, {
      cameras: this.supervisors,
      detectStats: (id) => this.detectors?.stats(id) ?? null,
      latency: (id) => this.latency.get(id),
      onDetections: (fn) => this.on('detections', fn),
      onBudget: (fn) => this.on('budget', fn),
      onEvent: (fn) => this.on('event', fn),
      sessions,
      auth,
      queueBytes: this.cfg.server.live_queue_kb * 1024,
      pingMs: this.cfg.server.live_ping_seconds * 1000,
      logger: moduleLogger(this.logger, 'LiveServer'),
    });
    await this.server.listen({ host: this.cfg.server.host, port: this.cfg.server.port });
    this.serving = true;
    for (const sup of this.supervisors.values()) sup.start();
    const url = this.url();
    this.log.info({ url, cameras: this.supervisors.size }, 'vigil is running');
    return url;
  }

  /** The model a camera detects with: its own, else detect.model, else the shipped NanoDet. */
  private modelOf(cam: CameraConfig): string {
    return cam.model ?? this.defaultModel().spec.id;
  }

  /** detect.model: a model id, or (as before models could be named) an ONNX file of the NanoDet family. */
  private defaultModel(): ResolvedModel {
    const name = this.cfg.detect.model ?? 'nanodet';
    return (
      modelCatalog(this.cfg.models).get(name) ?? {
        spec: { ...NANODET_MODEL, id: 'default' },
        source: { kind: 'file', path: name },
      }
    );
  }

  /** Loads every model the enabled cameras use (the default first); one that cannot load leaves its cameras without detection and says why. */
  private async startDetector(): Promise<void> {
    const cfg = this.cfg.detect;
    if (!cfg.enabled) return;
    const catalog = modelCatalog(this.cfg.models);
    const used = [this.defaultModel()];
    for (const cam of this.cfg.cameras) {
      const m = cam.model ? catalog.get(cam.model) : undefined;
      if (cam.enabled && cam.detect && m && !used.some((u) => u.spec.id === m.spec.id)) used.push(m);
    }
    const detectors = new ModelDetectors(cfg, this.cfg.data_dir ?? defaultDataDir(), this.logger);
    await detectors.start(used);
    this.detectors = detectors;
    for (const [id, sup] of this.supervisors) this.attachDetection(id, sup);
    detectors.on('detections', (ev) => {
      const tr = this.tracking.get(ev.camera);
      if (tr) {
        const r = tr.tracker.update(ev.detections);
        ev.detections = r.detections;
        tr.watcher?.update(ev.seq, r.detections, r.ended, Date.now());
      }
      const emittedUs = monoNowUs();
      this.latency.get(ev.camera)?.add(stageTimes(ev, emittedUs), performance.now());
      this.emit('detections', ev, emittedUs);
    });
    detectors.on('budget', (ev) => {
      if (ev.kind === 'breach') this.log.warn({ ...ev }, 'latency budget breached');
      else this.log.info({ ...ev }, 'latency budget kept again');
      try {
        this.db?.addBudgetEvent(ev);
      } catch (err) {
        this.log.error({ err: (err as Error).message, camera: ev.camera }, 'could not store a budget event');
      }
      this.emit('budget', ev);
    });
  }

  /** Detection, tracking, zones and lines, snapshots and clips for one camera (when it detects). */
  private attachDetection(id: string, sup: CameraSupervisor): void {
    const c = sup.config;
    if (!c.detect) return;
    const service = this.detectors?.serviceFor(this.modelOf(c), id);
    if (!service) return;
    service.addCamera(id, sup, {
      budgetMs: c.budget_ms ?? null,
      budget: c.budget,
      targetFps: c.target_fps ?? null,
      inferDelayMs: c.testing?.infer_delay_ms ?? 0,
    });
    sup.on('frame', (ev) => service.frame(id, ev.seq, ev.recvUs, ev.ptsUs));
    // Tracking (ids reach the overlay); events where zones or lines are set.
    const t = this.cfg.detect.tracker;
    const tracker = new Tracker({
      iouThreshold: t.iou_threshold,
      highScore: t.high_score,
      minHits: t.min_hits,
      maxAge: t.max_age,
    });
    const events = this.eventLog;
    const media = this.eventMedia;
    const watcher =
      hasRules(c) && events
        ? new ZoneWatcher(
            id,
            { zones: c.zones, lines: c.lines },
            {
              nextId: () => events.newId(),
              onOpen: (ev) => {
                events.record(ev);
                media?.opened(ev);
              },
              onClose: (ev) => {
                events.record(ev);
                media?.closed(ev);
              },
              onBest: (ev) => media?.best(ev),
            },
          )
        : null;
    this.tracking.set(id, { tracker, watcher });
    const clips = watcher ? media?.camera(id) : null;
    if (clips) sup.on('video', (ev) => clips.video(ev));
    // A session that ends takes its tracks along: their events close (and their clips end).
    sup.on('state', (next) => {
      if (next === 'streaming') return;
      tracker.clear();
      watcher?.closeAll(Date.now());
      clips?.ended();
    });
  }

  /** Publishes events (once stored) and each camera's state (retained) to the broker. */
  private startMqtt(cfg: NonNullable<VigilConfig['mqtt']>): void {
    this.publisher = new MqttPublisher(cfg, moduleLogger(this.logger, 'MQTT'));
    for (const [id, sup] of this.supervisors) this.publishStates(id, sup);
  }

  private publishStates(id: string, sup: CameraSupervisor): void {
    const mqtt = this.publisher;
    if (!mqtt) return;
    const publishState = () =>
      mqtt.publish(`cameras/${id}/state`, { camera: id, state: sup.state, since: new Date().toISOString() }, true);
    publishState();
    sup.on('state', publishState);
  }

  /**
   * One camera and everything that hangs off it: its supervisor and latency record, and (once
   * they exist) detection, tracking, events, MQTT state and the live view; started when the
   * daemon serves. Throws when the native camera cannot be made.
   */
  private addCamera(cam: CameraConfig): void {
    const sup = new CameraSupervisor(cam, {
      createCamera: (opts, onEvent) => new this.addon.Camera(opts, onEvent),
      logger: moduleLogger(this.logger, 'CameraSupervisor', { camera: cam.id }),
      recordVideo: hasRules(cam) && this.cfg.media.clips.enabled,
    });
    sup.on('state', (state, prev) => this.log.info({ camera: cam.id, state, prev }, 'camera state'));
    this.supervisors.set(cam.id, sup);
    const lat = new FrameLatency();
    this.latency.set(cam.id, lat);
    sup.on('opened', () => lat.opened(performance.now()));
    sup.on('frame', (ev) => lat.frame(ev));
    this.attachDetection(cam.id, sup);
    this.publishStates(cam.id, sup);
    this.liveServer?.addCamera(cam.id, sup);
    if (this.serving) sup.start();
  }

  /** Stops a camera and takes it out everywhere: its open events close, its clips end. */
  private removeCamera(id: string): void {
    const sup = this.supervisors.get(id);
    if (!sup) return;
    sup.close();
    this.detectors?.removeCamera(id);
    this.tracking.delete(id);
    this.eventMedia?.dropCamera(id);
    this.publisher?.publish(`cameras/${id}/state`, null, true); // no retained state left for a camera that is gone
    this.liveServer?.removeCamera(id);
    this.latency.delete(id);
    this.supervisors.delete(id);
  }

  /**
   * Applies a new configuration's cameras without a restart (SIGHUP): removed cameras stop,
   * added ones start, changed ones restart with their new settings, the others go on untouched.
   * Other sections need a restart: they are named in the result and left as they were. The new
   * configuration is validated before this (a bad one changes nothing).
   */
  reload(next: VigilConfig): ReloadResult {
    const restartNeeded = (Object.keys(next) as Array<keyof VigilConfig>).filter(
      (k) => k !== 'cameras' && JSON.stringify(next[k]) !== JSON.stringify(this.cfg[k]),
    );
    const enabled = (cfg: VigilConfig) => new Map(cfg.cameras.filter((c) => c.enabled).map((c) => [c.id, c]));
    const before = enabled(this.cfg);
    const after = enabled(next);
    const removed = [...before.keys()].filter((id) => !after.has(id));
    const added = [...after.keys()].filter((id) => !before.has(id));
    const changed = [...after.keys()].filter(
      (id) => before.has(id) && JSON.stringify(before.get(id)) !== JSON.stringify(after.get(id)),
    );
    for (const id of [...removed, ...changed]) this.removeCamera(id);
    const failed: Array<{ camera: string; reason: string }> = [];
    for (const id of [...changed, ...added]) {
      try {
        this.addCamera(after.get(id)!);
      } catch (err) {
        failed.push({ camera: id, reason: (err as Error).message });
        this.log.error({ camera: id, err: (err as Error).message }, 'reload: could not start a camera');
      }
    }
    // A camera that could not start is not in force: the next reload tries it again.
    this.cfg = { ...this.cfg, cameras: next.cameras.filter((c) => !failed.some((f) => f.camera === c.id)) };
    return { added, removed, changed, failed, restartNeeded };
  }

  /**
   * Whether the pipeline makes progress (what the service manager's watchdog is fed on): null
   * when it does, else why not. Cameras that cannot stream are the supervisors' business (they
   * reconnect); a stuck detector is not, and only a restart clears it.
   */
  liveness(): string | null {
    if (this.closed) return null;
    return this.detectors?.stuck(this.cfg.service.watchdog_stuck_seconds * 1000) ?? null;
  }

  /** One line for the service manager's STATUS=: cameras, detector, events. */
  statusLine(): string {
    const sups = [...this.supervisors.values()];
    const streaming = sups.filter((s) => s.state === 'streaming').length;
    const fps = this.detectors?.fps() ?? 0;
    const d = this.detectors?.defaultHealth() ?? OFF;
    const detector =
      d.status === 'ready'
        ? `detector ${d.backend} ${d.precision}, ${fps.toFixed(1)} inferences/s`
        : d.status === 'off'
          ? 'detector off'
          : `detector unavailable: ${d.reason}`;
    const media = this.eventMedia?.stats();
    return `${streaming}/${sups.length} cameras streaming; ${detector}${media ? `; ${media.recording} clips recording` : ''}${this.mediaError ? '; no event media: see the log' : ''}`;
  }

  /** Deletes an event (the API): its row and media rows, then its files; its clip stops if recording. false when there was none. */
  async deleteEvent(ev: { id: number; camera: string; endedAt: string | null }): Promise<boolean> {
    if (!this.db) return false;
    this.eventLog?.forget(ev);
    await this.eventMedia?.forget(ev);
    const { deleted, paths } = this.db.deleteEvents([ev.id]);
    if (this.eventMedia) await removeMedia(this.eventMedia.dir, paths);
    return deleted.length > 0;
  }

  url(): string {
    const addr = this.server?.server.address() as AddressInfo | null;
    if (!addr) throw new Error('The HTTP server is not listening');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  /** Closes cameras and the server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // What must be written comes first (events, clips, the store), each step on its own: one
    // that fails does not keep the others from running. The HTTP server goes last, its
    // connections cut (a slow clip download must not hold the shutdown).
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, `shutdown: ${what} failed`);
      }
    };
    // A camera that stops closes its open events (its 'state' listener, attachDetection).
    for (const sup of this.supervisors.values()) await step('closing a camera', () => sup.close());
    await step('stopping detection', () => this.detectors?.close());
    this.retention?.stop();
    await step('finishing clips', () => this.eventMedia?.close());
    await step('writing events', () => this.eventLog?.close());
    await step('retention', () => this.retention?.sweep());
    await step('the live view', () => this.liveServer?.close());
    this.sessions?.close();
    await step('the HTTP server', async () => {
      this.server?.server.closeAllConnections();
      await this.server?.close();
    });
    await step('releasing the detectors', () => this.detectors?.release());
    await step('MQTT', () => this.publisher?.close());
    await step('the database', () => this.db?.close());
    this.log.info('vigil stopped');
  }
}
