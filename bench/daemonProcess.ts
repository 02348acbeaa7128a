// The daemon as a child process (`vigil run`), logged in as admin, for benches that measure it
// from outside: RSS from /proc, the API with a bearer token.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../src/native/addon.js';
import { freePort } from '../test/helpers/rtspServer.js';

const ADMIN_PASSWORD = 'vigil-bench-admin';

export interface DaemonProcess {
  child: ChildProcess;
  /** The data dir (and config's folder). */
  dir: string;
  url: string;
  token: string;
  api<T>(path: string): Promise<T>;
  rssMb(): number;
  /** SIGTERM and wait for the exit; nothing when the process has already exited. */
  stop(): Promise<void>;
}

/**
 * Starts `vigil run` with `body` (YAML after server/data_dir/auth) and logs in; `dir`: reuse a
 * data dir; `env`: added to the daemon's environment; `port`: the HTTP port (default: a free one).
 */
export async function startDaemonProcess(
  body: string,
  name: string,
  dir = mkdtempSync(join(tmpdir(), `vigil-${name}-`)),
  opts: { env?: NodeJS.ProcessEnv; port?: number } = {},
): Promise<DaemonProcess> {
  const port = opts.port ?? (await freePort());
  const cfg = join(dir, `${name}.yaml`);
  writeFileSync(cfg, `server:\n  port: ${port}\ndata_dir: ${dir}\nauth:\n  admin_password: ${ADMIN_PASSWORD}\n${body}`);
  const child = spawn(process.execPath, [join(packageRoot(), 'dist/src/cli/main.js'), 'run', '--config', cfg], {
    stdio: 'ignore',
    env: { ...process.env, ...opts.env },
  });
  const url = `http://127.0.0.1:${port}`;
  let token = '';
  for (let i = 0; !token; i++) {
    if (i > 100) throw new Error('the daemon did not answer within 20 s');
    await new Promise((r) => setTimeout(r, 200));
    const res = await fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: ADMIN_PASSWORD }),
    }).catch(() => null);
    if (res?.ok) token = ((await res.json()) as { token: string }).token;
  }
  return {
    child,
    dir,
    url,
    token,
    async api<T>(path: string) {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`${path} answered ${res.status}`);
      return (await res.json()) as T;
    },
    rssMb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return Math.round((Number(m?.[1]) / 1024) * 10) / 10;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return; // already gone (killed, or stopped before)
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
