import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { packageRoot } from '../../src/native/addon.js';

// From the source tree, also when this helper runs compiled from dist/ (the soak bench).
const SCRIPT = join(packageRoot(), 'test', 'helpers', 'rtsp_server.py');
// Debian's python has gi; the python3 first on PATH may be another one.
const PYTHON = '/usr/bin/python3';

export interface Mount {
  file: string;
  codec: 'h264' | 'hevc';
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * gst-rtsp-server in a child process on 127.0.0.1, serving files in real time. Faults are
 * real: kill() ends the process, pause()/resume() freeze it with SIGSTOP/SIGCONT (a stall:
 * connections stay open, nothing arrives), restart() starts it again on the same port.
 */
export class RtspServer {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly mounts: Record<string, Mount>,
    private readonly auth?: string,
  ) {}

  static async start(mounts: Record<string, Mount>, opts: { port?: number; auth?: string } = {}): Promise<RtspServer> {
    const server = new RtspServer(opts.port ?? (await freePort()), mounts, opts.auth);
    await server.launch();
    return server;
  }

  /** rtsp://127.0.0.1:PORT/mount, with credentials when given. */
  url(mount: string, credentials?: string): string {
    return `rtsp://${credentials ? `${credentials}@` : ''}127.0.0.1:${this.port}/${mount}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  private async launch(): Promise<void> {
    const args = [SCRIPT, '--port', String(this.port)];
    if (this.auth) args.push('--auth', this.auth);
    for (const [mount, m] of Object.entries(this.mounts)) args.push(`/${mount}=${m.file}:${m.codec}`);
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`RTSP server did not start in 15 s: ${stderr}`)), 15000);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY')) {
          clearTimeout(timer);
          resolve();
        } else if (out.includes('ERROR')) {
          clearTimeout(timer);
          reject(new Error(`RTSP server failed: ${out}${stderr}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`RTSP server exited with ${code}: ${stderr}`));
      });
    });
    child.removeAllListeners('exit');
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
  }

  /** SIGKILL: the server vanishes mid-stream, as a crashed camera does. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }

  /** The server's return after kill(): same port, same mounts. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('RTSP server is still running');
    await this.launch();
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
