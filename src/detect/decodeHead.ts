import { decodeCenternet } from './centernet/CenternetHead.js';
import type { Detection } from './Detection.js';
import { decodeDetr } from './detr/DetrHead.js';
import type { Letterbox } from './letterbox.js';
import type { DecodeSettings, FrameOutputs, ModelSpec } from './ModelSpec.js';
import { decodeNanodetOutputs } from './nanodet/NanodetHead.js';
import { decodeYolo } from './yolo/YoloHead.js';

/** One frame's detections, in source pixels, by the decode of the model's family. */
export function decodeHead(spec: ModelSpec, out: FrameOutputs, lb: Letterbox, s: DecodeSettings): Detection[] {
  const { head } = spec;
  switch (head.family) {
    case 'nanodet':
      return decodeNanodetOutputs({ ...spec, head }, out, lb, s);
    case 'centernet':
      return decodeCenternet({ ...spec, head }, out, lb, s);
    case 'yolo':
      return decodeYolo({ ...spec, head }, out, lb, s);
    case 'detr':
      return decodeDetr({ ...spec, head }, out, lb, s);
  }
}
