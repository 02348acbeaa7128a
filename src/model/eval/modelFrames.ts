import { loadAddon } from '../../native/addon.js';
import type { CameraOptions } from '../../native/types.js';
import { imagesIn, readImageRgb, videoFrames } from '../imageFile.js';
import { letterboxRgb } from '../../detect/letterbox.js';
import { NANODET_MODEL } from '../../detect/nanodet/nanodetSpec.js';

/** Where calibration or evaluation frames come from. */
export type InputSource =
  | { kind: 'video'; path: string; from: number; every: number; count: number }
  | { kind: 'images'; dir: string; count: number }
  | { kind: 'camera'; camera: CameraOptions; every: number; count: number; timeoutMs?: number };

/** Model inputs ([3, S, S] float, the detector's normalisation) from a frame source. */
export async function modelInputs(src: InputSource, log = (_: string) => {}): Promise<Float32Array[]> {
  const size = NANODET_MODEL.input.size;
  const out: Float32Array[] = [];
  if (src.kind === 'video') {
    const indices = Array.from({ length: src.count }, (_, i) => src.from + i * src.every);
    for await (const f of videoFrames(src.path, indices))
      out.push(letterboxRgb(f.rgb, f.width, f.height, size, NANODET_MODEL.input.normalize).tensor);
  } else if (src.kind === 'images') {
    const files = imagesIn(src.dir).slice(0, src.count);
    if (files.length === 0) throw new Error(`No images (jpg, png, bmp, webp) in ${src.dir}`);
    for (const f of files) {
      const img = await readImageRgb(f);
      out.push(letterboxRgb(img.rgb, img.width, img.height, size, NANODET_MODEL.input.normalize).tensor);
    }
  } else {
    // A live camera through the real pipeline: the same native letterbox the detector uses.
    const { Camera } = loadAddon();
    let newest = 0;
    let ended = '';
    const cam = new Camera(src.camera, (ev) => {
      if (ev.type === 'frame') newest = ev.seq;
      if (ev.type === 'ended') ended = `${ev.reason}${ev.message ? `: ${ev.message}` : ''}`;
    });
    cam.open();
    const deadline = Date.now() + (src.timeoutMs ?? 120_000);
    let next = 1;
    try {
      while (out.length < src.count) {
        if (ended) throw new Error(`The camera session ended (${ended}) after ${out.length} of ${src.count} frames`);
        if (Date.now() > deadline) throw new Error(`Only ${out.length} of ${src.count} frames arrived in time`);
        if (newest >= next) {
          const t = new Float32Array(3 * size * size);
          const lb = await cam.letterbox(t, size, NANODET_MODEL.input.normalize, next);
          if (lb) {
            out.push(t);
            next = lb.seq + src.every;
            if (out.length % 20 === 0) log(`camera frames: ${out.length}/${src.count}`);
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      cam.close();
    }
  }
  return out;
}
