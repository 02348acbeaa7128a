import { nms, type Detection } from '../Detection.js';
import { toSource, type Letterbox } from '../letterbox.js';
import {
  gridSide,
  output,
  type CenternetHead,
  type DecodeSettings,
  type FrameOutputs,
  type ModelSpec,
} from '../ModelSpec.js';

/**
 * CenterNet decode: a detection at every heatmap cell over the threshold that is the maximum of
 * its 3×3 neighbourhood (CenterNet's max-pool peak test), its box read at that cell; class-aware
 * NMS after, as overlapping peaks of one class remain.
 */
export function decodeCenternet(
  spec: ModelSpec & { head: CenternetHead },
  out: FrameOutputs,
  lb: Letterbox,
  s: DecodeSettings,
): Detection[] {
  const { head, classes } = spec;
  const side = gridSide(spec.input.size, head.stride);
  const plane = side * side;
  const heat = output(out, head.heatmap, classes.length * plane, 'class heatmap');
  const boxAt = boxReader(head, out, side);
  const cand: Detection[] = [];
  for (let c = 0; c < classes.length; c++) {
    const base = c * plane;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const v = heat[base + y * side + x]!;
        if (v <= s.scoreThreshold || !isPeak(heat, base, side, x, y, v)) continue;
        const b = boxAt(x, y);
        const [x1, y1] = toSource(lb, b[0], b[1]);
        const [x2, y2] = toSource(lb, b[2], b[3]);
        cand.push({ classId: c, label: classes[c] ?? `class ${c}`, score: v, x1, y1, x2, y2 });
      }
    }
  }
  return nms(cand, s.iouThreshold, s.maxDetections);
}

/** The box (x1, y1, x2, y2 in input pixels) at cell (x, y), as the head's box form says. */
function boxReader(head: CenternetHead, out: FrameOutputs, side: number) {
  const plane = side * side;
  const unit = head.units === 'cells' ? head.stride : 1;
  if (head.box === 'ltrb') {
    const d = output(out, head.distances, 4 * plane, 'box side distances');
    return (x: number, y: number): [number, number, number, number] => {
      const cell = y * side + x;
      const [px, py] = [x * head.stride, y * head.stride];
      return [
        px - d[cell]! * unit,
        py - d[plane + cell]! * unit,
        px + d[2 * plane + cell]! * unit,
        py + d[3 * plane + cell]! * unit,
      ];
    };
  }
  const size = output(out, head.size, 2 * plane, 'box size');
  const offset = output(out, head.offset, 2 * plane, 'centre offset');
  const [ix, iy] = head.order === 'xy' ? [0, 1] : [1, 0];
  return (x: number, y: number): [number, number, number, number] => {
    const cell = y * side + x;
    const cx = (x + offset[ix * plane + cell]!) * head.stride;
    const cy = (y + offset[iy * plane + cell]!) * head.stride;
    const w = size[ix * plane + cell]! * unit;
    const h = size[iy * plane + cell]! * unit;
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
  };
}

/** No neighbour is higher; of equal neighbours only the first in scan order is a peak. */
function isPeak(heat: Float32Array, base: number, side: number, x: number, y: number, v: number): boolean {
  for (let dy = -1; dy <= 1; dy++) {
    const yy = y + dy;
    if (yy < 0 || yy >= side) continue;
    for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx;
      if (xx < 0 || xx >= side || (dx === 0 && dy === 0)) continue;
      const n = heat[base + yy * side + xx]!;
      if (n > v || (n === v && (dy < 0 || (dy === 0 && dx < 0)))) return false;
    }
  }
  return true;
}
