import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

import type { CameraState, CameraSupervisor } from '../pipeline/CameraSupervisor.js';

const STATES: CameraState[] = ['connecting', 'streaming', 'stalled', 'backoff', 'stopped'];

/**
 * Prometheus metrics. Values are read from the supervisors when scraped (no per-frame work);
 * native counters are cumulative since the camera was created, so they map onto counters.
 */
export function createMetrics(cameras: () => Iterable<CameraSupervisor>): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: 'vigil_' });

  const totals: Array<[string, string, (c: ReturnType<CameraSupervisor['counters']>) => number]> = [
    ['vigil_camera_packets_total', 'Video packets received', (c) => c.packets],
    ['vigil_camera_bytes_total', 'Video bytes received', (c) => c.bytes],
    ['vigil_camera_frames_decoded_total', 'Frames decoded', (c) => c.framesDecoded],
    ['vigil_camera_frames_dropped_total', 'Frames dropped (event queue or frame pool full)', (c) => c.droppedQueueFull + c.droppedPoolFull],
    ['vigil_camera_decode_errors_total', 'Packets the decoder rejected (corrupt input)', (c) => c.decodeErrors],
    ['vigil_camera_sessions_total', 'Sessions started (first connect plus reconnects)', (c) => c.sessions],
  ];
  for (const [name, help, read] of totals) {
    new Counter({
      name,
      help,
      labelNames: ['camera'],
      registers: [register],
      collect() {
        this.reset();
        for (const cam of cameras()) this.inc({ camera: cam.id }, read(cam.counters()));
      },
    });
  }

  new Gauge({
    name: 'vigil_camera_state',
    help: 'Camera state (1 for the current state)',
    labelNames: ['camera', 'state'],
    registers: [register],
    collect() {
      this.reset();
      for (const cam of cameras()) for (const s of STATES) this.set({ camera: cam.id, state: s }, cam.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vigil_camera_fps',
    help: 'Frames per second over the last 5 s',
    labelNames: ['camera', 'kind'],
    registers: [register],
    collect() {
      this.reset();
      for (const cam of cameras()) {
        const h = cam.health();
        this.set({ camera: cam.id, kind: 'received' }, h.fps.received);
        this.set({ camera: cam.id, kind: 'decoded' }, h.fps.decoded);
      }
    },
  });
  return register;
}
