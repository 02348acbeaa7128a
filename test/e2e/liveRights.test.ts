import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import { decodeBinary } from '../../src/protocol/binary.js';
import type { ServerMessage } from '../../src/protocol/control.js';
import { api, FAST, login, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { RtspServer } from '../helpers/rtspServer.js';
import { Viewer } from '../helpers/viewer.js';

// An open live socket follows its user's rights as they change: deleted, logged out, expired,
// password or role changed (closed with its own code), cameras taken away (those cameras only).

/** What a socket received, JSON and binary in the order they came, and how it closed. */
class Watched {
  readonly log: Array<{ at: number; json?: ServerMessage; camera?: number }> = [];
  close: { at: number; code: number; reason: string } | null = null;
  constructor(readonly v: Viewer) {
    v.ws.on('message', (data: Buffer, isBinary) => {
      const at = performance.now();
      if (isBinary) this.log.push({ at, camera: decodeBinary(data).camera });
      else this.log.push({ at, json: JSON.parse(data.toString()) as ServerMessage });
    });
    v.ws.on(
      'close',
      (code: number, reason: Buffer) => (this.close = { at: performance.now(), code, reason: reason.toString() }),
    );
  }

  binaryOf(camera: number, after = 0) {
    return this.log.filter((m) => m.at >= after && m.camera === camera);
  }

  /** How it closed; fails saying how much still came since `since` when it stays open. */
  async closed(since: number, timeoutMs = 5000) {
    await waitFor(() => this.close !== null, timeoutMs, 'the socket to be closed').catch((err: Error) => {
      const binary = this.log.filter((m) => m.at >= since && m.camera !== undefined).length;
      throw new Error(`${err.message}: still open, ${binary} binary messages since`);
    });
    return this.close!;
  }
}

/**
 * A WebSocket client written frame by frame, so it can do what a browser would not: go on
 * sending after the server's close frame instead of answering it.
 */
class RawSocket {
  private buf = Buffer.alloc(0);
  readonly texts: string[] = [];
  closeFrame: number | null = null;
  ended = false;
  private constructor(private readonly socket: Duplex) {
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('close', () => (this.ended = true));
  }

  static open(base: string, token: string): Promise<RawSocket> {
    const { hostname, port } = new URL(base);
    return new Promise((resolve, reject) => {
      const req = request({
        host: hostname,
        port,
        path: '/api/live',
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': randomBytes(16).toString('base64'),
          'sec-websocket-protocol': 'vigil.v1',
          authorization: `Bearer ${token}`,
        },
      });
      req.on('upgrade', (_res, socket, head) => {
        const raw = new RawSocket(socket);
        if (head.length) raw.read(head);
        resolve(raw);
      });
      req.on('response', (res) => reject(new Error(`HTTP ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** A masked client frame (opcode 1: text, 8: close). */
  frame(opcode: number, payload: Buffer): void {
    const mask = randomBytes(4);
    const len = payload.length;
    const head =
      len < 126
        ? Buffer.from([0x80 | opcode, 0x80 | len])
        : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  send(msg: unknown): void {
    this.frame(1, Buffer.from(JSON.stringify(msg)));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private read(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) return;
      const payload = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      if (opcode === 1) this.texts.push(payload.toString('utf8'));
      if (opcode === 8) this.closeFrame = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    }
  }
}

const viewers: Viewer[] = [];
let server: RtspServer;
let daemon: Daemon;
let url: string;
let gate: number;
let dock: number;

const json = (body: unknown): RequestInit => ({
  method: 'PUT',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** A viewer user limited to `cameras`, logged in, its socket subscribed to video + detections of each and getting video. */
async function watching(base: string, name: string, cameras: string[], password = `${name}-password`) {
  const put = await api(base, `/api/users/${name}`, json({ password, role: 'viewer', cameras }));
  expect(put.status).toBe(200);
  const token = await login(base, name, password);
  const v = new Viewer(base, token);
  viewers.push(v);
  const w = new Watched(v);
  const hello = await v.hello();
  expect(hello.cameras.map((c) => c.id).sort()).toEqual([...cameras].sort());
  for (const c of hello.cameras) {
    const n = v.json.length;
    v.send({ type: 'subscribe', camera: c.id, video: true, detections: true });
    await v.next('subscribed', n);
  }
  for (const c of hello.cameras)
    await waitFor(() => v.video(c.index).some((m) => m.kind === 'fragment'), 15000, `video of ${c.id}`);
  await waitFor(
    () => v.json.some((m) => m.type === 'health' && m.cameras.length === cameras.length),
    5000,
    'a health message',
  );
  return { v, w, token, password, hello };
}

beforeAll(async () => {
  const clip = await ensureClip('h264');
  server = await RtspServer.start({ a: { file: clip, codec: 'h264' }, b: { file: clip, codec: 'h264' } });
  ({ daemon, url } = await startDaemon([
    { id: 'gate', url: server.url('a'), ...FAST },
    { id: 'dock', url: server.url('b'), ...FAST },
  ]));
  await waitFor(
    () => daemon.cameras.get('gate')!.state === 'streaming' && daemon.cameras.get('dock')!.state === 'streaming',
    30000,
    'both cameras streaming',
  );
  const admin = new Viewer(url, await login(url, 'admin', 'vigil-test-admin'));
  viewers.push(admin);
  const hello = await admin.hello();
  admin.close();
  gate = hello.cameras.find((c) => c.id === 'gate')!.index;
  dock = hello.cameras.find((c) => c.id === 'dock')!.index;
}, 120_000);

afterAll(async () => {
  for (const v of viewers) v.close();
  await daemon?.close();
  await server?.stop();
});

describe("live WebSocket follows the user's rights", () => {
  it('deleting the user closes its socket (4001 user deleted) within a second; nothing comes after', async () => {
    const { w, token } = await watching(url, 'del', ['gate', 'dock']);
    const t0 = performance.now();
    expect((await api(url, '/api/users/del', { method: 'DELETE' })).status).toBe(200);
    const close = await w.closed(t0);
    expect({ code: close.code, reason: close.reason }).toEqual({ code: 4001, reason: 'user deleted' });
    expect(close.at - t0).toBeLessThan(1000);
    const n = w.log.length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(w.log.length).toBe(n);
    await expect(new Viewer(url, token).opened).rejects.toThrow('HTTP 401');
  });

  it('logging out closes the socket of that session (4002 logged out); another session of the user goes on', async () => {
    const { w, token, password } = await watching(url, 'out', ['gate']);
    const other = new Watched(new Viewer(url, await login(url, 'out', password)));
    viewers.push(other.v);
    await other.v.hello();
    const t0 = performance.now();
    const res = await fetch(`${url}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const close = await w.closed(t0);
    expect({ code: close.code, reason: close.reason }).toEqual({ code: 4002, reason: 'logged out' });
    expect(close.at - t0).toBeLessThan(1000);
    const n = other.log.length;
    await waitFor(() => other.log.slice(n).some((m) => m.json?.type === 'health'), 5000, 'health on the other session');
    expect(other.close).toBeNull();
  });

  it('taking a camera away unsubscribes exactly that camera within a second; the other keeps flowing', async () => {
    const { v, w, token, password } = await watching(url, 'narrow', ['gate', 'dock']);
    const t0 = performance.now();
    const put = await api(url, '/api/users/narrow', json({ password, role: 'viewer', cameras: ['dock'] }));
    expect(put.status).toBe(200);
    await waitFor(() => w.log.some((m) => m.json?.type === 'unsubscribed'), 5000, "an 'unsubscribed' message").catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${w.binaryOf(gate, t0).length} messages of the camera taken away since`);
      },
    );
    const un = w.log.find((m) => m.json?.type === 'unsubscribed')!;
    expect(un.json).toEqual({ type: 'unsubscribed', camera: 'gate' });
    expect(un.at - t0).toBeLessThan(1000);
    // The hello again, with the cameras the user may see now.
    await waitFor(() => w.log.some((m) => m.at >= un.at && m.json?.type === 'hello'), 2000, 'a new hello');
    const hello = w.log.find((m) => m.at >= un.at && m.json?.type === 'hello')!.json as Extract<
      ServerMessage,
      { type: 'hello' }
    >;
    expect(hello.cameras.map((c) => c.id)).toEqual(['dock']);
    // Two more seconds: dock's video and health go on, nothing of gate's.
    const after = un.at;
    await waitFor(() => w.binaryOf(dock, after).length >= 15, 10000, "15 of dock's messages after the change");
    await waitFor(
      () => w.log.filter((m) => m.at > after && m.json?.type === 'health').length >= 2,
      5000,
      'two health messages',
    );
    const idx = w.log.indexOf(un);
    expect(w.log.slice(idx).filter((m) => m.camera === gate)).toHaveLength(0);
    const health = w.log.slice(idx).flatMap((m) => (m.json?.type === 'health' ? m.json.cameras.map((c) => c.id) : []));
    expect(new Set(health)).toEqual(new Set(['dock']));
    expect(w.log.slice(idx).filter((m) => m.json?.type === 'unsubscribed')).toHaveLength(1);
    expect(w.close).toBeNull();
    // The same session goes on (same password, same role) with the new rights.
    const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(await me.json()).toEqual({ name: 'narrow', role: 'viewer', cameras: ['dock'] });
    // Asking for the camera taken away is answered as for one that does not exist.
    const n = v.json.length;
    v.send({ type: 'subscribe', camera: 'gate' });
    expect(await v.next('error', n)).toEqual({
      type: 'error',
      code: 'unknown_camera',
      message: "No camera with id 'gate'",
    });
    // Given back: the new hello lists it again, and it can be subscribed again.
    const back = v.json.length;
    expect(
      (await api(url, '/api/users/narrow', json({ password, role: 'viewer', cameras: ['dock', 'gate'] }))).status,
    ).toBe(200);
    expect((await v.next('hello', back)).cameras.map((c) => c.id).sort()).toEqual(['dock', 'gate']);
    v.send({ type: 'subscribe', camera: 'gate' });
    await v.next('subscribed', back);
    const t1 = performance.now();
    await waitFor(() => w.binaryOf(gate, t1).length > 0, 10000, "gate's video again");
  });

  it('a new password or role closes the socket (4004: log in again)', async () => {
    const a = await watching(url, 'repw', ['gate']);
    const t0 = performance.now();
    expect(
      (await api(url, '/api/users/repw', json({ password: 'another-password', role: 'viewer', cameras: ['gate'] })))
        .status,
    ).toBe(200);
    const close = await a.w.closed(t0);
    expect({ code: close.code, reason: close.reason }).toEqual({ code: 4004, reason: 'password or role changed' });
    expect(close.at - t0).toBeLessThan(1000);
    expect((await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${a.token}` } })).status).toBe(401);

    const b = await watching(url, 'promote', ['gate']);
    const t1 = performance.now();
    expect((await api(url, '/api/users/promote', json({ password: b.password, role: 'admin' }))).status).toBe(200);
    expect((await b.w.closed(t1)).code).toBe(4004);
  });

  it("messages a client sends after its socket was ended (user deleted) are not acted on with the user's old rights", async () => {
    expect(
      (await api(url, '/api/users/late', json({ password: 'late-password', role: 'viewer', cameras: ['gate'] })))
        .status,
    ).toBe(200);
    const raw = await RawSocket.open(url, await login(url, 'late', 'late-password'));
    try {
      raw.send({ type: 'hello', version: 1 });
      await waitFor(() => raw.texts.some((t) => t.includes('"type":"hello"')), 5000, 'the hello');
      const displayed = async () => {
        const res = await api(url, '/api/health');
        const cam = (
          (await res.json()) as { cameras: Array<{ id: string; latencyMs: { display: { n: number } | null } | null }> }
        ).cameras.find((c) => c.id === 'gate')!;
        return cam.latencyMs?.display?.n ?? 0;
      };
      const before = await displayed();
      expect((await api(url, '/api/users/late', { method: 'DELETE' })).status).toBe(200);
      await waitFor(() => raw.closeFrame !== null, 5000, "the server's close frame");
      expect(raw.closeFrame).toBe(4001);
      // The socket is closing but not closed (this client has not answered): what it sends now
      // is the deleted user's. An overlay report would still land in gate's display latency.
      raw.send({ type: 'overlay', camera: 'gate', drawnMs: [1, 2, 3, 4, 5] });
      raw.frame(8, Buffer.from([0x03, 0xe8]));
      await waitFor(() => raw.ended, 5000, 'the server to close the connection'); // after it read the overlay
      expect(await displayed()).toBe(before);
    } finally {
      raw.destroy();
    }
  });

  it('to a viewer, a camera not theirs and one that does not exist answer the same', async () => {
    const { v } = await watching(url, 'probe', ['dock']);
    const errors: ServerMessage[] = [];
    for (const camera of ['gate', 'nope']) {
      for (const msg of [
        { type: 'subscribe', camera },
        { type: 'unsubscribe', camera },
      ]) {
        const n = v.json.length;
        v.send(msg);
        errors.push(await v.next('error', n));
      }
    }
    expect(errors).toEqual([
      { type: 'error', code: 'unknown_camera', message: "No camera with id 'gate'" },
      { type: 'error', code: 'unknown_camera', message: "No camera with id 'gate'" },
      { type: 'error', code: 'unknown_camera', message: "No camera with id 'nope'" },
      { type: 'error', code: 'unknown_camera', message: "No camera with id 'nope'" },
    ]);
    // What was sent is shown escaped: one line, no control characters.
    const n = v.json.length;
    v.send({ type: 'subscribe', camera: 'a\nb\u001b' });
    expect(await v.next('error', n)).toEqual({
      type: 'error',
      code: 'unknown_camera',
      message: "No camera with id 'a\\nb\\u001b'",
    });
  });
});

