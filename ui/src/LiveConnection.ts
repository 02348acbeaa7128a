import { decodeBinary } from '../../src/protocol/binary.js';
import type { CameraInfo, ClientMessageInput, ServerMessage } from '../../src/protocol/control.js';

export interface LiveHandlers {
  hello(user: { name: string; role: string }, cameras: CameraInfo[]): void;
  binary(m: ReturnType<typeof decodeBinary>): void;
  message(m: ServerMessage): void;
  state(online: boolean): void;
  /** The server refused us or ended the socket (logged out, session expired, user deleted…): why, in words. */
  unauthorized(reason?: string): void;
}

/** The live WebSocket, reconnecting with backoff (0.5 s doubling to 5 s) when it drops. */
export class LiveConnection {
  private ws: WebSocket | null = null;
  private retryMs = 500;
  private closed = false;

  constructor(private readonly h: LiveHandlers) {
    this.connect();
  }

  send(msg: ClientMessageInput): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }

  private connect(): void {
    const ws = new WebSocket(
      `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/live`,
      'vigil.v1',
    );
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.retryMs = 500;
      this.h.state(true);
      this.send({ type: 'hello', version: 1 });
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        const m = JSON.parse(ev.data) as ServerMessage;
        if (m.type === 'hello') this.h.hello(m.user, m.cameras);
        else this.h.message(m);
      } else {
        this.h.binary(decodeBinary(ev.data as ArrayBuffer));
      }
    };
    ws.onclose = async (ev) => {
      this.h.state(false);
      if (this.closed) return;
      // The server ended our session (LIVE_CLOSE in src/protocol/control.ts): no point retrying.
      if (ev.code > 4000 && ev.code < 4100) return this.h.unauthorized(ev.reason);
      // A refused upgrade looks like any other close: ask the API whether we are still logged in.
      const me = await fetch('/api/me').catch(() => null);
      if (me?.status === 401) return this.h.unauthorized();
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(5000, this.retryMs * 2);
    };
  }
}
