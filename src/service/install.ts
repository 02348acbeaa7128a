import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { arch } from 'node:os';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';

import { packageRoot } from '../native/addon.js';

export interface InstallOptions {
  /** Install into this tree instead of the running system ('/'): packaging, images, tests. */
  root: string;
  /** Where the application goes (replaced on upgrade). */
  prefix: string;
  /** The Node binary the service runs. */
  node: string;
  /** Enable and (re)start the service when systemd runs here. */
  start: boolean;
}

export interface InstallReport {
  app: string;
  unit: string;
  config: { path: string; created: boolean };
  user: string;
  systemd: string;
}

const UNIT = 'etc/systemd/system/vigil.service';
const SYSUSERS = 'usr/lib/sysusers.d/vigil.conf';
const CONFIG = 'etc/vigil/vigil.yaml';
const STATE = 'var/lib/vigil';

const under = (root: string, p: string) => join(root, p.replace(/^\/+/, ''));

/** The file that marks a directory as an installed Vigil (uninstall deletes nothing without it). */
const APP_MARKER = '.vigil-app';

/** An install prefix: absolute, normalised, not a system directory of its own. */
function checkPrefix(prefix: string): string {
  const p = normalize(prefix).replace(/\/+$/, '');
  if (!isAbsolute(prefix) || p === '' || p.split('/').filter(Boolean).length < 2 || /\s/.test(p)) {
    throw new Error(
      `--prefix must be an absolute directory of its own, at least two levels deep, without spaces (like /opt/vigil), not '${prefix}'`,
    );
  }
  return p;
}

