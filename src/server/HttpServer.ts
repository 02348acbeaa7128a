import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

import { packageRoot } from '../native/addon.js';
import type { BuildInfo } from '../native/types.js';
import type { Daemon } from '../daemon/Daemon.js';
import type { CameraSupervisor } from '../pipeline/CameraSupervisor.js';
import type { Logger } from '../util/logger.js';

export interface HttpDeps {
  cameras: () => Map<string, CameraSupervisor>;
  daemon: Daemon;
  metrics: Registry;
  build: BuildInfo;
  logger: Logger;
  startedAt: number;
}

function badRequest(message: string) {
  return { error: 'bad_request', message };
}

/** GET /api/health, GET /metrics, GET /api/cameras/:id/snapshot.jpg and the status page. */
export function createHttpServer(deps: HttpDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ module: 'HttpServer' }) as FastifyBaseLogger,
    // Health probes and scrapes every few seconds would drown the log: no per-request lines.
    logController: new LogController({ disableRequestLogging: true }),
  });
  const indexHtml = readFileSync(join(packageRoot(), 'ui', 'index.html'));

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(indexHtml));

  app.get('/api/health', async () => {
    const cameras = [...deps.cameras().values()].map((c) => ({ ...c.health(), detect: deps.daemon.detection?.stats(c.id) ?? null }));
    const enabled = cameras.filter((c) => c.state !== 'stopped');
    const detectorOk = deps.daemon.detector.status !== 'unavailable';
    return {
      status: enabled.every((c) => c.state === 'streaming') && detectorOk ? 'ok' : 'degraded',
      uptimeS: Math.round((Date.now() - deps.startedAt) / 1000),
      build: deps.build,
      detector: deps.daemon.detector,
      cameras,
    };
  });

  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()),
  );

  app.get<{ Params: { id: string }; Querystring: { quality?: string } }>(
    '/api/cameras/:id/snapshot.jpg',
    async (req, reply) => {
      const cam = deps.cameras().get(req.params.id);
      if (!cam) return reply.code(404).send({ error: 'not_found', message: `No camera with id '${req.params.id}'` });
      let quality = 85;
      if (req.query.quality !== undefined) {
        quality = Number(req.query.quality);
        if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
          return reply
            .code(400)
            .send(badRequest(`Expected an integer between 1 and 100 for quality but received '${req.query.quality}'`));
        }
      }
      const snap = await cam.snapshot(quality);
      if (!snap) {
        return reply.code(503).header('Retry-After', '1').send({ error: 'no_frame', message: `Camera '${cam.id}' has not decoded a frame yet (state: ${cam.state})` });
      }
      return reply
        .type('image/jpeg')
        .header('Cache-Control', 'no-store')
        .header('X-Frame-Seq', String(snap.seq))
        .header('X-Camera-State', cam.state)
        .send(snap.jpeg);
    },
  );
  return app;
}
