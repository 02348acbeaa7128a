import { existsSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';

import fastifyStatic from '@fastify/static';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
} from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';

import type { BatchStats, CameraDetectStats } from '../detect/DetectionService.js';
import type { FrameLatency } from '../detect/FrameLatency.js';
import type { MediaStats } from '../media/EventMedia.js';
import type { Retention } from '../media/Retention.js';
import type { MqttStats } from '../mqtt/MqttPublisher.js';
import { packageRoot } from '../native/addon.js';
import type { BuildInfo } from '../native/types.js';
import type { CameraSupervisor } from '../pipeline/CameraSupervisor.js';
import type { Store, StoredEvent } from '../store/Store.js';
import type { Logger } from '../util/logger.js';
import { describeIssue, describeValue } from '../util/zodIssues.js';
import { OPENAPI } from './openapi.js';
import type { AuthConfig } from './auth/authConfig.js';
import { isLoopback, KnownPairsFile, LoginLimiter, loginLimits } from './auth/LoginLimiter.js';
import { sessionCookie, Sessions, tokenOf } from './auth/Sessions.js';
import { canSee, type User, type UserStore } from './auth/UserStore.js';
import type { LiveServer } from './live/LiveServer.js';

/** The detector's state as /api/health shows it. */
import type { CalibrationSummary, DetectorHealth, ModelHealth } from '../detect/ModelDetectors.js';

export type { DetectorHealth };

/** Events' snapshots and clips, as the routes serve and report them. */
export interface HttpMedia {
  /** The media directory: files are sent from there only. */
  dir: string;
  /** Written, recording, failures; bytes on disk; retention so far. */
  stats: () => MediaStats & { bytes: number; retention: Retention['totals'] | null };
}

/** What the routes read and do, and nothing more: the daemon builds it. */
export interface HttpDeps {
  cameras: () => ReadonlyMap<string, Pick<CameraSupervisor, 'id' | 'state' | 'health' | 'snapshot'>>;
  /** A camera's detection stats; null when it does not detect. */
  detectStats: (id: string) => CameraDetectStats | null;
  /** A camera's latency record: stage percentiles, cold start, interval and jitter. */
  latency: (id: string) => Pick<FrameLatency, 'percentiles' | 'cold' | 'timing'> | undefined;
  detector: () => DetectorHealth;
  /** Every loaded model: health, family, cameras (the default first). */
  models: () => ModelHealth[];
  /** Model `id`'s calibration report (its INT8 file's, beside it); null when it runs no calibrated file. */
  calibration: (id: string) => Promise<CalibrationSummary | null>;
  /** How the detector's batches are formed; null when detection is off. */
  batchStats: () => BatchStats | null;
  /** null without a broker configured. */
  mqttStats: () => MqttStats | null;
  /** null before the live view is up. */
  liveStats: () => ReturnType<LiveServer['stats']> | null;
  /** null when events have no media this run; mediaError says why. */
  media: HttpMedia | null;
  mediaError: string | null;
  store: Pick<Store, 'budgetEvents' | 'events' | 'event'>;
  /** Writes the events recorded so far: a query sees what happened up to now. */
  flushEvents: () => void;
  /** Deletes an event: its row, media rows and files (its clip stops if recording); false when there was none. */
  deleteEvent: (ev: StoredEvent) => Promise<boolean>;
  metrics: Registry;
  build: BuildInfo;
  logger: Logger;
  startedAt: number;
  /** knownLoginsFile: where the login limiter keeps known (user, address) pairs across restarts; none, in memory only. */
  auth: { config: AuthConfig; users: UserStore; sessions: Sessions; knownLoginsFile?: string };
  /** Peers whose X-Forwarded-For names the client (server.trusted_proxies). */
  trustedProxies: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook: the logged-in user, on every route that is not public. */
    user: User | null;
  }
  interface FastifyContextConfig {
    /** The route needs no login. Every route without it does (deny by default). */
    public?: boolean;
  }
}

/** The built browser app (vite build → dist/ui). */
export function uiDir(): string {
  return join(packageRoot(), 'dist', 'ui');
}

