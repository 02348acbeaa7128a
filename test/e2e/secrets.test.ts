// Secrets never reach what others read: config errors (loadConfigFile, `vigil check-config`),
// the daemon's log lines and STATUS= on a failed SIGHUP reload, and API 400 answers. Each secret
// is an adversarial one (spaces, '@', ':', '/', percent-escapes, non-ASCII).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { ConfigError, loadConfigFile } from '../../src/config/loadConfig.js';
import { packageRoot } from '../../src/native/addon.js';
import { ADMIN_PASSWORD, startDaemon, waitFor } from '../helpers/daemon.js';
import { NotifySocket } from '../helpers/notifySocket.js';
import { freePort } from '../helpers/rtspServer.js';
import { tempDir } from '../helpers/tempDir.js';
import { expectNoSecret, SECRETS } from '../helpers/secrets.js';

const MAIN = join(packageRoot(), 'dist/src/cli/main.js');
const CAM_SECRET = 'Hunter2 Secret@Zz99'; // spaces and '@': FFmpeg splits the userinfo at the last '@'
const SHORT = 'Sh0rtPw';

/** Config files that must be refused, each with the secret it holds and what the error must still name. */
function badConfigs(): Array<{ name: string; yaml: string; secrets: string[]; names: RegExp }> {
  const q = (s: string) => JSON.stringify(s);
  return [
    {
      name: 'a camera URL whose password holds spaces and @, and a too-short admin_password',
      yaml: `auth:\n  admin_password: ${SHORT}\ncameras:\n  - id: door\n    url: ${q(`rtsp://admin:${CAM_SECRET}@127.0.0.1:8554/h264`)}\n`,
      secrets: [SHORT, CAM_SECRET],
      names: /at least 8 characters for auth\.admin_password[\s\S]*cameras\[0\]\.url/,
    },
    ...SECRETS.map((s) => ({
      name: `an MQTT URL and password holding ${q(s)}`,
      yaml: `mqtt:\n  url: ${q(`mqtt://bob:${s} x@broker:1883`)}\n  password: [${q(s)}]\n`,
      secrets: [s],
      names: /mqtt\.url[\s\S]*mqtt\.password/,
    })),
    {
      name: 'a YAML syntax error (unclosed quote) on the admin_password line',
      yaml: `server:\n  port: 8080\nauth:\n  admin_password: "${CAM_SECRET} pässwörd€密码\n`,
      secrets: [CAM_SECRET, 'pässwörd€密码'],
      names: /YAML syntax error at line \d+, column \d+/,
    },
    {
      name: 'a YAML syntax error (text after the closing quote) on the admin_password line',
      yaml: `auth:\n  admin_password: "${CAM_SECRET}" pässwörd€密码\ncameras: []\n`,
      secrets: [CAM_SECRET, 'pässwörd€密码'],
      names: /YAML syntax error at line 2, column \d+/,
    },
    {
      name: 'a YAML syntax error (a second colon) on the MQTT password line',
      yaml: `mqtt:\n  url: mqtt://broker:1883\n  password: Zz99@Qq77: sla/shes/h3r3\n`,
      secrets: ['Zz99@Qq77', 'sla/shes/h3r3'],
      names: /YAML syntax error at line 3, column \d+/,
    },
    {
      name: 'a YAML syntax error (bad escape) inside a quoted password',
      yaml: `auth:\n  admin_password: "co:lo:ns\\qmixed Ab@C:De"\n`,
      secrets: ['co:lo:ns\\qmixed Ab@C:De'],
      names: /YAML syntax error at line 2, column \d+/,
    },
    {
      name: 'a tab before a password line',
      yaml: `auth:\n\tadmin_password: pct%40eNc%3A0ded%2Fxx\n`,
      secrets: ['pct%40eNc%3A0ded%2Fxx'],
      names: /YAML syntax error at line 2, column \d+/,
    },
  ];
}

