import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fp32OnnxPath } from '../../src/model/importModel.js';
import { packageRoot } from '../../src/native/addon.js';
import { login, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { freePort } from '../helpers/rtspServer.js';
import { stageRoot, SystemdNamespace, systemdNamespacePossible } from '../helpers/systemdNamespace.js';
import { tempDir } from '../helpers/tempDir.js';

const why = systemdNamespacePossible();
let sd: SystemdNamespace | null = null;

afterAll(async () => {
  await sd?.stop();
});

/**
 * The installed unit under a real systemd (252, PID 1 of its own namespaces): its sandbox, its
 * user, Type=notify, the watchdog and Restart= as systemd applies them. The network is shared, so
 * the test talks to the daemon's HTTP port directly.
 */
describe.skipIf(why !== null)(`vigil.service under a real systemd${why ? ` (skipped: ${why})` : ''}`, () => {
  let h264 = '';
  let root = '';
  let stage = '';
  let port = 0;
  beforeAll(async () => {
    h264 = await ensureClip('h264');
    fp32OnnxPath();
  }, 300_000);

  const config = (extra = '', cams = `  - { id: yard, url: ${h264}, loop: true }\n`) =>
    writeFileSync(
      join(root, 'etc/vigil/vigil.yaml'),
      `server: { host: 127.0.0.1, port: ${port} }\nauth: { admin_password: systemd-test-pw }\nlog: { level: warn }\n${extra}cameras:\n${cams}`,
    );
  // One login, reused while it works: polling with a fresh login each time runs into the
  // login rate limit when the camera is slow to stream. A restarted daemon has forgotten the
  // session (401): log in again, once per restart.
  let token = '';
  const health = async (): Promise<{ cameras: Array<{ id: string; state: string }> }> => {
    for (let attempt = 0; ; attempt++) {
      if (!token) token = await login(`http://127.0.0.1:${port}`, 'admin', 'systemd-test-pw');
      const res = await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status === 401 && attempt === 0) {
        token = '';
        continue;
      }
      if (!res.ok) throw new Error(`/api/health answered ${res.status}`);
      return (await res.json()) as { cameras: Array<{ id: string; state: string }> };
    }
  };

  it('starts (active only after READY=1), is restarted when killed, reloads, restarts a stuck pipeline through the watchdog, stops cleanly', async () => {
    stage = tempDir('vigil-systemd-');
    root = stageRoot(stage);
    execFileSync(process.execPath, [
      join(packageRoot(), 'dist/src/cli/main.js'),
      'install',
      '--root',
      root,
      '--no-start',
    ]);
    cpSync(join(root, 'etc/systemd/system/vigil.service'), join(stage, 'units/vigil.service'));
    // The clip where the service can read it: a checkout under /tmp is hidden by its PrivateTmp.
    cpSync(h264, join(root, 'opt/vigil/test-clip.mkv'));
    h264 = '/opt/vigil/test-clip.mkv';
    // For the test only: a short watchdog, no core dumps, room for the restarts below.
    mkdirSync(join(stage, 'units/vigil.service.d'));
    writeFileSync(
      join(stage, 'units/vigil.service.d/test.conf'),
      '[Unit]\nStartLimitBurst=20\n[Service]\nWatchdogSec=3\nRestartSec=1\nLimitCORE=0\n',
    );
    port = await freePort();
    config();
    sd = await SystemdNamespace.boot(stage);
    const s = sd;

    // Start: systemctl returns once the job is done, which for Type=notify means READY=1.
    const t0 = Date.now();
    s.systemctl('start', 'vigil.service');
    const started = s.show('vigil.service', 'ActiveState', 'SubState', 'MainPID', 'StatusText', 'NRestarts', 'User');
    console.log(`systemd: vigil.service active after ${Date.now() - t0} ms: ${started.StatusText}`);
    expect(started).toMatchObject({ ActiveState: 'active', SubState: 'running', NRestarts: '0', User: 'vigil' });
    expect(started.StatusText).toMatch(/^http:\/\/127\.0\.0\.1:\d+: [01]\/1 cameras streaming; detector \w+ \w+/);
    await waitFor(
      async () => (await health()).cameras[0]?.state === 'streaming',
      15_000,
      'the camera streaming under systemd',
    );

    // Killed: systemd starts it again (Restart=on-failure).
    const pid1 = started.MainPID!;
    s.systemctl('kill', '-s', 'KILL', '--kill-whom=main', 'vigil.service');
    await waitFor(
      () => {
        const p = s.show('vigil.service', 'ActiveState', 'MainPID', 'NRestarts');
        return p.NRestarts === '1' && p.ActiveState === 'active' && p.MainPID !== pid1 && p.MainPID !== '0';
      },
      30_000,
      'systemd restarting the killed daemon',
    );
    await waitFor(
      async () => (await health().catch(() => ({ cameras: [] }))).cameras[0]?.state === 'streaming',
      15_000,
      'streaming again',
    );

    // systemctl reload: a camera added without a restart.
    config('', `  - { id: yard, url: ${h264}, loop: true }\n  - { id: gate, url: ${h264}, loop: true }\n`);
    const pid2 = s.show('vigil.service', 'MainPID').MainPID;
    s.systemctl('reload', 'vigil.service');
    await waitFor(
      () => /reloaded: cameras \+1 -0 ~0/.test(s.show('vigil.service', 'StatusText').StatusText!),
      10_000,
      'the reload reported',
    );
    await waitFor(
      async () => (await health()).cameras.filter((c) => c.state === 'streaming').length === 2,
      15_000,
      'both cameras streaming',
    );
    expect(s.show('vigil.service', 'MainPID', 'NRestarts')).toEqual({ MainPID: pid2, NRestarts: '1' });

    // A stuck pipeline (every inference takes 60 s): the watchdog is no longer fed, systemd kills and restarts it.
    config(
      'service: { watchdog_stuck_seconds: 1 }\n',
      `  - { id: yard, url: ${h264}, loop: true, testing: { infer_delay_ms: 60000 } }\n`,
    );
    s.systemctl('restart', 'vigil.service');
    const restarts = Number(s.show('vigil.service', 'NRestarts').NRestarts);
    let sawStuck = '';
    await waitFor(
      () => {
        const p = s.show('vigil.service', 'NRestarts', 'StatusText');
        if (p.StatusText?.startsWith('stuck: ')) sawStuck = p.StatusText;
        return Number(p.NRestarts) > restarts;
      },
      30_000,
      'a watchdog restart',
    );
    expect(sawStuck).toMatch(/^stuck: inference has been running one batch for \d+\.\d s$/);

    // Stop: SIGTERM, exit 0 well within TimeoutStopSec.
    config();
    s.systemctl('restart', 'vigil.service');
    const t1 = Date.now();
    s.systemctl('stop', 'vigil.service');
    const stopped = s.show('vigil.service', 'ActiveState', 'Result', 'ExecMainStatus');
    console.log(`systemd: stopped in ${Date.now() - t1} ms (${JSON.stringify(stopped)})`);
    expect(stopped).toEqual({ ActiveState: 'inactive', Result: 'success', ExecMainStatus: '0' });
  }, 180_000);
});
