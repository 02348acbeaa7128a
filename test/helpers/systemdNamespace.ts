import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { waitFor } from './daemon.js';

const CGROUP = 'vigil-test';
const HIERARCHIES = ['systemd', 'unified'];

/** Whether this machine can run one: root, systemd's binary, unshare and nsenter, cgroup v1 hierarchies. */
export function systemdNamespacePossible(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/lib/systemd/systemd')) return 'no /lib/systemd/systemd';
  for (const tool of ['unshare', 'nsenter']) if (spawnSync('which', [tool]).status !== 0) return `no ${tool}`;
  if (!existsSync('/sys/fs/cgroup/systemd')) return 'no name=systemd cgroup hierarchy';
  return null;
}

/**
 * A real systemd (PID 1 of its own PID and mount namespaces; the network is shared) that sees a
 * staged root laid over /etc, /opt/vigil and /var/lib, and only the staged units: a service can be
 * started, killed and watched as on a box, without touching this machine's own systemd state.
 */
export class SystemdNamespace {
  private constructor(
    private readonly child: ChildProcess,
    /** systemd's PID on this machine. */
    readonly pid: number,
  ) {}

  /** `stage`: has root/ (etc, opt/vigil, var/lib) and units/. */
  static async boot(stage: string): Promise<SystemdNamespace> {
    for (const name of ['test.target', 'sysinit.target', 'basic.target', 'shutdown.target']) {
      writeFileSync(join(stage, 'units', name), '[Unit]\nDefaultDependencies=no\n');
    }
    for (const h of HIERARCHIES) mkdirSync(`/sys/fs/cgroup/${h}/${CGROUP}`, { recursive: true });
    // The namespace's processes live in their own cgroups: systemd builds its tree there.
    const script = `for h in ${HIERARCHIES.join(' ')}; do echo $$ > /sys/fs/cgroup/$h/${CGROUP}/cgroup.procs; done; exec unshare --pid --fork --kill-child --mount --uts --mount-proc "$0" "$1"`;
    const child = spawn('sh', ['-c', script, join(import.meta.dirname, 'systemd_ns_init.sh'), stage], {
      stdio: 'ignore',
    });
    let pid = 0;
    await waitFor(
      () => {
        const procs = `/sys/fs/cgroup/systemd/${CGROUP}/init.scope/cgroup.procs`;
        pid = existsSync(procs) ? Number(readFileSync(procs, 'utf8').split('\n')[0]) : 0;
        return (
          pid > 0 &&
          spawnSync('nsenter', ['-t', String(pid), '-m', '-p', 'systemctl', 'is-system-running']).status !== null &&
          spawnSync('nsenter', ['-t', String(pid), '-m', '-p', 'systemctl', 'show', '-p', 'Version']).status === 0
        );
      },
      15_000,
      'systemd in its namespace',
    );
    return new SystemdNamespace(child, pid);
  }

  /** systemctl against this systemd; throws with its output when it fails. */
  systemctl(...args: string[]): string {
    return execFileSync('nsenter', ['-t', String(this.pid), '-m', '-p', 'systemctl', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Unit properties (systemctl show). */
  show(unit: string, ...props: string[]): Record<string, string> {
    const out = this.systemctl('show', unit, ...props.flatMap((p) => ['-p', p]));
    return Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  /** Kills every process of the namespace and removes its cgroups. */
  async stop(): Promise<void> {
    const exited = new Promise((r) => (this.child.exitCode !== null ? r(null) : this.child.once('exit', r)));
    try {
      process.kill(this.pid, 'SIGKILL'); // PID 1 of the namespace: the kernel kills the rest
    } catch {
      // already gone
    }
    this.child.kill('SIGKILL');
    await exited;
    for (const h of HIERARCHIES) removeTree(`/sys/fs/cgroup/${h}/${CGROUP}`);
  }
}

/** Stages a root for the namespace: a copy of /etc (the installer adds the vigil user there), empty /var/lib. */
export function stageRoot(stage: string): string {
  const root = join(stage, 'root');
  mkdirSync(join(root, 'var/lib'), { recursive: true });
  mkdirSync(join(stage, 'units'), { recursive: true });
  cpSync('/etc', join(root, 'etc'), {
    recursive: true,
    verbatimSymlinks: true,
    filter: (p) => !p.startsWith('/etc/systemd/system/'),
  });
  return root;
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      execFileSync('sleep', ['0.1']); // processes still leaving the cgroup
    }
  }
}