const routeTables = new WeakMap<FastifyInstance, RouteOptions[]>();
/** An event as the API shows it: its files as URLs (their place on disk is the daemon's business). */
function present(ev: StoredEvent) {
  const { snapshot, clip, ...rest } = ev;
  return {
    ...rest,
    snapshot: snapshot && {
      url: `/api/events/${ev.id}/snapshot.jpg?seq=${snapshot.seq}`,
      seq: snapshot.seq,
      score: snapshot.score,
      box: snapshot.box,
      width: snapshot.width,
      height: snapshot.height,
      bytes: snapshot.bytes,
    },
    clip: clip && {
      url: `/api/events/${ev.id}/clip.mp4`,
      durationMs: clip.durationMs,
      startedAt: clip.startedAt,
      packets: clip.packets,
      bytes: clip.bytes,
    },
  };
}

/** Every route the server registered (method, path, whether it needs no login), for audits and tests. */
export function routesOf(app: FastifyInstance): Array<{ method: string; url: string; public: boolean }> {
  // Read when asked: onRoute hooks of inner scopes (the static files') mark routes public after ours saw them.
  return (routeTables.get(app) ?? []).flatMap((r) =>
    [r.method].flat().map((method) => ({ method, url: r.url, public: r.config?.public === true })),
  );
}

/**
 * A positive integer written in plain decimal digits: z.coerce.number() would take '0x10', '1e3',
 * ' 5' and '05' as well, so one number could be spelled many ways.
 */
const positiveInt = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'a positive integer in plain digits')
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER));
const pageSize = positiveInt.pipe(z.number().max(1000)).default(100);

const budgetQuerySchema = z.strictObject({
  camera: z.string().min(1).max(64).optional(),
  limit: pageSize,
});

const isoTime = z
  .string()
  .refine((t) => !Number.isNaN(Date.parse(t)), { message: 'an ISO 8601 time (2026-11-25T10:00:00Z)' })
  .transform((t) => new Date(t).toISOString());
const eventQuerySchema = z.strictObject({
  camera: z.string().min(1).max(64).optional(),
  label: z.string().min(1).max(64).optional(),
  type: z.enum(['zone', 'line']).optional(),
  zone: z.string().min(1).max(64).optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  before: positiveInt.optional(),
  limit: pageSize,
});

const loginSchema = z.strictObject({ user: z.string().min(1).max(64), password: z.string().min(1).max(256) });
const loginFields: Record<string, string> = {
  user: 'a user name of 1 to 64 characters',
  password: 'a password of 1 to 256 characters',
};

/** What is wrong with a login body, never what was sent: a user field may hold a password typed in the wrong box. */
function loginProblem(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `Unknown key${issue.keys.length > 1 ? 's' : ''} in the login: only user and password`;
  const field = String(issue.path[0] ?? '');
  if (!(field in loginFields)) return 'Expected a JSON object { user, password }';
  const got = issue.input;
  const kind =
    got === undefined
      ? 'nothing'
      : typeof got !== 'string'
        ? Array.isArray(got)
          ? 'a list'
          : `a ${got === null ? 'null' : typeof got}`
        : got === ''
          ? 'an empty string'
          : 'a longer string';
  return `Expected ${loginFields[field]} for ${field} but received ${kind}`;
}

/** A path parameter as an error shows it: escaped and redacted (describeValue), a long one by its length only. */
function shownParam(value: string): string {
  return value.length > 64 ? `a string of ${value.length} characters` : describeValue(value);
}

function badRequest(message: string) {
  return { error: 'bad_request', message };
}

/** `too_many_requests` for 429: the error name of an HTTP status. */
function errorName(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z]+/g, '_');
}

function notFound(reply: FastifyReply, message: string) {
  return reply.code(404).send({ error: 'not_found', message });
}

function unauthorized(reply: FastifyReply) {
  return reply.code(401).header('WWW-Authenticate', 'Bearer realm="vigil"').send({
    error: 'unauthorized',
    message: 'Log in first (POST /api/login), then send the session cookie or Authorization: Bearer <token>',
  });
}

function forbidden(reply: FastifyReply, message: string) {
  return reply.code(403).send({ error: 'forbidden', message });
}

/**
 * The daemon's HTTP API and the browser app. Every route needs a logged-in user, whatever
 * address the request comes from, unless it says `config: { public: true }` (the login and the
 * browser app's files); admin-only routes say so too. Nothing here runs a command or opens a
 * URL a request names.
 */
