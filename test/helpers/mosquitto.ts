import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

import { freePort } from './rtspServer.js';
import { tempDir } from './tempDir.js';

/**
 * A real mosquitto broker (Debian's) on 127.0.0.1, anonymous; stop() and launch() again on the
 * same port. With `persistent`, its sessions (a subscriber's queued messages) survive a restart.
 */
export class Mosquitto {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly conf: string,
  ) {}

  static async start(opts: { persistent?: boolean } = {}): Promise<Mosquitto> {
    const port = await freePort();
    const dir = tempDir('vigil-mqtt-');
    const conf = join(dir, 'mosquitto.conf');
    const persistence = opts.persistent ? `persistence true\npersistence_location ${dir}/\n` : 'persistence false\n';
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n${persistence}`);
    const m = new Mosquitto(port, conf);
    await m.launch();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async launch(): Promise<void> {
    let stderr = '';
    const child = spawn('/usr/sbin/mosquitto', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    this.child = child;
    const t0 = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${stderr}`);
      const up = await new Promise<boolean>((resolve) => {
        const s = connect(this.port, '127.0.0.1', () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (up) return;
      if (Date.now() - t0 > 10_000) throw new Error(`mosquitto did not listen in 10 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL: the broker vanishes; `SIGTERM`: it shuts down, saving its sessions where persistent. */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = null;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }
}