describe('session expiry', () => {
  it('closes the socket when the session expires (4003 session expired), within a second of the expiry', async () => {
    // auth.session_hours 0.002: a login lasts 7.2 s.
    const { daemon: d, url: u } = await startDaemon([{ id: 'gate', url: server.url('a'), ...FAST }], {
      auth: { admin_password: 'vigil-test-admin', session_hours: 0.002 },
    });
    try {
      expect(
        (await api(u, '/api/users/brief', json({ password: 'brief-password', role: 'viewer', cameras: ['gate'] })))
          .status,
      ).toBe(200);
      await waitFor(() => d.cameras.get('gate')!.state === 'streaming', 30000, 'the camera streaming');
      const res = await fetch(`${u}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'brief', password: 'brief-password' }),
      });
      const { token, expires } = (await res.json()) as { token: string; expires: string };
      const v = new Viewer(u, token);
      viewers.push(v);
      const w = new Watched(v);
      await v.hello();
      v.send({ type: 'subscribe', camera: 'gate' });
      await v.next('subscribed');
      const close = await w.closed(Date.parse(expires) - Date.now() + performance.now(), 15000);
      const expiresAt = Date.parse(expires);
      const closedAt = Date.now() - (performance.now() - close.at);
      expect({ code: close.code, reason: close.reason }).toEqual({ code: 4003, reason: 'session expired' });
      expect(closedAt).toBeGreaterThanOrEqual(expiresAt - 50);
      expect(closedAt - expiresAt).toBeLessThan(1000);
      expect(w.binaryOf(0).length).toBeGreaterThan(0); // it was getting video until then
    } finally {
      await d.close();
    }
  });
});
