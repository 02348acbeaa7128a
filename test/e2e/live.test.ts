import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import type { BinaryMessage } from '../../src/protocol/binary.js';
import { routesOf } from '../../src/server/HttpServer.js';
import { api, login, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { Viewer } from '../helpers/viewer.js';
import { RtspServer } from '../helpers/rtspServer.js';
import { tempDir } from '../helpers/tempDir.js';

/** Writes a viewer's init + fragments to a file; the frames ffprobe decodes from it. */
function decodedFrames(video: BinaryMessage[], name: string): number {
  const file = join(dir, name);
  writeFileSync(
    file,
    Buffer.concat(video.map((m) => (m.kind === 'init' || m.kind === 'fragment' ? m.data : Buffer.alloc(0)))),
  );
  return Number(
    execFileSync(
      'ffprobe',
      [
        '-v',
        'error',
        '-count_frames',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=nb_read_frames',
        '-of',
        'csv=p=0',
        file,
      ],
      { encoding: 'utf8' },
    ).trim(),
  );
}

const viewers: Viewer[] = [];
const viewer = (...args: ConstructorParameters<typeof Viewer>) => {
  const v = new Viewer(...args);
  viewers.push(v);
  return v;
};

let server: RtspServer;
let daemon: Daemon;
let url: string;
let token: string;
const dir = tempDir('vigil-live-');

beforeAll(async () => {
  server = await RtspServer.start({
    h264: { file: await ensureClip('h264'), codec: 'h264' },
    hevc: { file: await ensureClip('hevc'), codec: 'hevc' },
  });
  ({ daemon, url, token } = await startDaemon(
    [
      { id: 'lobby', url: server.url('h264') },
      { id: 'yard', url: server.url('hevc') },
    ],
    { detect: { enabled: true, precision: 'int8' } },
  ));
  await waitFor(
    async () => daemon.cameras.get('lobby')!.state === 'streaming' && daemon.cameras.get('yard')!.state === 'streaming',
    20000,
    'both cameras streaming',
  );
}, 300_000);

afterAll(async () => {
  for (const v of viewers) v.close();
  await daemon?.close();
  await server?.stop();
});

describe('live WebSocket: protocol, video, detections', () => {
  it('says hello with the cameras, and streams H.264 from the newest keyframe within a second', async () => {
    const v = viewer(url, token);
    await v.opened;
    expect(v.ws.protocol).toBe('vigil.v1');
    v.send({ type: 'hello', version: 1 });
    const hello = await v.next('hello');
    expect(hello.user).toEqual({ name: 'admin', role: 'admin' });
    expect(hello.cameras.map((c) => [c.id, c.codec, c.video])).toEqual([
      ['lobby', 'h264', 'passthrough'],
      ['yard', 'hevc', 'transcode (libx264)'],
    ]);
    // The encoder chosen for the HEVC camera is reported in /api/health too, with why not NVENC.
    const h = (await (await api(url, '/api/health')).json()) as {
      cameras: Array<{ id: string; video: string; encoders: { live: string | null } }>;
    };
    expect(h.cameras.map((c) => [c.id, c.video])).toEqual([
      ['lobby', 'passthrough'],
      ['yard', 'transcode (libx264)'],
    ]);
    expect(h.cameras[0]!.encoders.live).toBeNull();
    expect(h.cameras[1]!.encoders.live).toMatch(/^libx264 \(h264_nvenc: .+\)$/); // no NVENC here: the fallback says why
    const t0 = performance.now();
    v.send({ type: 'subscribe', camera: 'lobby' });
    expect(await v.next('subscribed')).toMatchObject({ camera: 'lobby', index: 0, video: true, detections: true });
    await waitFor(() => v.video(0).some((m) => m.kind === 'fragment'), 5000, 'a fragment');
    const firstFragmentMs = v.video(0).find((m) => m.kind === 'fragment')!.at - t0;
    expect(firstFragmentMs).toBeLessThan(1000); // the GOP cache: no wait for the next keyframe
    const [init, first] = v.video(0);
    expect(init!.kind).toBe('init');
    if (init!.kind === 'init') expect(init!.mime).toMatch(/^video\/mp4; codecs="avc1\.[0-9a-f]{6}"$/);
    expect(first!.kind === 'fragment' && first!.keyframe).toBe(true);

    // Three more seconds of live video, read back by a real demuxer and decoder.
    await new Promise((r) => setTimeout(r, 3000));
    const video = v.video(0);
    const frames = decodedFrames(video, 'live.mp4');
    expect(frames).toBe(video.length - 1);
    expect(frames).toBeGreaterThan(25); // ≥ 3 s at 10 fps, plus the cached GOP

    // Detections of the same camera on the same timeline as the video: the overlay's pts.
    await waitFor(() => v.binary.some((m) => m.kind === 'detections'), 15000, 'detections');
    const fragPts = new Set(v.binary.filter((m) => m.kind === 'fragment').map((m) => m.ptsUs));
    const dets = v.binary.filter(
      (m): m is Extract<BinaryMessage, { kind: 'detections' }> & { at: number } => m.kind === 'detections',
    );
    const matched = dets.filter((d) => fragPts.has(d.ptsUs));
    expect(matched.length).toBeGreaterThan(0);
    const people = dets.flatMap((d) => d.boxes).filter((b) => b.classId === 0);
    expect(people.length).toBeGreaterThan(0);
    for (const d of dets) {
      expect(d.width).toBe(768);
      for (const b of d.boxes) {
        expect(b.x1).toBeGreaterThanOrEqual(-1);
        expect(b.x2).toBeLessThanOrEqual(769);
        expect(b.score).toBeGreaterThan(0.3);
      }
    }
    v.close();
  }, 60_000);

  it('streams the annotated video (boxes burned in by the daemon) to a viewer who asks for it', async () => {
    const v = viewer(url, token);
    await v.hello();
    v.send({ type: 'subscribe', camera: 'lobby', annotated: true });
    expect(await v.next('subscribed')).toMatchObject({ camera: 'lobby', annotated: true });
    await waitFor(() => v.video(0).filter((m) => m.kind === 'fragment').length >= 15, 20000, '15 annotated frames');
    const video = v.video(0);
    expect(video.every((m) => (m.kind === 'init' || m.kind === 'fragment') && m.annotated)).toBe(true); // not the camera's own video
    expect(video[0]!.kind).toBe('init');
    expect(decodedFrames(video, 'annotated.mp4')).toBe(video.length - 1);
    // Its frames are detected frames: each fragment's pts has a detection batch with the same pts.
    const detPts = new Set(v.binary.filter((m) => m.kind === 'detections').map((m) => m.ptsUs));
    const frags = video.filter((m) => m.kind === 'fragment');
    expect(frags.filter((m) => detPts.has(m.ptsUs)).length).toBeGreaterThanOrEqual(frags.length - 2);
    const stats = (daemon.live!.stats() as { annotated: { frames: number } }).annotated;
    expect(stats.frames).toBeGreaterThanOrEqual(15);
    v.close();
  }, 60_000);

  it('answers bad messages with an error naming the problem, and keeps the connection', async () => {
    const v = viewer(url, token);
    await v.opened;
    v.send({ type: 'subscribe', camera: 'lobby' });
    expect((await v.next('error')).code).toBe('hello_first');
    let n = v.json.length;
    v.send('not json {');
    expect(await v.next('error', n)).toMatchObject({
      code: 'bad_message',
      message: expect.stringContaining('Expected a JSON object'),
    });
    n = v.json.length;
    v.send({ type: 'hello', version: 'one' });
    expect((await v.next('error', n)).message).toMatch(/^Expected .* for version but received 'one'$/);
    n = v.json.length;
    v.send({ type: 'launch', camera: 'lobby' });
    expect((await v.next('error', n)).code).toBe('bad_message');
    n = v.json.length;
    v.send({ type: 'hello', version: 1 });
    await v.next('hello', n);
    n = v.json.length;
    v.send({ type: 'subscribe', camera: 'nope' });
    expect(await v.next('error', n)).toMatchObject({ code: 'unknown_camera', message: "No camera with id 'nope'" });
    n = v.json.length;
    v.send({ type: 'subscribe', camera: 'lobby', video: false });
    expect(await v.next('subscribed', n)).toMatchObject({ video: false, detections: true });
    await waitFor(() => v.json.some((m) => m.type === 'health'), 3000, 'a health message');
    expect(v.closed).toBe(false);
    expect(v.video(0)).toHaveLength(0); // detections only, as asked
    v.close();
  });

  it('refuses the WebSocket without a login, with a bad token, or from a foreign Origin', async () => {
    await expect(viewer(url, null).opened).rejects.toThrow('HTTP 401');
    await expect(viewer(url, 'forged-token').opened).rejects.toThrow('HTTP 401');
    await expect(viewer(url, token, { origin: 'http://evil.example' }).opened).rejects.toThrow('HTTP 403');
    const host = new URL(url).host;
    await viewer(url, token, { origin: `http://${host}` }).opened; // its own page
  });
});

describe('auth', () => {
  it('every API route and /metrics need a login, from localhost too; only login is open', async () => {
    const routes = routesOf(daemon.http!).filter((r) => r.url.startsWith('/api/') || r.url === '/metrics');
    expect(routes.length).toBeGreaterThanOrEqual(8);
    for (const r of routes) {
      if (r.url === '/api/login' || r.method === 'HEAD') continue;
      const path = r.url.replace(':id', 'lobby').replace(':name', 'someone');
      const res = await fetch(`${url}${path}`, {
        method: r.method,
        headers: { 'content-type': 'application/json' },
        body: r.method === 'GET' ? undefined : '{}',
      });
      expect(res.status, `${r.method} ${r.url}`).toBe(401);
    }
    // The OpenAPI description covers exactly these routes.
    const spec = (await (
      await fetch(`${url}/api/openapi.json`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(spec.openapi).toBe('3.1.0');
    const described = Object.entries(spec.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    expect(described).toEqual(
      routes
        .map((r) => `${r.method} ${r.url}`)
        .filter((r) => !r.startsWith('HEAD'))
        .sort(),
    );
    // No route takes a command, a URL to fetch, or a file path: the surface is this list.
    expect(
      routes
        .map((r) => `${r.method} ${r.url}`)
        .filter((r) => !r.startsWith('HEAD'))
        .sort(),
    ).toEqual([
      'DELETE /api/events/:id',
      'DELETE /api/users/:name',
      'GET /api/budget-events',
      'GET /api/cameras/:id/snapshot.jpg',
      'GET /api/events',
      'GET /api/events/:id',
      'GET /api/events/:id/clip.mp4',
      'GET /api/events/:id/snapshot.jpg',
      'GET /api/health',
      'GET /api/me',
      'GET /api/models',
      'GET /api/models/:id/calibration',
      'GET /api/openapi.json',
      'GET /api/users',
      'GET /metrics',
      'POST /api/login',
      'POST /api/logout',
      'PUT /api/users/:name',
    ]);
  });

  it('login: wrong password 401, malformed body 400 naming the field, then a session cookie that works', async () => {
    const bad = await fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: 'wrong-password' }),
    });
    expect(bad.status).toBe(401);
    const malformed = await fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin' }),
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toBe(
      'Expected a password of 1 to 256 characters for password but received nothing',
    );
    const ok = await fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: 'vigil-test-admin' }),
    });
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^vigil_session=[\w-]{40,}; Path=\/; Expires=.*; HttpOnly; SameSite=Strict$/);
    const me = await fetch(`${url}/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(await me.json()).toEqual({ name: 'admin', role: 'admin', cameras: null });
    const out = await fetch(`${url}/api/logout`, { method: 'POST', headers: { cookie: cookie.split(';')[0]! } });
    expect(out.status).toBe(200);
    expect((await fetch(`${url}/api/me`, { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(401);
  });

  it('rate-limits failed logins per user and client address, loopback included', async () => {
    const { daemon: d, url: u } = await startDaemon([], {
      auth: { admin_password: 'vigil-test-admin', login_per_minute: 3 },
    });
    try {
      // Three failures are allowed (startDaemon's successful login does not count), then 429 even with the right password.
      const attempt = (password: string) =>
        fetch(`${u}/api/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user: 'admin', password }),
        });
      expect((await attempt('wrong-one')).status).toBe(401);
      expect((await attempt('wrong-two')).status).toBe(401);
      expect((await attempt('wrong-three')).status).toBe(401);
      const limited = await attempt('vigil-test-admin');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await d.close();
    }
  });

  it('a viewer limited to one camera sees only that one: API, snapshot, metrics and WebSocket', async () => {
    const bad = await api(url, '/api/users/guard', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'short', role: 'viewer' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe(
      'Expected a value of at least 8 characters for password but received a string (not shown: a secret)',
    );
    const put = await api(url, '/api/users/guard', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'guard-password', role: 'viewer', cameras: ['yard'] }),
    });
    expect(put.status).toBe(200);
    const guard = await login(url, 'guard', 'guard-password');
    const as = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${guard}` } });
    const h = (await (await as('/api/health')).json()) as { cameras: Array<{ id: string }> };
    expect(h.cameras.map((c) => c.id)).toEqual(['yard']);
    expect((await as('/api/cameras/lobby/snapshot.jpg')).status).toBe(404); // as absent as a missing camera
    expect((await as('/api/cameras/yard/snapshot.jpg')).status).toBe(200);
    expect((await as('/metrics')).status).toBe(403);
    expect((await as('/api/users')).status).toBe(403);
    const v = viewer(url, guard);
    await v.opened;
    v.send({ type: 'hello', version: 1 });
    expect((await v.next('hello')).cameras.map((c) => c.id)).toEqual(['yard']);
    v.send({ type: 'subscribe', camera: 'lobby' });
    expect((await v.next('error')).code).toBe('unknown_camera'); // as absent as a missing camera
    // Removing the user ends its sessions at once.
    expect((await api(url, '/api/users/guard', { method: 'DELETE' })).status).toBe(200);
    expect((await as('/api/health')).status).toBe(401);
    v.close();
  });
});

describe('backpressure', () => {
  it('a client that stops reading skips video to keyframes; a reading client and the camera are unaffected', async () => {
    // A file camera decoding flat out fills a stalled socket in well under a second.
    const clip = await ensureClip('h264');
    const {
      daemon: d,
      url: u,
      token: t,
    } = await startDaemon([{ id: 'fast', url: clip, realtime: false, loop: true }], {
      server: { host: '127.0.0.1', port: 0, live_queue_kb: 64, live_ping_seconds: 60 },
    });
    try {
      await waitFor(() => d.cameras.get('fast')!.state === 'streaming', 10000, 'streaming');
      const slow = viewer(u, t);
      const fast = viewer(u, t);
      await Promise.all([slow.opened, fast.opened]);
      for (const v of [slow, fast]) {
        await v.hello();
        v.send({ type: 'subscribe', camera: 'fast' });
        await v.next('subscribed');
      }
      const rawSocket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      rawSocket.pause();
      const cam = d.cameras.get('fast')!;
      const decoded0 = cam.health().frames.decoded;
      const fast0 = fast.video(0).length;
      // However long this machine takes to fill the stalled socket's buffers: until it skips.
      await waitFor(() => d.live!.stats().perClient[0]!.videoSkipped > 0, 60_000, 'the stalled client to skip video');
      // A few more keyframes' worth while it stays stalled.
      const skipped0 = d.live!.stats().perClient[0]!.videoSkipped;
      await waitFor(() => d.live!.stats().perClient[0]!.videoSkipped > skipped0 + 20, 60_000, 'more video skipped');
      const stats = d.live!.stats().perClient;
      const [s, f] = [stats[0]!, stats[1]!];
      expect(s.queued).toBeLessThan(64 * 1024 * 4); // bounded: no unbounded growth
      // The reading client saw none of it: nothing skipped, every frame in order without a gap,
      // all of it decodable; the camera kept decoding.
      expect(f.videoSkipped).toBe(0);
      const fastFrames = fast.video(0).filter((m) => m.kind === 'fragment');
      expect(fast.video(0).length).toBeGreaterThan(fast0);
      expect(
        fastFrames.filter((m, i) => i > 0 && m.ptsUs - fastFrames[i - 1]!.ptsUs > 150_000).map((m) => m.ptsUs),
      ).toEqual([]);
      expect(decodedFrames(fast.video(0), 'fast.mp4')).toBe(fastFrames.length);
      expect(cam.state).toBe('streaming');
      expect(cam.health().frames.decoded).toBeGreaterThan(decoded0);
      rawSocket.resume();
      // The slow client reads its backlog, then gets video again from a keyframe: it catches up
      // with what the reading client had when it resumed, with a gap where it skipped.
      const target = fast.video(0).at(-1)!.ptsUs;
      await waitFor(() => slow.video(0).some((m) => m.ptsUs >= target), 60_000, 'the slow client to catch up');
      const frames = slow.video(0).filter((m) => m.kind === 'fragment');
      const gapAt = frames.findIndex((m, i) => i > 0 && m.ptsUs - frames[i - 1]!.ptsUs > 150_000);
      expect(gapAt).toBeGreaterThan(0);
      expect(frames[gapAt]!.kind === 'fragment' && frames[gapAt]!.keyframe).toBe(true);
    } finally {
      await d.close();
    }
  }, 240_000);

  it('reaps a client that no longer answers pings', async () => {
    const clip = await ensureClip('h264');
    const {
      daemon: d,
      url: u,
      token: t,
    } = await startDaemon([{ id: 'cam', url: clip, loop: true }], {
      server: { host: '127.0.0.1', port: 0, live_ping_seconds: 0.5 },
    });
    try {
      const v = viewer(u, t);
      await v.opened;
      await waitFor(() => d.live!.stats().clients === 1, 15_000, 'the client to register');
      (v.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await waitFor(() => d.live!.stats().clients === 0, 20_000, 'the dead client to be reaped');
    } finally {
      await d.close();
    }
  });
});