describe('config errors name the field, never the secret', () => {
  for (const c of badConfigs()) {
    it(`loadConfigFile: ${c.name}`, () => {
      const file = join(tempDir('vigil-secrets-'), 'vigil.yaml');
      writeFileSync(file, c.yaml);
      let message = '';
      try {
        loadConfigFile(file);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        message = (err as Error).message;
      }
      for (const s of c.secrets) expectNoSecret(message, s);
      expect(message).toMatch(c.names);
    });
  }

  it('vigil check-config prints the problems, exits 2, shows no secret', async () => {
    const dir = tempDir('vigil-secrets-');
    // Every kind once (the URL and short password, one MQTT spelling, each YAML error), the spawns side by side.
    const cases = badConfigs().filter(
      (c, i, all) => !c.name.startsWith('an MQTT') || all.findIndex((x) => x.name.startsWith('an MQTT')) === i,
    );
    await Promise.all(
      cases.map(async (c, i) => {
        const file = join(dir, `vigil-${i}.yaml`);
        writeFileSync(file, c.yaml);
        const child = spawn(process.execPath, [MAIN, 'check-config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (out += b.toString()));
        const code = await new Promise<number | null>((r) => child.once('close', r));
        for (const s of c.secrets) expectNoSecret(out, s);
        expect(code, `${c.name}: ${out}`).toBe(2);
        expect(out).toMatch(c.names);
      }),
    );
  }, 120_000);
});

describe('the logger redacts every line it writes', () => {
  it('messages, err.message and stack, bindings and secret-named fields', () => {
    const script = `
      const { createLogger, moduleLogger } = await import(${JSON.stringify(pathToFileURL(join(packageRoot(), 'dist/src/util/logger.js')).href)});
      const secrets = JSON.parse(process.env.SECRETS);
      const root = createLogger('info');
      for (const s of secrets) {
        const log = moduleLogger(root, 'Probe', { url: 'rtsp://cam:' + s + '@127.0.0.1/x' });
        log.error({ err: new Error('cannot open rtsps://cam:' + s + '@127.0.0.1:322/x: 401') }, 'open failed');
        log.warn(new Error('mqtt://bob:' + s + '@broker:1883 refused'));
        log.info({ password: s, auth: { admin_password: 73914682, token: s }, cameras: [{ url: 'http://u:' + s + '@h/x' }] }, 'user %s saved', 'bob');
        log.info('config line 4: admin_password: ' + s);
      }
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, SECRETS: JSON.stringify(SECRETS) },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4 * SECRETS.length);
    lines.forEach((line, i) => expectNoSecret(line, SECRETS[Math.floor(i / 4)]!));
    expect(r.stdout).not.toContain('73914682');
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string });
    expect(parsed.map((p) => p.msg).slice(0, 4)).toEqual([
      'open failed',
      'mqtt://bob:***@broker:1883 refused',
      'user bob saved',
      'config line 4: admin_password: ***',
    ]);
    expect(lines[0]).toContain('rtsp://cam:***@127.0.0.1/x');
  });
});

describe('the logger masks secrets of every shape', () => {
  it('secret-named fields holding lists or objects, Authorization and Cookie headers, query and slashless URLs; stack paths stay whole', () => {
    const script = `
      const { createLogger } = await import(${JSON.stringify(pathToFileURL(join(packageRoot(), 'dist/src/util/logger.js')).href)});
      const secrets = JSON.parse(process.env.SECRETS);
      const root = createLogger('info');
      for (const s of secrets) {
        root.info({ cookie: ['vigil_session=' + s], password: { nested: s, list: [s, 7] }, req: { headers: { authorization: 'Basic ' + s, cookie: 'vigil_session=' + s } } }, 'request');
        root.warn('upstream answered 401 to Authorization: Bearer ' + s);
        root.warn('retrying rtsp:cam:' + s + '@127.0.0.1/x and http://10.0.0.9/snap.cgi?usr=admin&pwd=' + encodeURIComponent(s) + '&ch=1');
      }
      const err = new Error('boom');
      err.stack = 'Error: boom\\n    at f (file:///app/node_modules/@fastify/static/index.js:10:5)\\n    at file:///app/dist/src/server/auth/tokens.js:3:7';
      root.error({ err }, 'failed');
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, SECRETS: JSON.stringify(SECRETS) },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3 * SECRETS.length + 1);
    lines.slice(0, -1).forEach((line, i) => expectNoSecret(line, SECRETS[Math.floor(i / 3)]!));
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      cookie: '***',
      password: '***',
      req: { headers: { authorization: '***', cookie: '***' } },
      msg: 'request',
    });
    expect(lines[2]).toContain('usr=admin&pwd=***&ch=1');
    const stack = (JSON.parse(lines.at(-1)!) as { err: { stack: string } }).err.stack;
    expect(stack).toBe(
      'Error: boom\n    at f (file:///app/node_modules/@fastify/static/index.js:10:5)\n    at file:///app/dist/src/server/auth/tokens.js:3:7',
    );
  });
});

