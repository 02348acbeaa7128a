import type { Detection } from '../Detection.js';
import { toSource, type Letterbox } from '../letterbox.js';
import {
  anyOutput,
  output,
  type DecodeSettings,
  type DetrHead,
  type FrameOutputs,
  type ModelSpec,
} from '../ModelSpec.js';

/**
 * End-to-end decode (DETR family): queries are already one object each, so there is no NMS; the
 * best `maxDetections` (query, class) pairs over the threshold are kept. Boxes are centre and size
 * relative to the model input.
 */
export function decodeDetr(
  spec: ModelSpec & { head: DetrHead },
  out: FrameOutputs,
  lb: Letterbox,
  s: DecodeSettings,
): Detection[] {
  const { head, classes } = spec;
  const width = head.scores === 'softmax' ? classes.length + 1 : classes.length; // + "no object"
  const logits = anyOutput(out, head.logits, 'class logits');
  const queries = logits.length / width;
  if (!Number.isInteger(queries))
    throw new Error(
      `Expected output '${head.logits}' (class logits) to hold queries × ${width} values but received ${logits.length}`,
    );
  const boxes = output(out, head.boxes, queries * 4, 'boxes');
  const cand: Array<{ q: number; c: number; score: number }> = [];
  for (let q = 0; q < queries; q++) {
    if (head.scores === 'sigmoid') {
      for (let c = 0; c < classes.length; c++) {
        const score = 1 / (1 + Math.exp(-logits[q * width + c]!));
        if (score > s.scoreThreshold) cand.push({ q, c, score });
      }
    } else {
      let max = -Infinity;
      for (let c = 0; c < width; c++) max = Math.max(max, logits[q * width + c]!);
      let sum = 0;
      let bc = 0;
      let bv = -Infinity;
      for (let c = 0; c < width; c++) {
        const e = Math.exp(logits[q * width + c]! - max);
        sum += e;
        if (c < classes.length && e > bv) [bc, bv] = [c, e];
      }
      if (bv / sum > s.scoreThreshold) cand.push({ q, c: bc, score: bv / sum });
    }
  }
  cand.sort((a, b) => b.score - a.score);
  const size = spec.input.size;
  return cand.slice(0, s.maxDetections).map(({ q, c, score }) => {
    const [cx, cy, w, h] = [0, 1, 2, 3].map((k) => boxes[q * 4 + k]! * size) as [number, number, number, number];
    const [x1, y1] = toSource(lb, cx - w / 2, cy - h / 2);
    const [x2, y2] = toSource(lb, cx + w / 2, cy + h / 2);
    return { classId: c, label: classes[c] ?? `class ${c}`, score, x1, y1, x2, y2 };
  });
}
