import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../src/native/addon.js';
import { waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { NotifySocket } from '../helpers/notifySocket.js';
import { freePort } from '../helpers/rtspServer.js';
import { tempDir } from '../helpers/tempDir.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');
const vigil = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
/** systemd-analyze's exit status and everything it said (its findings go to stderr). */
const analyze = (...args: string[]) => {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
}, 300_000);

describe('the systemd unit', () => {
  it('passes systemd-analyze verify, and its security exposure is at most 2.0', () => {
    const unit = join(packageRoot(), 'systemd/vigil.service');
    expect(analyze('verify', unit)).toEqual({ code: 0, out: '' });
    const sec = analyze('security', '--offline=true', unit);
    const exposure = Number(/Overall exposure level for vigil\.service: ([\d.]+)/.exec(sec.out)?.[1]);
    console.log(`systemd-analyze security vigil.service: exposure ${exposure}`);
    expect(exposure).toBeLessThanOrEqual(2.0);
    // verify does catch a broken unit (so its silence above means something).
    const dir = tempDir('vigil-unit-');
    writeFileSync(join(dir, 'vigil.service'), readFileSync(unit, 'utf8').replace('Type=notify', 'Type=notifyy'));
    expect(analyze('verify', join(dir, 'vigil.service')).out).toMatch(
      /Failed to parse service type, ignoring: notifyy/,
    );
  });
});

// It sets the config's group (chown): root only.
describe.skipIf(process.getuid?.() !== 0)('vigil install / uninstall (into a tree: packaging, images, tests)', () => {
  it('installs app, unit, user and config; the installed app runs as the unit starts it; upgrades keep config and data; uninstall keeps them unless --purge', async () => {
    const root = tempDir('vigil-root-');
    const out = vigil('install', '--root', root);
    expect(out).toMatch(/wrote an example .*etc\/vigil\/vigil\.yaml/);
    const unit = readFileSync(join(root, 'etc/systemd/system/vigil.service'), 'utf8');
    expect(unit).toContain(
      `ExecStart=${process.execPath} /opt/vigil/dist/src/cli/main.js run --config \${CONFIGURATION_DIRECTORY}/vigil.yaml`,
    );
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8');
    const group = readFileSync(join(root, 'etc/group'), 'utf8');
    expect(passwd).toMatch(/^vigil:x:\d+:\d+:Vigil video analytics:\/var\/lib\/vigil:\/usr\/sbin\/nologin$/m);
    expect(group).toMatch(/^video:x:\d+:vigil$/m);
    expect(group).toMatch(/^render:x:\d+:vigil$/m);
    const gid = Number(/^vigil:x:(\d+):/m.exec(group)![1]);
    const cfg = join(root, 'etc/vigil/vigil.yaml');
    expect(statSync(cfg).mode & 0o777).toBe(0o640);
    expect(statSync(cfg).gid).toBe(gid); // readable by the service's group, not by others (camera passwords)
    expect(statSync(join(root, 'etc/vigil')).mode & 0o777).toBe(0o750);
    expect(vigil('check-config', cfg)).toMatch(/OK/);
    expect(existsSync(join(root, 'opt/vigil/node_modules/@tensorflow'))).toBe(false); // production dependencies only

    // The installed copy runs the way the unit starts it (its ExecStart, systemd's directory
    // variables; not its sandbox: no systemd here), and tells the notify socket it is ready.
    const port = await freePort();
    writeFileSync(
      cfg,
      `server: { host: 127.0.0.1, port: ${port} }\nauth: { admin_password: install-test-pw }\nlog: { level: warn }\ndetect: { enabled: false }\ncameras:\n  - { id: yard, url: ${h264}, loop: true }\n`,
    );
    const sock = await NotifySocket.start(root);
    const state = join(root, 'var/lib/vigil');
    const child = spawn(process.execPath, [join(root, 'opt/vigil/dist/src/cli/main.js'), 'run', '--config', cfg], {
      stdio: 'ignore',
      env: {
        ...process.env,
        STATE_DIRECTORY: state,
        CONFIGURATION_DIRECTORY: join(root, 'etc/vigil'),
        NOTIFY_SOCKET: sock.path,
      },
    });
    try {
      await waitFor(() => sock.with('READY=1').length > 0, 30_000, 'READY=1 from the installed copy');
      await waitFor(
        () => sock.statuses().some((s) => s.includes('1/1 cameras streaming')),
        15_000,
        'the camera streaming',
      );
      expect(existsSync(join(state, 'vigil.db'))).toBe(true); // state in $STATE_DIRECTORY
      const exit = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(sock.with('STOPPING=1')).toHaveLength(1);
    } finally {
      child.kill('SIGKILL');
      sock.stop();
    }

    // Upgrade: the application is replaced whole; configuration and data stay.
    appendFileSync(cfg, '# mine\n');
    writeFileSync(join(root, 'opt/vigil/stale.txt'), 'from the old version');
    expect(vigil('install', '--root', root)).toMatch(/kept .*etc\/vigil\/vigil\.yaml/);
    expect(readFileSync(cfg, 'utf8')).toMatch(/# mine\n$/);
    expect(existsSync(join(state, 'vigil.db'))).toBe(true);
    expect(existsSync(join(root, 'opt/vigil/stale.txt'))).toBe(false);
    expect(existsSync(join(root, 'opt/vigil/dist/src/cli/main.js'))).toBe(true);

    // A prefix that is not a Vigil install is refused, nothing removed.
    expect(() =>
      execFileSync(process.execPath, [CLI, 'uninstall', '--root', root, '--prefix', '/etc'], { stdio: 'pipe' }),
    ).toThrow(/must be an absolute directory of its own|is not a Vigil install/);
    expect(() =>
      execFileSync(process.execPath, [CLI, 'uninstall', '--root', root, '--prefix', '/usr/lib'], { stdio: 'pipe' }),
    ).toThrow(/is not a Vigil install \(no \.vigil-app\): nothing removed/);
    expect(existsSync(join(root, 'usr/lib/sysusers.d/vigil.conf'))).toBe(true);
    vigil('uninstall', '--root', root);
    expect(existsSync(join(root, 'etc/systemd/system/vigil.service'))).toBe(false);
    expect(existsSync(join(root, 'opt/vigil'))).toBe(false);
    expect(existsSync(cfg)).toBe(true);
    expect(existsSync(join(state, 'vigil.db'))).toBe(true);
    vigil('uninstall', '--root', root, '--purge');
    expect(existsSync(join(root, 'etc/vigil'))).toBe(false);
    expect(existsSync(state)).toBe(false);
  }, 120_000);
});