export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ module: 'HttpServer' }) as FastifyBaseLogger,
    // Health probes and scrapes every few seconds would drown the log: no per-request lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // X-Forwarded-For counts only from these peers (req.ip); from anyone else it is ignored.
    trustProxy: deps.trustedProxies.length > 0 ? [...deps.trustedProxies] : false,
    // A malformed percent-encoding: say so without echoing the path.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .send(badRequest(err.code === 'FST_ERR_BAD_URL' ? 'Malformed URL' : 'Bad request'));
    },
  });
  const routes: RouteOptions[] = [];
  routeTables.set(app, routes);
  app.addHook('onRoute', (r) => {
    routes.push(r);
  });
  const { users, sessions, config: authConfig } = deps.auth;
  app.decorateRequest('user', null);
  // Decided on the route the router matched (after it decoded the path), never on the raw URL.
  // No match (404) is not public either: an anonymous caller cannot tell what exists.
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.public === true) return;
    req.user = sessions.resolve(tokenOf(req.headers));
    if (!req.user) return unauthorized(reply);
  });
  app.setNotFoundHandler(async (req, reply) => {
    req.user ??= sessions.resolve(tokenOf(req.headers));
    return req.user ? notFound(reply, 'Not found') : unauthorized(reply);
  });
  // Fastify's own 4xx (bad JSON, body too large) keep their status and fixed text; anything
  // else is a fault of ours: logged with its stack, answered without its text.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const message = err.code?.startsWith('FST_') ? err.message : (STATUS_CODES[status] ?? 'Bad request');
      return reply.code(status).send({ error: errorName(status), message });
    }
    req.log.error({ err, method: req.method, route: req.routeOptions.url ?? null }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'Internal error' });
  });
  const adminOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.user?.role !== 'admin') return forbidden(reply, 'Only an admin may do this');
  };
  const limiterLog = deps.logger.child({ module: 'LoginLimiter' });
  const knownFile = deps.auth.knownLoginsFile;
  const limiter = new LoginLimiter(loginLimits(authConfig), Date.now, {
    store: knownFile === undefined ? undefined : new KnownPairsFile(knownFile, (message) => limiterLog.warn(message)),
  });
  // The box itself, unless the request came through a proxy that is not trusted (its
  // X-Forwarded-For was ignored, so req.ip is the proxy, not the client).
  const fromBox = (req: FastifyRequest) =>
    isLoopback(req.ip) && (req.headers['x-forwarded-for'] === undefined || (req.ips?.length ?? 1) > 1);

  app.post('/api/login', { config: { public: true } }, async (req, reply) => {
    const body = loginSchema.safeParse(req.body, { reportInput: true }); // the input is described, never shown
    if (!body.success) return reply.code(400).send(badRequest(loginProblem(body.error.issues[0]!)));
    const { user: name, password } = body.data;
    // The name as typed only when it is a user's: a password typed into the name box stays out of the log.
    const logged = { module: 'HttpServer', user: users.get(name) ? name : '(no such user)', ip: req.ip };
    const retryS = limiter.begin(name, req.ip, { local: fromBox(req) });
    if (retryS !== null) {
      return reply
        .code(429)
        .header('Retry-After', String(retryS))
        .send({ error: 'too_many_requests', message: `Too many login attempts, retry in ${retryS} s` });
    }
    const user = await users.verify(name, password);
    if (!user) {
      deps.logger.warn(logged, 'failed login');
      return reply.code(401).send({ error: 'unauthorized', message: 'Wrong user name or password' });
    }
    limiter.succeeded(name, req.ip);
    const { token, expires } = sessions.create(user);
    return reply
      .header('Set-Cookie', sessionCookie(token, expires))
      .send({ user, token, expires: new Date(expires).toISOString() });
  });

  app.post('/api/logout', async (req, reply) => {
    const token = tokenOf(req.headers);
    if (token) sessions.revoke(token);
    return reply.header('Set-Cookie', sessionCookie('', 0)).send({ ok: true });
  });

  app.get('/api/me', async (req) => req.user);

  app.get('/api/users', { preHandler: adminOnly }, async () => users.list());
  app.put<{ Params: { name: string } }>('/api/users/:name', { preHandler: adminOnly }, async (req, reply) => {
    const body = req.body && typeof req.body === 'object' ? req.body : {};
    try {
      const user = await users.put({ ...body, name: req.params.name });
      // Sessions follows the store: a new password or role ends the user's sessions (and live
      // sockets); a change of cameras alone narrows them in place.
      return user;
    } catch (err) {
      return reply.code(400).send(badRequest((err as Error).message));
    }
  });
  app.delete<{ Params: { name: string } }>('/api/users/:name', { preHandler: adminOnly }, async (req, reply) => {
    try {
      if (!users.remove(req.params.name))
        return reply.code(404).send({ error: 'not_found', message: `No user ${shownParam(req.params.name)}` });
    } catch (err) {
      return reply.code(400).send(badRequest((err as Error).message));
    }
    return { ok: true }; // the store's 'removed' has ended the user's sessions and live sockets
  });

  // Event snapshots and clips: reply.sendFile from the media directory (ranges, for seeking in clips).
  await app.register(fastifyStatic, { root: deps.media?.dir ?? uiDir(), serve: false, cacheControl: false });
  const ui = uiDir();
  if (existsSync(join(ui, 'index.html'))) {
    // One public route per file of the built app (wildcard: false), not a public catch-all:
    // any other path is unmatched and needs a login like the API.
    await app.register(async (files) => {
      files.addHook('onRoute', (r) => {
        r.config = { ...r.config, public: true };
      });
      await files.register(fastifyStatic, {
        root: ui,
        index: 'index.html',
        wildcard: false,
        cacheControl: false,
        decorateReply: false,
      });
    });
  } else {
    app.get('/', { config: { public: true } }, async (_req, reply) =>
      reply
        .type('text/plain; charset=utf-8')
        .send('The browser app is not built: run `npm run build:ui` (scripts/setup.sh does).\n'),
    );
  }

  /** The models, each with only the cameras this user may see (another user's camera ids stay hidden). */
  const visibleModels = (user: User) =>
    deps.models().map((m) => ({ ...m, cameras: m.cameras.filter((id) => canSee(user, id)) }));

  app.get('/api/models', async (req) => ({ models: visibleModels(req.user!) }));

  app.get<{ Params: { id: string } }>('/api/models/:id/calibration', async (req, reply) => {
    if (!deps.models().some((m) => m.id === req.params.id))
      return reply.code(404).send({ error: 'Not Found', message: `No model ${describeValue(req.params.id)}` });
    const report = await deps.calibration(req.params.id);
    if (!report)
      return reply.code(404).send({
        error: 'Not Found',
        message: `Model ${req.params.id} runs no calibrated INT8 file: no calibration report`,
      });
    return report;
  });

  app.get('/api/health', async (req) => {
    const visible = [...deps.cameras().values()].filter((c) => canSee(req.user!, c.id));
    const cameras = visible.map((c) => {
      const lat = deps.latency(c.id);
      return {
        ...c.health(),
        detect: deps.detectStats(c.id),
        latencyMs: lat ? { ...lat.percentiles(), coldStart: lat.cold, ...lat.timing() } : null,
      };
    });
    const enabled = cameras.filter((c) => c.state !== 'stopped');
    const detector = deps.detector();
    const detectorOk = detector.status !== 'unavailable' && deps.models().every((m) => m.status !== 'unavailable');
    return {
      status: enabled.every((c) => c.state === 'streaming') && detectorOk ? 'ok' : 'degraded',
      uptimeS: Math.round((Date.now() - deps.startedAt) / 1000),
      build: deps.build,
      detector: { ...detector, batch: deps.batchStats() },
      models: visibleModels(req.user!),
      mqtt: deps.mqttStats(),
      // Event snapshots and clips: written, recording, failures; retention so far (admin only: paths).
      media:
        req.user!.role !== 'admin'
          ? null
          : deps.media
            ? { ...deps.media.stats(), error: null }
            : { error: deps.mediaError },
      // Live view: clients, decode-to-send latency, per-client skips (other users' names: admin only).
      live: req.user!.role === 'admin' ? deps.liveStats() : null,
      cameras,
    };
  });

  // Another user's camera is as absent as a missing one: a viewer cannot learn which ids exist.
  const visibleCamera = (req: FastifyRequest, id: string) => {
    const cam = deps.cameras().get(id);
    return cam && canSee(req.user!, cam.id) ? cam : null;
  };
  const noCamera = (reply: FastifyReply, id: string) => notFound(reply, `No camera with id ${shownParam(id)}`);

  // Latency budget breaches and recoveries, newest first (the cameras this user may see).
  app.get<{ Querystring: Record<string, string> }>('/api/budget-events', async (req, reply) => {
    const q = budgetQuerySchema.safeParse(req.query, { reportInput: true });
    if (!q.success) return reply.code(400).send(badRequest(describeIssue(q.error.issues[0]!)));
    const { camera, limit } = q.data;
    if (camera !== undefined && !visibleCamera(req, camera)) return noCamera(reply, camera);
    const visible = new Set([...deps.cameras().keys()].filter((id) => canSee(req.user!, id)));
    return { events: deps.store.budgetEvents({ camera, cameras: visible, limit }) };
  });

  // Zone events, newest first, of the cameras this user may see; `before` pages (the last id seen).
  app.get<{ Querystring: Record<string, string> }>('/api/events', async (req, reply) => {
    const q = eventQuerySchema.safeParse(req.query, { reportInput: true });
    if (!q.success) return reply.code(400).send(badRequest(describeIssue(q.error.issues[0]!)));
    const { camera } = q.data;
    if (camera !== undefined && !visibleCamera(req, camera)) return noCamera(reply, camera);
    deps.flushEvents(); // what happened up to now, not up to the last flush
    const visible = new Set([...deps.cameras().keys()].filter((id) => canSee(req.user!, id)));
    const events = deps.store.events({ ...q.data, cameras: visible });
    return { events: events.map(present), next: events.length === q.data.limit ? (events.at(-1)?.id ?? null) : null };
  });

  const eventById = (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const id = positiveInt.safeParse(req.params.id);
    if (!id.success) {
      void reply
        .code(400)
        .send(badRequest(`Expected an event id (a positive integer) for id but received ${shownParam(req.params.id)}`));
      return null;
    }
    deps.flushEvents();
    const ev = deps.store.event(id.data);
    if (!ev || !canSee(req.user!, ev.camera)) {
      // another camera's event is as absent as a missing one
      void reply.code(404).send({ error: 'not_found', message: `No event ${id.data}` });
      return null;
    }
    return ev;
  };
  app.get<{ Params: { id: string } }>('/api/events/:id', async (req, reply) => {
    const ev = eventById(req, reply);
    return ev ? present(ev) : reply;
  });
  for (const [file, kind] of [
    ['snapshot.jpg', 'snapshot'],
    ['clip.mp4', 'clip'],
  ] as const) {
    app.get<{ Params: { id: string } }>(`/api/events/:id/${file}`, async (req, reply) => {
      const ev = eventById(req, reply);
      if (!ev) return reply;
      const media = ev[kind];
      const dir = deps.media?.dir;
      if (!media || !dir) return reply.code(404).send({ error: 'not_found', message: `Event ${ev.id} has no ${kind}` });
      // A snapshot is replaced while its event runs (a better frame): revalidate (ETag) every time.
      return reply
        .header('Cache-Control', kind === 'snapshot' ? 'private, no-cache' : 'private, max-age=60')
        .sendFile(media.path, dir);
    });
  }
  app.delete<{ Params: { id: string } }>('/api/events/:id', { preHandler: adminOnly }, async (req, reply) => {
    const ev = eventById(req, reply);
    if (!ev) return reply;
    await deps.deleteEvent(ev);
    return reply.code(204).send();
  });

  app.get('/api/openapi.json', async () => OPENAPI);

  app.get('/metrics', { preHandler: adminOnly }, async (_req, reply) =>
    reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()),
  );

  app.get<{ Params: { id: string }; Querystring: { quality?: string } }>(
    '/api/cameras/:id/snapshot.jpg',
    async (req, reply) => {
      const cam = visibleCamera(req, req.params.id);
      if (!cam) return noCamera(reply, req.params.id);
      let quality = 85;
      if (req.query.quality !== undefined) {
        const q = positiveInt.safeParse(req.query.quality);
        if (!q.success || q.data > 100) {
          return reply
            .code(400)
            .send(
              badRequest(
                `Expected an integer between 1 and 100 for quality but received ${describeValue(req.query.quality)}`,
              ),
            );
        }
        quality = q.data;
      }
      const snap = await cam.snapshot(quality);
      if (!snap) {
        return reply
          .code(503)
          .header('Retry-After', '1')
          .send({ error: 'no_frame', message: `Camera '${cam.id}' has not decoded a frame yet (state: ${cam.state})` });
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
