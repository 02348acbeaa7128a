// The HTTP API as an attacker and a proxy meet it: authentication decided on the matched route
// (encoded, doubled, cased paths), generic 500s that are logged, logins limited per user and
// address, no existence oracle on cameras, strict numbers.
import { statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { validateConfig } from '../../src/config/loadConfig.js';
import { Daemon } from '../../src/daemon/Daemon.js';
import { routesOf } from '../../src/server/HttpServer.js';
import { ADMIN_PASSWORD, api, login, startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tempDir.js';

// Cameras that exist but never connect (nothing listens on port 9): the API knows them all the same.
const CAMERAS = [
  { id: 'yard', url: 'rtsp://127.0.0.1:9/yard' },
  { id: 'lobby', url: 'rtsp://127.0.0.1:9/lobby' },
];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with the path sent byte for byte as given (fetch would normalize it). */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        method,
        path,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The spellings of one path that a proxy or an attacker may send. */
function spellings(path: string): Array<[string, string]> {
  const segs = path.split('/').slice(1);
  const enc = (s: string) => (/^[a-z]/i.test(s) ? `%${s.charCodeAt(0).toString(16)}${s.slice(1)}` : s);
  const encUpper = (s: string) =>
    /^[a-z]/i.test(s) ? `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}` : s;
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return [
    ['as registered', path],
    ['%61 for the first letter', '/' + [enc(segs[0]!), ...segs.slice(1)].join('/')],
    ['every segment encoded', '/' + segs.map(encUpper).join('/')],
    ['%2F for the slashes', '/' + segs.join('%2F')],
    ['%2f for the slashes', '/' + segs.join('%2f')],
    ['leading //', '/' + path],
    ['doubled slashes', '/' + segs.join('//')],
    ['trailing /', path + '/'],
    ['upper case', path.toUpperCase()],
    ['mixed case', '/' + segs.map(cap).join('/')],
    [';params at the end', path + ';jsessionid=1'],
    [';params in a segment', '/' + segs[0] + ';x=1/' + segs.slice(1).join('/')],
    ['dot segment', '/' + segs[0] + '/./' + segs.slice(1).join('/')],
    ['dot-dot segment', '/x/../' + segs.join('/')],
    ['%2e segment', '/' + segs[0] + '/%2e/' + segs.slice(1).join('/')],
    ['backslash', '/' + segs.join('\\')],
    ['a query', path + '?x=1'],
  ];
}

/** A concrete path for a registered route pattern. */
function concrete(url: string): string {
  return url.replace(':id', url.startsWith('/api/cameras') ? 'yard' : '1').replace(':name', 'admin');
}

describe('authentication is a property of the matched route', () => {
  let daemon: Daemon;
  let url = '';
  let token = '';
  beforeAll(async () => {
    ({ daemon, url, token } = await startDaemon(CAMERAS));
  });
  afterAll(async () => {
    await daemon?.close();
  });

  it('every registered route, however its path is spelled, answers an anonymous caller 401 and nothing else', async () => {
    const routes = routesOf(daemon.http!);
    expect(routes.length).toBeGreaterThanOrEqual(16);
    // Open to anonymous callers: the login and the browser app's files (GET and HEAD), nothing else.
    const open = routes.filter((r) => r.public).map((r) => `${r.method} ${r.url}`);
    expect(open).toContain('POST /api/login');
    expect(open).toContain('GET /');
    expect(
      open.filter((r) => r !== 'POST /api/login' && !/^(GET|HEAD) \/(index\.html|assets\/[\w.-]+|)$/.test(r)),
    ).toEqual([]);
    const wrong: string[] = [];
    for (const r of routes) {
      if (r.public) continue;
      for (const [how, path] of spellings(concrete(r.url))) {
        // A malformed body too: the login check comes before the body is parsed.
        for (const body of r.method === 'GET' || r.method === 'HEAD' ? [undefined] : ['{}', '{"password":']) {
          const res = await raw(url, r.method, path, {}, body).catch((err: Error) => ({
            status: 0,
            body: err.message,
          }));
          const ok = res.status === 401 && (r.method === 'HEAD' || JSON.parse(res.body).error === 'unauthorized');
          if (!ok)
            wrong.push(
              `${r.method} ${path} (${how}${body ? `, body ${body}` : ''}): ${res.status} ${res.body.slice(0, 120)}`,
            );
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('paths that match no route tell an anonymous caller nothing; a logged-in one gets a plain 404', async () => {
    for (const path of [
      '/api/nonexistent',
      '/%61pi/nonexistent',
      '/api/events/1/nothing',
      '/api/users/admin/x',
      '/metrics/x',
      '/nothing.js',
    ]) {
      const anon = await raw(url, 'GET', path);
      expect(anon.status, path).toBe(401);
      expect(JSON.parse(anon.body).error).toBe('unauthorized');
      const known = await raw(url, 'GET', path, { authorization: `Bearer ${token}` });
      expect(known.status, path).toBe(404);
      expect(JSON.parse(known.body)).toEqual({ error: 'not_found', message: 'Not found' });
    }
    // A malformed percent-encoding: a plain 400 that does not echo the path.
    for (const path of ['/api/me%zz', '/%zz/secret-word', '/api/events/%E0%A4%A']) {
      const res = await raw(url, 'GET', path);
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body), path).toEqual({ error: 'bad_request', message: 'Malformed URL' });
    }
  });

  it('the browser app loads without a login; logged in, encoded spellings of a route reach that route, never a 500', async () => {
    const index = await raw(url, 'GET', '/');
    expect(index.status).toBe(200);
    const wrong: string[] = [];
    for (const r of routesOf(daemon.http!)) {
      if (r.method !== 'GET' && r.method !== 'HEAD') continue;
      if (r.public) {
        const res = await raw(url, r.method, r.url);
        if (res.status !== 200) wrong.push(`${r.method} ${r.url} (public): ${res.status}`);
        continue;
      }
      for (const [how, path] of spellings(concrete(r.url))) {
        const res = await raw(url, r.method, path, { authorization: `Bearer ${token}` });
        if (res.status >= 500 && res.status !== 503)
          wrong.push(`${r.method} ${path} (${how}): ${res.status} ${res.body.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('errors', () => {
  it('a 500 answers a generic message and is logged with its stack; a failed login logs no typed secret', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        detect: { enabled: false },
        data_dir: tempDir('vigil-state-'),
        auth: { admin_password: ADMIN_PASSWORD },
        cameras: CAMERAS,
      },
      'test',
    );
    const daemon = new Daemon(config, pino({ level: 'info' }, sink));
    try {
      const url = await daemon.start();
      const admin = await login(url, 'admin', ADMIN_PASSWORD);
      // A real fault: the database goes away under a running server.
      daemon.store!.close();
      const res = await raw(url, 'GET', '/api/budget-events', { authorization: `Bearer ${admin}` });
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ error: 'internal', message: 'Internal error' });
      const logged = lines.find(
        (l) => l.level === 50 && typeof (l.err as { stack?: unknown } | undefined)?.stack === 'string',
      );
      expect(logged, JSON.stringify(lines.filter((l) => (l.level as number) >= 40))).toBeDefined();
      expect((logged!.err as { stack: string }).stack).toMatch(/\n\s+at /);
      expect(logged!.err).toMatchObject({ message: expect.stringContaining('database') });
      // A failed login logs a real user's name, but not a password typed into the name box.
      for (const user of ['admin', 'Hunter2 Secret'])
        expect(
          (await raw(url, 'POST', '/api/login', {}, JSON.stringify({ user, password: 'wrong-password' }))).status,
        ).toBe(401);
      const failed = lines.filter((l) => l.msg === 'failed login');
      expect(failed.map((l) => l.user)).toEqual(['admin', '(no such user)']);
      expect(JSON.stringify(lines)).not.toContain('Hunter2');
    } finally {
      await daemon.close();
    }
  });

  it("fastify's own 4xx stay clear 4xx answers that echo nothing of the body", async () => {
    const { daemon, url } = await startDaemon([]);
    try {
      const bad = await api(url, '/api/users/someone', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{"password": "Hunter2 Secret',
      });
      expect(bad.status).toBe(400);
      const text = await bad.text();
      expect(text).not.toContain('Hunter2');
      expect(JSON.parse(text)).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/JSON/) });
      const big = await api(url, '/api/users/someone', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'x'.repeat(100_000) }),
      });
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ error: 'payload_too_large' });
      const xml = await api(url, '/api/users/someone', {
        method: 'PUT',
        headers: { 'content-type': 'application/xml' },
        body: '<a/>',
      });
      expect(xml.status).toBe(415);
    } finally {
      await daemon.close();
    }
  });
});

describe('login limits', () => {
  const attempt = (base: string, user: string, password: string, from?: string) =>
    raw(base, 'POST', '/api/login', from ? { 'x-forwarded-for': from } : {}, JSON.stringify({ user, password }));

  it("one address's failures do not lock the user out from another; the slower per-user limit does", async () => {
    const { daemon, url } = await startDaemon([], {
      server: { host: '127.0.0.1', port: 0, trusted_proxies: ['127.0.0.1'] },
      auth: { admin_password: ADMIN_PASSWORD, login_per_minute: 3, login_per_user_per_hour: 8 },
    });
    try {
      expect(
        (
          await api(url, '/api/users/guard', {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ password: 'guard-password', role: 'viewer' }),
          })
        ).status,
      ).toBe(200);
      for (let i = 0; i < 3; i++) expect((await attempt(url, 'admin', 'wrong', '10.0.0.1')).status).toBe(401);
      const limited = await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.0.1');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(limited.body)).toEqual({
        error: 'too_many_requests',
        message: `Too many login attempts, retry in ${limited.headers['retry-after']} s`,
      });
      // The same user from elsewhere, and another user from the same address, are not affected.
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.0.2')).status).toBe(200);
      expect((await attempt(url, 'guard', 'guard-password', '10.0.0.1')).status).toBe(200);
      // Successful logins are not failures: a client that logs in often is never limited.
      for (let i = 0; i < 6; i++) expect((await attempt(url, 'guard', 'guard-password', '10.0.0.3')).status).toBe(200);
      // Failures from many addresses add up per user: 3 so far, 8 allowed an hour.
      for (let i = 0; i < 5; i++) expect((await attempt(url, 'admin', 'wrong', `10.0.1.${i}`)).status).toBe(401);
      const perUser = await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.2.1');
      expect(perUser.status).toBe(429);
      expect(JSON.parse(perUser.body).message).toMatch(/^Too many login attempts, retry in \d+ s$/);
      // ...but not where the admin logged in lately: the attacker's failures cannot lock them out
      // of 10.0.0.2 (above) nor of 127.0.0.1 (startDaemon's login, no X-Forwarded-For).
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.0.2')).status).toBe(200);
      expect((await attempt(url, 'admin', ADMIN_PASSWORD)).status).toBe(200);
      // A known address still has its own limit.
      for (let i = 0; i < 3; i++) expect((await attempt(url, 'admin', 'wrong', '10.0.0.2')).status).toBe(401);
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.0.2')).status).toBe(429);
      // Parallel attempts cannot slip past the count.
      const burst = await Promise.all(Array.from({ length: 12 }, () => attempt(url, 'guard', 'wrong', '10.0.3.1')));
      expect(burst.filter((r) => r.status === 401).length).toBe(3);
      expect(burst.filter((r) => r.status === 429).length).toBe(9);
    } finally {
      await daemon.close();
    }
  });

  it('IPv6 clients count by /64: a login from one address of it makes the /64 known', async () => {
    const { daemon, url } = await startDaemon([], {
      server: { host: '127.0.0.1', port: 0, trusted_proxies: ['127.0.0.1'] },
      auth: { admin_password: ADMIN_PASSWORD, login_per_minute: 3, login_per_user_per_hour: 5 },
    });
    try {
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '2001:db8:1:2::10')).status).toBe(200);
      for (let i = 0; i < 5; i++) expect((await attempt(url, 'admin', 'wrong', `2001:db8:9:${i}::1`)).status).toBe(401);
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '2001:db8:9:99::1')).status).toBe(429);
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '2001:db8:1:2::abcd')).status).toBe(200); // same /64 as the login
      // Failures anywhere in one /64 share one count.
      for (let i = 0; i < 3; i++)
        expect((await attempt(url, 'admin', 'wrong', `2001:db8:1:2::${i + 1}:1`)).status).toBe(401);
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '2001:db8:1:2::ffff')).status).toBe(429);
    } finally {
      await daemon.close();
    }
  });

  it("the admin's known address survives a restart, kept in a private file beside users.json", async () => {
    const dataDir = tempDir('vigil-state-');
    const extra = {
      data_dir: dataDir,
      server: { host: '127.0.0.1', port: 0, trusted_proxies: ['127.0.0.1'] },
      auth: { admin_password: ADMIN_PASSWORD, login_per_minute: 3, login_per_user_per_hour: 5 },
    };
    let { daemon, url } = await startDaemon([], extra);
    try {
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.0.2')).status).toBe(200);
    } finally {
      await daemon.close();
    }
    ({ daemon, url } = await startDaemon([], extra));
    try {
      // After the restart an attacker spends the per-user limit again...
      for (let i = 0; i < 5; i++) expect((await attempt(url, 'admin', 'wrong', `10.0.1.${i}`)).status).toBe(401);
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.2.1')).status).toBe(429);
      // ...and the admin still logs in from where they did before it.
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '10.0.0.2')).status).toBe(200);
      expect(statSync(join(dataDir, 'known-logins.json')).mode & 0o777).toBe(0o600);
    } finally {
      await daemon.close();
    }
  });

  it('the box itself (loopback) is not locked out by the per-user limit; a forwarded client from an untrusted proxy is', async () => {
    let { daemon, url } = await startDaemon([], {
      server: { host: '127.0.0.1', port: 0, trusted_proxies: ['127.0.0.1'] },
      auth: { admin_password: ADMIN_PASSWORD, login_per_minute: 3, login_per_user_per_hour: 5 },
    });
    try {
      expect(
        (
          await api(url, '/api/users/guard', {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ password: 'guard-password', role: 'viewer' }),
          })
        ).status,
      ).toBe(200);
      for (let i = 0; i < 5; i++) expect((await attempt(url, 'guard', 'wrong', `10.0.1.${i}`)).status).toBe(401);
      expect((await attempt(url, 'guard', 'guard-password', '10.0.2.1')).status).toBe(429);
      // The guard never logged in from the box, and still may: only its own per-pair limit counts.
      expect((await attempt(url, 'guard', 'guard-password')).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await attempt(url, 'guard', 'wrong')).status).toBe(401);
      expect((await attempt(url, 'guard', 'guard-password')).status).toBe(429);
    } finally {
      await daemon.close();
    }
    // No trusted proxies: a request carrying X-Forwarded-For comes through a proxy on the box
    // that is not trusted, so its client is not the box.
    ({ daemon, url } = await startDaemon([], {
      auth: { admin_password: ADMIN_PASSWORD, login_per_minute: 10, login_per_user_per_hour: 3 },
    }));
    try {
      // (The guard: the admin already logged in from the box, so that pair is known anyway.)
      expect(
        (
          await api(url, '/api/users/guard', {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ password: 'guard-password', role: 'viewer' }),
          })
        ).status,
      ).toBe(200);
      for (let i = 0; i < 3; i++) expect((await attempt(url, 'guard', 'wrong', `10.0.0.${i}`)).status).toBe(401);
      expect((await attempt(url, 'guard', 'guard-password', '10.9.9.9')).status).toBe(429);
      expect((await attempt(url, 'guard', 'guard-password')).status).toBe(200);
    } finally {
      await daemon.close();
    }
  });

  it('a login in flight when its user is deleted and created again does not get a session', async () => {
    const { daemon, url } = await startDaemon([]);
    const put = (password: string) =>
      api(url, '/api/users/temp', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password, role: 'viewer', cameras: [] }),
      });
    try {
      for (let round = 0; round < 3; round++) {
        expect((await put('old-password')).status).toBe(200);
        const login = attempt(url, 'temp', 'old-password');
        // The DELETE waits until the login's request is in (a login is slower: scrypt).
        await new Promise((r) => setTimeout(r, 5));
        const del = await api(url, '/api/users/temp', { method: 'DELETE' });
        expect((await put('new-password')).status).toBe(200);
        const res = await login;
        if (res.status === 200 && del.status === 200) {
          const me = await raw(url, 'GET', '/api/me', {
            authorization: `Bearer ${JSON.parse(res.body).token as string}`,
          });
          expect(me.status, `round ${round}: the old password's session works for the new user`).toBe(401);
        }
      }
    } finally {
      await daemon.close();
    }
  });

  it('X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
    const { daemon, url } = await startDaemon([], { auth: { admin_password: ADMIN_PASSWORD, login_per_minute: 3 } });
    try {
      for (let i = 0; i < 3; i++) expect((await attempt(url, 'admin', 'wrong', `10.0.0.${i}`)).status).toBe(401);
      expect((await attempt(url, 'admin', ADMIN_PASSWORD, '10.9.9.9')).status).toBe(429);
    } finally {
      await daemon.close();
    }
  });

  it('an over-long user or password is refused without echoing it', async () => {
    const { daemon, url } = await startDaemon([]);
    try {
      for (const body of [
        { user: 'Sekr1t'.repeat(11), password: 'x' },
        { user: 'admin', password: 'Sekr1t'.repeat(43) },
        { user: 'admin', password: 42 },
        { user: ['Sekr1t'], password: 'Sekr1t' },
      ]) {
        const res = await attempt(url, body.user as string, body.password as string);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).not.toContain('Sekr1t');
        expect(JSON.parse(res.body).message).toMatch(/^Expected .* for (user|password)/);
      }
    } finally {
      await daemon.close();
    }
  });
});

describe('no oracles for a viewer', () => {
  let daemon: Daemon;
  let url = '';
  let guard = '';
  beforeAll(async () => {
    ({ daemon, url } = await startDaemon(CAMERAS));
    expect(
      (
        await api(url, '/api/users/guard', {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: 'guard-password', role: 'viewer', cameras: ['yard'] }),
        })
      ).status,
    ).toBe(200);
    guard = await login(url, 'guard', 'guard-password');
  });
  afterAll(async () => {
    await daemon?.close();
  });
  const as = (who: string, path: string) => raw(url, 'GET', path, { authorization: `Bearer ${who}` });

  it("a camera that is not the viewer's answers as one that does not exist, on every route that takes a camera", async () => {
    for (const route of ['/api/cameras/ID/snapshot.jpg', '/api/events?camera=ID', '/api/budget-events?camera=ID']) {
      const hidden = await as(guard, route.replace('ID', 'lobby'));
      const missing = await as(guard, route.replace('ID', 'nosuch'));
      expect(hidden.status, route).toBe(404);
      expect(missing.status, route).toBe(404);
      expect(JSON.parse(hidden.body)).toEqual({ error: 'not_found', message: "No camera with id 'lobby'" });
      expect(JSON.parse(missing.body)).toEqual({ error: 'not_found', message: "No camera with id 'nosuch'" });
      expect(hidden.headers['content-type']).toBe(missing.headers['content-type']);
      // Their own camera is there.
      expect((await as(guard, route.replace('ID', 'yard'))).status, route).not.toBe(404);
    }
  });

  it('ids and numbers parse strictly: only plain decimal digits', async () => {
    const { token } = { token: await login(url, 'admin', ADMIN_PASSWORD) };
    for (const id of [
      '0x10',
      '1e3',
      '%205',
      '5%20',
      '5.0',
      '+5',
      '05',
      '0',
      '-1',
      '1_0',
      '99999999999999999',
      '%EF%BC%95',
    ]) {
      const res = await as(token, `/api/events/${id}`);
      expect(res.status, id).toBe(400);
      expect(JSON.parse(res.body).message, id).toMatch(
        /^Expected an event id \(a positive integer\) for id but received/,
      );
    }
    expect((await as(token, '/api/events/5')).status).toBe(404);
    // What was sent is shown escaped (one line, no control characters), a long id not at all.
    const odd = JSON.parse((await as(token, "/api/events/1'%0A%1B[31m")).body).message as string;
    expect(odd).toBe("Expected an event id (a positive integer) for id but received '1'\\n\\u001b[31m'");
    for (const id of ['7'.repeat(90), '7'.repeat(4096)]) {
      const res = await as(token, `/api/events/${id}`);
      expect([400, 404], `${id.length} digits`).toContain(res.status);
      expect(res.body.length, `${id.length} digits`).toBeLessThan(200);
      expect(res.body).not.toContain('7'.repeat(20));
    }
    for (const q of [
      'before=0x10',
      'before=1e3',
      'before=%205',
      'limit=1e1',
      'limit=0x10',
      'limit=10.0',
      'limit=+5',
      'limit=',
      'before=05',
    ]) {
      for (const route of q.startsWith('limit') ? ['/api/events', '/api/budget-events'] : ['/api/events']) {
        const res = await as(token, `${route}?${q}`);
        expect(res.status, `${route}?${q}`).toBe(400);
        expect(JSON.parse(res.body).message, q).toMatch(new RegExp(`^Expected .* for ${q.split('=')[0]} but received`));
      }
    }
    expect((await as(token, '/api/events?before=5&limit=10')).status).toBe(200);
    expect((await as(token, '/api/budget-events?limit=10')).status).toBe(200);
    for (const quality of ['0x10', '1e1', '%2050', '50.0', '+50', '050']) {
      const res = await as(token, `/api/cameras/yard/snapshot.jpg?quality=${quality}`);
      expect(res.status, quality).toBe(400);
    }
  });
});
