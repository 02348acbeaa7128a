import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type {
  CameraCounters,
  CameraEvent,
  CameraOptions,
  LetterboxResult,
  NativeCamera,
  Snapshot,
} from '../../src/native/types.js';
import { cameraSchema } from '../../src/pipeline/cameraConfig.js';
import { CameraSupervisor, type CameraState } from '../../src/pipeline/CameraSupervisor.js';
import { createLogger } from '../../src/util/logger.js';

/** Implements the typed native surface so the state machine can be driven step by step. */
class ScriptedCamera implements NativeCamera {
  session = 0;
  opens = 0;
  stops = 0;
  closed = false;
  running = false;
  constructor(
    readonly options: CameraOptions,
    readonly emit: (ev: CameraEvent) => void,
  ) {}
  open(): number {
    this.opens++;
    this.running = true;
    return ++this.session;
  }
  stop(): void {
    this.stops++;
    this.running = false;
  }
  close(): void {
    this.closed = true;
  }
  stats(): CameraCounters {
    return {
      sessions: this.session,
      packets: 0,
      bytes: 0,
      framesDecoded: 0,
      framesPublished: 0,
      decodeErrors: 0,
      corruptFrames: 0,
      droppedPoolFull: 0,
      droppedQueueFull: 0,
      loops: 0,
      videoFragments: 0,
      videoDropped: 0,
      videoEncoded: 0,
      poolAllocations: 0,
      gpuFrames: false,
      hostCopies: { letterbox: 0, snapshot: 0, annotate: 0, encode: 0 },
      decoder: '',
      encoder: '',
      annotateEncoder: '',
    };
  }
  snapshot(): Promise<Snapshot | null> {
    return Promise.resolve(null);
  }
  letterbox(): Promise<LetterboxResult | null> {
    return Promise.resolve(null);
  }
  annotate(): Promise<null> {
    return Promise.resolve(null);
  }
  frame(session = this.session) {
    this.emit({
      type: 'frame',
      session,
      seq: 1,
      pts: 0,
      ptsUs: 0,
      recvUs: 0,
      decodedUs: 0,
      width: 4,
      height: 4,
      keyframe: true,
    });
  }
  end(reason: 'eos' | 'error' | 'timeout' | 'stopped', message = '', session = this.session) {
    this.running = false;
    this.emit({ type: 'ended', session, reason, message });
  }
}

let cam: ScriptedCamera;
let sup: CameraSupervisor;
let states: CameraState[];

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
  states = [];
  const config = cameraSchema.parse({
    id: 'cam1',
    url: 'rtsp://user:pw@127.0.0.1/x',
    stall_seconds: 2,
    backoff: { initial_ms: 100, max_ms: 1000, multiplier: 2, jitter: 0 },
  });
  sup = new CameraSupervisor(config, {
    createCamera: (opts, onEvent) => (cam = new ScriptedCamera(opts, onEvent)),
    logger: createLogger('silent'),
    now: () => Date.now(),
    random: () => 0,
  });
  sup.on('state', (s: CameraState) => states.push(s));
});

afterEach(() => {
  sup.close();
  vi.useRealTimers();
});

function advance(ms: number) {
  vi.advanceTimersByTime(ms);
}

describe('CameraSupervisor', () => {
  it('passes the camera config to the native camera', () => {
    expect(cam.options).toMatchObject({
      url: 'rtsp://user:pw@127.0.0.1/x',
      transport: 'tcp',
      timeoutMs: 5000,
      decoder: 'auto',
    });
  });

  it('connects, streams on the first frame, and reconnects with growing backoff', () => {
    sup.start();
    expect(sup.state).toBe('connecting');
    cam.end('error', 'cannot open input: Connection refused');
    expect(sup.state).toBe('backoff');
    expect(sup.health().retryInMs).toBe(100);
    expect(sup.lastError?.message).toMatch(/Connection refused/);
    advance(100);
    expect(sup.state).toBe('connecting');
    expect(cam.opens).toBe(2);
    cam.end('timeout', 'no data');
    expect(sup.health().retryInMs).toBe(200);
    advance(200);
    cam.end('error', 'refused');
    expect(sup.health().retryInMs).toBe(400);
    advance(400);
    cam.frame();
    expect(sup.state).toBe('streaming');
    // A healthy stream resets the backoff.
    cam.end('eos');
    expect(sup.health().retryInMs).toBe(100);
    expect(states).toEqual([
      'connecting',
      'backoff',
      'connecting',
      'backoff',
      'connecting',
      'backoff',
      'connecting',
      'streaming',
      'backoff',
    ]);
  });

  it('declares a stall when frames stop, stops the session and reconnects', () => {
    sup.start();
    cam.frame();
    advance(1000);
    cam.frame();
    advance(1750);
    expect(sup.state).toBe('streaming');
    advance(250); // 2 s without a frame
    expect(states.slice(-2)).toEqual(['stalled', 'backoff']);
    expect(cam.stops).toBe(1);
    expect(sup.lastError?.message).toMatch(/no frame for 2\.\d s/);
    cam.end('stopped'); // the stopped session's own end event changes nothing
    expect(sup.state).toBe('backoff');
    advance(100);
    expect(sup.state).toBe('connecting');
    cam.frame();
    expect(sup.state).toBe('streaming');
  });

  it('ignores late events from an old session', () => {
    sup.start();
    cam.end('error', 'x');
    advance(100);
    expect(cam.session).toBe(2);
    cam.frame(1);
    cam.end('eos', '', 1);
    expect(sup.state).toBe('connecting');
  });

  it('redacts credentials and closes idempotently', () => {
    sup.start();
    cam.end('error', 'cannot open rtsp://user:pw@127.0.0.1/x');
    expect(sup.health().url).toBe('rtsp://user:***@127.0.0.1/x');
    expect(sup.lastError?.message).toBe('cannot open rtsp://user:***@127.0.0.1/x');
    sup.close();
    sup.close();
    expect(cam.closed).toBe(true);
    expect(sup.state).toBe('stopped');
    advance(5000);
    expect(cam.opens).toBe(1); // no reconnect after close
  });
});
