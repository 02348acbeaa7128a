import type { AddressInfo } from 'node:net';

import type { FastifyInstance } from 'fastify';

import type { VigilConfig } from '../config/schema.js';
import { loadAddon } from '../native/addon.js';
import type { NativeAddon } from '../native/types.js';
import { CameraSupervisor } from '../pipeline/CameraSupervisor.js';
import { createHttpServer } from '../server/HttpServer.js';
import { createMetrics } from '../server/metrics.js';
import { moduleLogger, type Logger } from '../util/logger.js';

/** The running appliance: one supervisor per enabled camera, and the HTTP server. */
export class Daemon {
  readonly cameras = new Map<string, CameraSupervisor>();
  private http: FastifyInstance | null = null;
  private closed = false;
  private readonly log: Logger;

  constructor(
    readonly config: VigilConfig,
    private readonly logger: Logger,
    private readonly addon: NativeAddon = loadAddon(),
  ) {
    this.log = moduleLogger(logger, 'Daemon');
  }

  /** Starts cameras and the HTTP server; resolves with the URL it listens on. */
  async start(): Promise<string> {
    this.addon.setLibavLogLevel(this.config.log.libav);
    const build = this.addon.buildInfo();
    this.log.info({ cuda: build.cuda, ffmpeg: build.ffmpeg }, 'native addon loaded');
    for (const cam of this.config.cameras) {
      if (!cam.enabled) continue;
      const sup = new CameraSupervisor(cam, {
        createCamera: (opts, onEvent) => new this.addon.Camera(opts, onEvent),
        logger: moduleLogger(this.logger, 'CameraSupervisor', { camera: cam.id }),
      });
      sup.on('state', (state: string, prev: string) => this.log.info({ camera: cam.id, state, prev }, 'camera state'));
      this.cameras.set(cam.id, sup);
    }
    const metrics = createMetrics(() => this.cameras.values());
    this.http = createHttpServer({
      cameras: () => this.cameras,
      metrics,
      build,
      logger: this.logger,
      startedAt: Date.now(),
    });
    await this.http.listen({ host: this.config.server.host, port: this.config.server.port });
    for (const sup of this.cameras.values()) sup.start();
    const url = this.url();
    this.log.info({ url, cameras: this.cameras.size }, 'vigil is running');
    return url;
  }

  url(): string {
    const addr = this.http?.server.address() as AddressInfo | null;
    if (!addr) throw new Error('The HTTP server is not listening');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  /** Closes cameras and the server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sup of this.cameras.values()) sup.close();
    await this.http?.close();
    this.log.info('vigil stopped');
  }
}