describe('a failed SIGHUP reload', () => {
  let child: ChildProcess | null = null;
  let sock: NotifySocket | null = null;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    child = null;
    sock?.stop();
    sock = null;
  });

  it('logs and puts in STATUS= what is wrong, with no secret', async () => {
    const dir = tempDir('vigil-secrets-reload-');
    sock = await NotifySocket.start(dir);
    const port = await freePort();
    const head = `server:\n  host: 127.0.0.1\n  port: ${port}\ndata_dir: ${dir}\nlog:\n  level: info\ndetect:\n  enabled: false\n`;
    const cfg = join(dir, 'vigil.yaml');
    writeFileSync(cfg, `${head}auth:\n  admin_password: ${ADMIN_PASSWORD}\ncameras: []\n`);
    const proc = spawn(process.execPath, [MAIN, 'run', '--config', cfg], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NOTIFY_SOCKET: sock.path },
    });
    child = proc;
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const readies = () => sock!.with('READY=1').length;
    await waitFor(() => readies() > 0, 60_000, 'READY=1');

    const cases = [
      {
        yaml: `${head}auth:\n  admin_password: ${SHORT}\ncameras:\n  - id: door\n    url: ${JSON.stringify(`rtsp://admin:${CAM_SECRET}@127.0.0.1:8554/h264`)}\n`,
        secrets: [SHORT, CAM_SECRET],
        names: /auth\.admin_password.*cameras\[0\]\.url/,
      },
      {
        yaml: `${head}cameras: []\nauth:\n  admin_password: "${CAM_SECRET} pässwörd€密码\n`,
        secrets: [CAM_SECRET, 'pässwörd€密码'],
        names: /YAML syntax error at line \d+, column \d+/,
      },
    ];
    for (const c of cases) {
      writeFileSync(cfg, c.yaml);
      const n = readies();
      const logged = out.length;
      proc.kill('SIGHUP');
      await waitFor(() => readies() > n, 30_000, 'READY=1 after the failed reload');
      await waitFor(
        () => out.slice(logged).includes('configuration reload failed'),
        10_000,
        'the reload failure logged',
      );
      for (const s of c.secrets) {
        expectNoSecret(sock.messages.map((m) => m.state).join('\n'), s);
        expectNoSecret(out, s);
      }
      const status = sock.statuses().at(-1)!;
      expect(status).toMatch(/reload failed, the previous configuration stays: /);
      expect(status).toMatch(c.names);
      const failure = out
        .slice(logged)
        .split('\n')
        .find((l) => l.includes('configuration reload failed'))!;
      expect(failure).toMatch(c.names);
    }
    expect(proc.exitCode).toBeNull();

    // A good reload with cameras whose passwords hold '@' and percent-escapes, on a port nobody
    // listens on: their errors in the log, STATUS= and /api/health show no part of the password.
    const closed = await freePort();
    const camSecrets = ['Zz99@Qq77', 'pct%40eNc%3A0ded%2Fxx'];
    const camList = camSecrets
      .map(
        (s, i) =>
          `  - { id: c${i}, url: ${JSON.stringify(`rtsp://camuser:${s}@127.0.0.1:${closed}/live`)}, timeout_ms: 1000 }\n`,
      )
      .join('');
    // A password in the query string (Foscam-style ?usr=…&pwd=…), shown to viewers in /api/health;
    // the user name is a mail address, whose '@' once hid the query from the redaction.
    const querySecret = 'Qs3cr3tQuery';
    const queryCam = `  - { id: c2, url: ${JSON.stringify(`rtsp://127.0.0.1:${closed}/live?usr=ops@site.com&pwd=${querySecret}&ch=1`)}, timeout_ms: 1000 }\n`;
    writeFileSync(cfg, `${head}auth:\n  admin_password: ${ADMIN_PASSWORD}\ncameras:\n${camList}${queryCam}`);
    const n = readies();
    proc.kill('SIGHUP');
    await waitFor(() => readies() > n, 30_000, 'READY=1 after the good reload');
    expect(sock.statuses().at(-1)).toMatch(/reloaded: cameras \+3/);
    const res = await fetch(`http://127.0.0.1:${port}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: ADMIN_PASSWORD }),
    });
    const { token } = (await res.json()) as { token: string };
    let health = '';
    await waitFor(
      async () => {
        health = await (
          await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { authorization: `Bearer ${token}` } })
        ).text();
        const cams = (JSON.parse(health) as { cameras: Array<{ lastError: unknown }> }).cameras;
        return cams.length === 3 && cams.every((c) => c.lastError !== null);
      },
      30_000,
      'all three cameras failing with an error',
    );
    expect(health).toContain(`rtsp://camuser:***@127.0.0.1:${closed}/live`);
    expect(health).toContain(`rtsp://127.0.0.1:${closed}/live?usr=ops@site.com&pwd=***&ch=1`);
    for (const s of [...camSecrets, querySecret]) {
      expectNoSecret(health, s);
      expectNoSecret(out, s);
      expectNoSecret(sock.messages.map((m) => m.state).join('\n'), s);
    }

    // A long foreign Origin on the live socket, before any login: refused, and logged cut short with its password masked.
    const origin = `http://bob:Zz99Qq77@evil.example/${'a'.repeat(12_000)}`;
    const logged = out.length;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        path: '/api/live',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          origin,
        },
      });
      req.on('response', (r) => {
        let text = '';
        r.on('data', (d: Buffer) => (text += d.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
      });
      req.on('upgrade', (_r, socket) => {
        socket.destroy();
        reject(new Error('a foreign Origin was upgraded'));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    // The answer names the Origin cut short and masked too: nothing sent is echoed whole.
    expect(body.length, body.slice(0, 300)).toBeLessThanOrEqual(300);
    expectNoSecret(body, 'Zz99Qq77');
    await waitFor(() => out.slice(logged).includes('foreign Origin'), 10_000, 'the refusal logged');
    const refusal = JSON.parse(
      out
        .slice(logged)
        .split('\n')
        .find((l) => l.includes('foreign Origin'))!,
    ) as { origin: string };
    expect(refusal.origin.length).toBeLessThanOrEqual(200);
    expect(refusal.origin).toMatch(/^http:\/\/bob:\*\*\*@evil\.example\/a+$/);
  }, 120_000);
});

describe('API 400 answers echo no password', () => {
  it('PUT /api/users with a too-short or too-long password, a login with an over-long password', async () => {
    const { daemon, url, token } = await startDaemon([]);
    try {
      for (const password of [SHORT, `${CAM_SECRET} ${'x'.repeat(300)}`, ...SECRETS.map((s) => s.slice(0, 7))]) {
        const res = await fetch(`${url}/api/users/bob`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ password, role: 'viewer' }),
        });
        const body = await res.text();
        expect(res.status, body).toBe(400);
        expect(body).toMatch(/for password/);
        expectNoSecret(body, password.slice(0, 20));
      }
      const res = await fetch(`${url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'admin', password: `${CAM_SECRET} ${'y'.repeat(300)}` }),
      });
      const body = await res.text();
      expect(res.status, body).toBe(400);
      expect(body).toMatch(/for password/);
      expectNoSecret(body, CAM_SECRET);
    } finally {
      await daemon.close();
    }
  });
});
