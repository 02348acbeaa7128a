// The real vtest frames bench:int8-prepare letterboxed into .cache/int8check/frames.f32
// ([N, 3, S, S] float32), shared by the GPU engine benches.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { NANODET_MODEL } from '../src/detect/nanodet/nanodetSpec.js';
import { packageRoot } from '../src/native/addon.js';

/** Floats a frame holds. */
export const FRAME_FLOATS = 3 * NANODET_MODEL.input.size * NANODET_MODEL.input.size;
/** Where bench:int8-prepare leaves the frames and ONNX Runtime's results. */
export const CHECK_DIR = join(packageRoot(), '.cache', 'int8check');

export function loadCheckFrames() {
  const buf = readFileSync(join(CHECK_DIR, 'frames.f32'));
  const frames = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const count = frames.length / FRAME_FLOATS;
  return {
    frames,
    count,
    frame: (i: number) => frames.subarray(i * FRAME_FLOATS, (i + 1) * FRAME_FLOATS),
    /**
     * A batch of n frames, the frames repeated in order where n is more than there are; from
     * frame `first` on (another batch's images in every slot: run before a checked run, it leaves
     * other values in every buffer, so an op that read before its input was written would show).
     */
    batchOf: (n: number, first = 0) => {
      const b = new Float32Array(n * FRAME_FLOATS);
      for (let i = 0; i < n; i++) {
        const f = (first + i) % count;
        b.set(frames.subarray(f * FRAME_FLOATS, (f + 1) * FRAME_FLOATS), i * FRAME_FLOATS);
      }
      return b;
    },
  };
}
