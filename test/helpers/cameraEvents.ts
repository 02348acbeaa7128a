import { loadAddon } from '../../src/native/addon.js';
import type { CameraEvent, CameraOptions, EndedEvent, FrameEvent, NativeCamera } from '../../src/native/types.js';

/** A real native camera with every event it posts recorded, and waits on them. */
export class RecordedCamera {
  readonly events: CameraEvent[] = [];
  readonly camera: NativeCamera;
  private waiters: Array<() => void> = [];

  constructor(options: CameraOptions) {
    const { Camera } = loadAddon();
    this.camera = new Camera(options, (ev) => {
      this.events.push(ev);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get frames(): FrameEvent[] {
    return this.events.filter((e): e is FrameEvent => e.type === 'frame');
  }

  ended(session?: number): EndedEvent | undefined {
    return this.events.find(
      (e): e is EndedEvent => e.type === 'ended' && (session === undefined || e.session === session),
    );
  }

  /** Resolves once `pred` holds for the recorded events; rejects after `timeoutMs`. */
  until(pred: (events: CameraEvent[]) => boolean, timeoutMs = 20000, what = 'condition'): Promise<void> {
    if (pred(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      const check = () => {
        if (pred(this.events)) {
          clearTimeout(timer);
          resolve();
        } else {
          this.waiters.push(check);
        }
      };
      this.waiters.push(check);
    });
  }

  untilEnded(session: number, timeoutMs = 20000): Promise<EndedEvent> {
    return this.until(() => this.ended(session) !== undefined, timeoutMs, `session ${session} to end`).then(
      () => this.ended(session) as EndedEvent,
    );
  }
}
