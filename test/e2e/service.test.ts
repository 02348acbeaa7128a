import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startDaemonProcess, type DaemonProcess } from '../../bench/daemonProcess.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import type { ServerMessage } from '../../src/protocol/control.js';
import { waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { filesUnder, mediaRows } from '../helpers/media.js';
import { NotifySocket } from '../helpers/notifySocket.js';
import { freePort } from '../helpers/rtspServer.js';
import { Viewer } from '../helpers/viewer.js';
import { tempDir } from '../helpers/tempDir.js';

let daemon: DaemonProcess | null = null;
let sock: NotifySocket | null = null;
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
  fp32OnnxPath();
}, 300_000);

afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  sock?.stop();
  sock = null;
});

const exited = (d: DaemonProcess) =>
  new Promise<{ code: number | null; at: number }>((r) => d.child.once('exit', (code) => r({ code, at: Date.now() })));

describe('under a service manager (sd_notify on a real notification socket)', () => {
  it('READY=1 only once it serves, STATUS lines, WATCHDOG=1 while the pipeline makes progress', async () => {
    const dir = tempDir('vigil-notify-');
    const port = await freePort();
    sock = await NotifySocket.start(dir, `http://127.0.0.1:${port}/api/login`);
    const body = `log:\n  level: warn\ncameras:\n  - id: yard\n    url: ${h264}\n    loop: true\n`;
    daemon = await startDaemonProcess(body, 'notify', dir, {
      port,
      env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '1000000' },
    });
    await waitFor(
      () => sock!.with('READY=1').length > 0 && sock!.with('WATCHDOG=1').length >= 4,
      20_000,
      'READY=1 and watchdog pings',
    );
    const ready = sock.with('READY=1');
    expect(ready).toHaveLength(1);
    // The moment it said ready, it answered HTTP (a login route: 4xx without a body, not "refused").
    expect(ready[0]!.probe).toBeGreaterThanOrEqual(400);
    expect(ready[0]!.state).toMatch(new RegExp(`MAINPID=${daemon.child.pid}`));
    // Before READY only a "starting" status; the READY status names cameras and the detector.
    const before = sock.messages.slice(0, sock.messages.indexOf(ready[0]!));
    expect(before.map((m) => m.state)).toEqual(['STATUS=starting: cameras, detector, database']);
    expect(ready[0]!.state).toMatch(
      /STATUS=http:\/\/127\.0\.0\.1:\d+: \d\/1 cameras streaming; detector cpu (fp32|int8)/,
    );
    // Pings at half of WATCHDOG_USEC (1 s): ~2 a second (the median gap: a loaded 2-core box delays some).
    const pings = sock.with('WATCHDOG=1').map((m) => m.at);
    const gaps = pings
      .slice(1)
      .map((t, i) => t - pings[i]!)
      .sort((a, b) => a - b);
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(800);
  }, 60_000);

  it('stops feeding the watchdog when inference is stuck, and says why', async () => {
    const dir = tempDir('vigil-stuck-');
    sock = await NotifySocket.start(dir);
    // Each inference on this camera takes 60 s: after watchdog_stuck_seconds the pipeline is stuck.
    const body = `log:\n  level: warn\nservice:\n  watchdog_stuck_seconds: 2\ncameras:\n  - id: yard\n    url: ${h264}\n    loop: true\n    testing: { infer_delay_ms: 60000 }\n`;
    daemon = await startDaemonProcess(body, 'stuck', dir, {
      env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000' },
    });
    await waitFor(() => sock!.statuses().some((s) => s.startsWith('stuck: ')), 20_000, 'a stuck status');
    const stuckAt = sock.messages.find((m) => m.state.startsWith('STATUS=stuck: '))!;
    expect(stuckAt.state).toMatch(/^STATUS=stuck: inference has been running one batch for [2-9]\.\d s$/);
    const pingsThen = sock.with('WATCHDOG=1').length;
    expect(pingsThen).toBeGreaterThan(0); // it was fed while the batch was young
    await new Promise((r) => setTimeout(r, 1500)); // ~7 intervals of 200 ms
    expect(sock.with('WATCHDOG=1').length).toBe(pingsThen);
    expect(sock.with('WATCHDOG=1').every((m) => m.at <= stuckAt.at)).toBe(true);
  }, 60_000);

  it('SIGTERM: STOPPING=1, exit 0 within the bound, every event told to a viewer stored and closed, clips whole', async () => {
    const dir = tempDir('vigil-term-');
    sock = await NotifySocket.start(dir);
    const body = [
      'log:\n  level: warn',
      'service:\n  stop_timeout_seconds: 10',
      'detect:\n  tracker: { min_hits: 1, max_age: 2 }',
      'media:\n  clips: { pre_roll_seconds: 1, post_roll_seconds: 30 }', // clips still recording at the stop
      `cameras:\n  - id: yard\n    url: ${h264}\n    loop: true\n    realtime: false\n    zones:\n      - { id: all, polygon: [[0, 0], [768, 0], [768, 576], [0, 576]] }`,
    ].join('\n');
    daemon = await startDaemonProcess(`${body}\n`, 'term', dir, { env: { NOTIFY_SOCKET: sock.path } });
    const viewer = new Viewer(daemon.url, daemon.token);
    await viewer.hello();
    const told = () => viewer.json.filter((m): m is Extract<ServerMessage, { type: 'event' }> => m.type === 'event');
    await waitFor(() => told().length >= 30, 60_000, '30 event messages');
    const recording = (await daemon.api<{ media: { recording: number } }>('/api/health')).media.recording;
    expect(recording).toBeGreaterThan(0);
    const d = daemon;
    const exit = exited(d);
    const t0 = Date.now();
    d.child.kill('SIGTERM');
    const { code, at } = await exit;
    viewer.close();
    expect(code).toBe(0);
    expect(at - t0).toBeLessThan(10_000);
    expect(sock.with('STOPPING=1')).toHaveLength(1);
    // Everything a viewer was told is in the database, and every event is closed.
    const db = new Database(join(dir, 'vigil.db'), { readonly: true });
    const rows = new Map(
      (
        db.prepare('SELECT id, ended_at AS endedAt FROM events').all() as Array<{ id: number; endedAt: string | null }>
      ).map((r) => [r.id, r]),
    );
    const clips = db.prepare("SELECT COUNT(*) AS n FROM event_media WHERE kind = 'clip'").get() as { n: number };
    db.close();
    for (const m of told()) expect(rows.has(m.event.id), `event ${m.event.id} (${m.kind})`).toBe(true);
    expect([...rows.values()].filter((r) => r.endedAt === null)).toEqual([]);
    // The clips still recording were cut at the stop and finished: the database and the disk agree.
    expect(clips.n).toBeGreaterThanOrEqual(recording);
    expect(filesUnder(join(dir, 'media'), true)).toEqual(mediaRows(dir));
    console.log(
      `SIGTERM: exit 0 after ${at - t0} ms with ${recording} clips recording; ${told().length} event messages, ${rows.size} events stored and closed, ${clips.n} clips`,
    );
  }, 120_000);

  it('SIGHUP reloads the config: cameras added, removed and changed without a restart; a bad file changes nothing', async () => {
    const dir = tempDir('vigil-reload-');
    sock = await NotifySocket.start(dir);
    const cams = (list: string) => `log:\n  level: warn\ndetect:\n  enabled: false\ncameras:\n${list}`;
    const cam = (id: string, name = id) => `  - { id: ${id}, name: ${name}, url: ${h264}, loop: true }\n`;
    daemon = await startDaemonProcess(cams(cam('a') + cam('b')), 'reload', dir, { env: { NOTIFY_SOCKET: sock.path } });
    const d = daemon;
    const cfgFile = join(dir, 'reload.yaml');
    const head = readFileSync(cfgFile, 'utf8').split('log:')[0]!; // server, data_dir, auth as the helper wrote them
    const viewer = new Viewer(d.url, d.token);
    await viewer.hello();
    const health = () => d.api<{ cameras: Array<{ id: string; name: string; state: string }> }>('/api/health');
    await waitFor(
      async () => (await health()).cameras.every((c) => c.state === 'streaming'),
      20_000,
      'a and b streaming',
    );
    const hellos = () => viewer.json.filter((m): m is Extract<ServerMessage, { type: 'hello' }> => m.type === 'hello');
    const readies = () => sock!.with('READY=1').length;

    // a renamed (changed: restarted), b removed, c added.
    writeFileSync(cfgFile, head + cams(cam('a', 'Gate') + cam('c')));
    const before = readies();
    d.child.kill('SIGHUP');
    await waitFor(() => readies() > before, 10_000, 'READY=1 after the reload');
    const reloading = sock.messages.filter((m) => m.state.includes('RELOADING=1')).at(-1)!;
    expect(reloading.state).toMatch(/MONOTONIC_USEC=\d+/);
    expect(sock.with('READY=1').at(-1)!.state).toMatch(/STATUS=.*reloaded: cameras \+1 -1 ~1/);
    await waitFor(
      async () => {
        const h = await health();
        return (
          h.cameras
            .map((c) => c.id)
            .sort()
            .join() === 'a,c' && h.cameras.every((c) => c.state === 'streaming')
        );
      },
      20_000,
      'a and c streaming',
    );
    expect((await health()).cameras.find((c) => c.id === 'a')!.name).toBe('Gate');
    expect(
      hellos()
        .at(-1)!
        .cameras.map((c) => [c.id, c.name]),
    ).toEqual([
      ['a', 'Gate'],
      ['c', 'c'],
    ]); // viewers get the new list
    expect(d.child.exitCode).toBeNull(); // the same process: no restart

    // A bad file: nothing changes, and the status says what is wrong.
    writeFileSync(cfgFile, head + cams(`  - { id: z, urll: rtsp://x }\n`));
    const n = readies();
    d.child.kill('SIGHUP');
    await waitFor(() => readies() > n, 10_000, 'READY=1 after the failed reload');
    expect(sock.statuses().at(-1)).toMatch(/reload failed, the previous configuration stays: .*cameras\[0\]/);
    expect((await health()).cameras.map((c) => c.id).sort()).toEqual(['a', 'c']);

    // Outside cameras: named as needing a restart, cameras still applied; a, unchanged, goes on untouched.
    const aBefore = (await health()).cameras.find((c) => c.id === 'a') as unknown as {
      since: string;
      frames: { decoded: number };
    };
    writeFileSync(cfgFile, head + cams(cam('a', 'Gate')).replace('level: warn', 'level: error'));
    const m = readies();
    d.child.kill('SIGHUP');
    await waitFor(() => readies() > m, 10_000, 'READY=1 after the third reload');
    expect(sock.statuses().at(-1)).toMatch(/reloaded: cameras \+0 -1 ~0; restart to apply log/);
    const aAfter = (await health()).cameras as unknown as Array<{
      id: string;
      since: string;
      frames: { decoded: number };
    }>;
    expect(aAfter.map((c) => c.id)).toEqual(['a']);
    expect(aAfter[0]!.since).toBe(aBefore.since); // the same session: streaming since before the reload
    expect(aAfter[0]!.frames.decoded).toBeGreaterThanOrEqual(aBefore.frames.decoded);
    viewer.close();
  }, 90_000);
});