/** A group's id from `root`'s /etc/group. */
function groupId(root: string, name: string): number {
  const line = readFileSync(under(root, 'etc/group'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const gid = Number(line?.split(':')[2]);
  if (!line || !Number.isInteger(gid)) throw new Error(`no group ${name} in ${under(root, 'etc/group')}`);
  return gid;
}

/** Whether systemd manages this machine (what `systemctl` can talk to). */
function systemdRunning(root: string): boolean {
  return root === '/' && existsSync('/run/systemd/system');
}

/**
 * What the installed application needs from this checkout: the built daemon and UI, the native
 * addon, the models, and the production dependencies only (npm's own list), without other
 * platforms' ONNX Runtime binaries.
 */
function appFiles(src: string): string[] {
  // npm next to this Node (sudo's PATH often lacks it), else on the PATH.
  const besideNode = join(dirname(process.execPath), 'npm');
  const r = spawnSync(existsSync(besideNode) ? besideNode : 'npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: src,
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`cannot run npm to list the production dependencies: ${r.error.message}`);
  // npm ls exits 1 on an extraneous package but still lists the tree.
  const deps = r.stdout
    .split('\n')
    .filter((p) => p.startsWith(join(src, 'node_modules') + sep))
    .sort();
  if (deps.length === 0)
    throw new Error(`npm ls listed no dependencies (exit ${r.status}): ${r.stderr.trim().slice(0, 300)}`);
  const top: string[] = [];
  for (const d of deps) if (!top.some((t) => d.startsWith(t + sep))) top.push(d); // nested ones come with their parent
  return [
    'package.json',
    'dist/src',
    'dist/ui',
    'build/native/Release/vigil.node',
    '.cache/models',
    ...top.map((d) => relative(src, d)),
  ];
}

function copyApp(src: string, dest: string): void {
  const linuxBin = new RegExp(
    `onnxruntime-node/bin/napi-v\\d+/(?!linux(/|$))|onnxruntime-node/bin/napi-v\\d+/linux/(?!${arch()}(/|$))`,
  );
  for (const rel of appFiles(src)) {
    const from = join(src, rel);
    if (!existsSync(from))
      throw new Error(
        `${from} is missing: run \`npm run setup\` (it builds the daemon and fetches the model) before installing`,
      );
    cpSync(from, join(dest, rel), { recursive: true, filter: (p) => !linuxBin.test(p.split(sep).join('/')) });
  }
}

/**
 * Installs Vigil as a systemd service: the application under `prefix` (an upgrade replaces it
 * whole: staged beside it, swapped in by two renames, the old one put back if the second fails), the unit, the `vigil` user (systemd-sysusers), an example
 * /etc/vigil/vigil.yaml unless one exists (upgrades keep it), and /var/lib/vigil is left to the
 * unit's StateDirectory (kept). With systemd running: daemon-reload, enable, (re)start.
 */
export function install(opts: InstallOptions, say: (line: string) => void = () => {}): InstallReport {
  const src = packageRoot();
  const prefix = checkPrefix(opts.prefix);
  if (/^\/(home|root)(\/|$)/.test(opts.node))
    throw new Error(
      `the service cannot run ${opts.node}: ProtectHome hides /home and /root from it; give --node a Node binary elsewhere (e.g. /usr/bin/node)`,
    );
  const app = under(opts.root, prefix);
  if (existsSync(app) && !existsSync(join(app, APP_MARKER)))
    throw new Error(`${app} exists and is not a Vigil install: choose another --prefix or remove it`);
  // What can fail comes before the swap: the account, then the copy.
  const sysusers = under(opts.root, SYSUSERS);
  mkdirSync(dirname(sysusers), { recursive: true });
  mkdirSync(under(opts.root, 'etc'), { recursive: true }); // a new tree: sysusers writes its passwd and group
  writeFileSync(sysusers, readFileSync(join(src, 'systemd/vigil.sysusers')), { mode: 0o644 });
  execFileSync('systemd-sysusers', [...(opts.root === '/' ? [] : [`--root=${opts.root}`]), sysusers], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  say('the vigil user is in place (systemd-sysusers), in the video and render groups');
  const staging = `${app}.new`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(app), { recursive: true });
  say(`copying the application to ${app}`);
  copyApp(src, staging);
  writeFileSync(join(staging, APP_MARKER), 'Vigil, installed by `vigil install`\n');
  // The swap: the old version moves aside, the new one takes its place; a failure puts the old back.
  if (existsSync(app)) {
    rmSync(`${app}.old`, { recursive: true, force: true });
    renameSync(app, `${app}.old`);
  }
  try {
    renameSync(staging, app);
  } catch (err) {
    if (existsSync(`${app}.old`)) renameSync(`${app}.old`, app);
    throw err;
  }
  rmSync(`${app}.old`, { recursive: true, force: true });

  const unit = readFileSync(join(src, 'systemd/vigil.service'), 'utf8').replace(
    'ExecStart=/usr/bin/node /opt/vigil/',
    `ExecStart=${opts.node} ${prefix}/`,
  );
  const unitPath = under(opts.root, UNIT);
  mkdirSync(dirname(unitPath), { recursive: true });
  writeFileSync(unitPath, unit, { mode: 0o644 });
  say(`wrote ${unitPath}`);

  const config = under(opts.root, CONFIG);
  const created = !existsSync(config);
  if (created) {
    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(config, readFileSync(join(src, 'systemd/vigil.example.yaml')), { mode: 0o640 });
    say(`wrote an example ${config}: add cameras, then restart the service`);
  } else {
    say(`kept ${config}`);
  }
  // /etc/vigil is root's (ConfigurationDirectory is not chowned); the service reads it as group vigil.
  const gid = groupId(opts.root, 'vigil');
  chownSync(dirname(config), 0, gid);
  chmodSync(dirname(config), 0o750);
  chownSync(config, 0, gid);
  chmodSync(config, 0o640);

  let systemd: string;
  if (systemdRunning(opts.root)) {
    execFileSync('systemctl', ['daemon-reload']);
    if (opts.start) {
      execFileSync('systemctl', ['enable', 'vigil.service']);
      execFileSync('systemctl', ['restart', 'vigil.service']);
      systemd = 'enabled and (re)started';
    } else {
      systemd = 'installed, not started (--no-start)';
    }
  } else {
    systemd =
      opts.root === '/'
        ? 'systemd is not running here: `systemctl enable --now vigil` once it is'
        : `installed into ${opts.root}: enable it there`;
  }
  say(`service: ${systemd}`);
  return { app, unit: unitPath, config: { path: config, created }, user: 'vigil', systemd };
}

/**
 * Removes the service and the application; the configuration and the state (database, users,
 * snapshots and clips) stay unless `purge`.
 */
export function uninstall(
  opts: Pick<InstallOptions, 'root' | 'prefix'> & { purge: boolean },
  say: (line: string) => void = () => {},
): void {
  const app = under(opts.root, checkPrefix(opts.prefix));
  if (existsSync(app) && !existsSync(join(app, APP_MARKER)))
    throw new Error(`${app} is not a Vigil install (no ${APP_MARKER}): nothing removed`);
  if (systemdRunning(opts.root)) {
    execFileSync('systemctl', ['disable', '--now', 'vigil.service'], { stdio: 'ignore' });
  }
  for (const p of [UNIT, SYSUSERS]) rmSync(under(opts.root, p), { force: true });
  if (systemdRunning(opts.root)) execFileSync('systemctl', ['daemon-reload']);
  rmSync(app, { recursive: true, force: true });
  say(`removed the service and ${app}`);
  if (opts.purge) {
    rmSync(under(opts.root, 'etc/vigil'), { recursive: true, force: true });
    rmSync(under(opts.root, STATE), { recursive: true, force: true });
    say('purged /etc/vigil and /var/lib/vigil (the vigil account stays: files elsewhere may be its)');
  } else {
    say('kept /etc/vigil and /var/lib/vigil (--purge removes them)');
  }
}
