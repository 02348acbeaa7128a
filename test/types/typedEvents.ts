import type { Daemon } from '../../src/daemon/Daemon.js';
import type { DetectionService } from '../../src/detect/DetectionService.js';
import type { CameraSupervisor } from '../../src/pipeline/CameraSupervisor.js';

/**
 * Never called: `tsc` (setup, so the test command) checks these lines. Each
 * `@ts-expect-error` fails the build once the error it expects is gone, so an untyped emitter
 * (any name, any payload) would be caught.
 */
export function typeChecks(sup: CameraSupervisor, service: DetectionService, daemon: Daemon): void {
  sup.on('state', (state, previous) => [state.toUpperCase(), previous.toUpperCase()]);
  // @ts-expect-error: no such event
  sup.on('frames', () => {});
  // @ts-expect-error: a frame event is not a string
  sup.on('frame', (ev: string) => ev);
  service.on('batch', (ev) => ev.launch satisfies 'full' | 'ready' | 'timeout');
  // @ts-expect-error: the service emits its own events only
  service.emit('state', 'streaming');
  // @ts-expect-error: detections carry their event
  service.emit('detections');
  daemon.on('detections', (ev, emittedUs) => ev.camera.length + emittedUs);
  daemon.on('event', (kind) => kind satisfies 'open' | 'close');
  // @ts-expect-error: a budget event, not a number
  daemon.emit('budget', 1);
}
