import WebSocket from 'ws';

import { decodeBinary, type BinaryMessage } from '../../src/protocol/binary.js';
import type { ServerMessage } from '../../src/protocol/control.js';
import { waitFor } from './daemon.js';

/** A real WebSocket client of /api/live that records what it receives. */
export class Viewer {
  readonly json: ServerMessage[] = [];
  readonly binary: Array<BinaryMessage & { at: number }> = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  closed = false;

  constructor(url: string, token: string | null, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(`${url.replace('http', 'ws')}/api/live`, 'vigil.v1', {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) this.binary.push({ ...decodeBinary(data), at: performance.now() });
      else this.json.push(JSON.parse(data.toString()) as ServerMessage);
    });
    this.ws.on('close', () => (this.closed = true));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
  }

  /** Opens and says hello; resolves with the server's hello. */
  async hello() {
    await this.opened;
    this.send({ type: 'hello', version: 1 });
    return this.next('hello');
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  async next<T extends ServerMessage['type']>(
    type: T,
    from = 0,
    timeoutMs = 5000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    await waitFor(() => this.json.slice(from).some((m) => m.type === type), timeoutMs, `a '${type}' message`);
    return this.json.slice(from).find((m) => m.type === type) as Extract<ServerMessage, { type: T }>;
  }

  video(camera: number) {
    return this.binary.filter((m) => m.camera === camera && (m.kind === 'init' || m.kind === 'fragment'));
  }

  close(): void {
    this.ws.terminate();
  }
}
