import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

import { waitFor } from './daemon.js';

export interface Notification {
  /** Wall clock (ms) it arrived. */
  at: number;
  /** KEY=VALUE lines as sent. */
  state: string;
  /** With a probe URL, on READY=1: the HTTP status the daemon answered right then (0: none). */
  probe?: number;
}

/** A real notification socket (test/helpers/notify_socket.py: AF_UNIX datagrams), as systemd provides one. */
export class NotifySocket {
  readonly messages: Notification[] = [];

  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(dir: string, probeUrl?: string): Promise<NotifySocket> {
    const path = join(dir, 'notify.sock');
    const child = spawn(
      '/usr/bin/python3',
      [join(import.meta.dirname, 'notify_socket.py'), path, ...(probeUrl ? ['--probe', probeUrl] : [])],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const sock = new NotifySocket(path, child);
    let listening = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as Notification & { listening?: string };
      if (m.listening) listening = true;
      else sock.messages.push(m);
    });
    await waitFor(() => listening, 5000, 'the notify socket');
    return sock;
  }

  /** Messages with this KEY=VALUE line (e.g. 'READY=1'). */
  with(line: string): Notification[] {
    return this.messages.filter((m) => m.state.split('\n').includes(line));
  }

  /** The STATUS= values sent, in order. */
  statuses(): string[] {
    return this.messages.flatMap((m) =>
      m.state
        .split('\n')
        .filter((l) => l.startsWith('STATUS='))
        .map((l) => l.slice(7)),
    );
  }

  stop(): void {
    this.child.kill();
  }
}
