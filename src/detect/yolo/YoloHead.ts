import { nms, type Detection } from '../Detection.js';
import { toSource, type Letterbox } from '../letterbox.js';
import {
  gridSide,
  output,
  type DecodeSettings,
  type FrameOutputs,
  type ModelSpec,
  type YoloHead,
} from '../ModelSpec.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * YOLO anchor-free decode (v8/v11): each anchor keeps its best class (Ultralytics' single-label
 * default) when over the threshold, then class-aware NMS. Both formats give the same boxes: `raw`
 * does here what `decoded` models do in their graph (DFL expectation, distances from the cell
 * centre × stride, sigmoid).
 */
export function decodeYolo(
  spec: ModelSpec & { head: YoloHead },
  out: FrameOutputs,
  lb: Letterbox,
  s: DecodeSettings,
): Detection[] {
  const { head, classes } = spec;
  const nc = classes.length;
  const cand: Detection[] = [];
  const push = (c: number, score: number, x1: number, y1: number, x2: number, y2: number) => {
    const [sx1, sy1] = toSource(lb, x1, y1);
    const [sx2, sy2] = toSource(lb, x2, y2);
    cand.push({ classId: c, label: classes[c] ?? `class ${c}`, score, x1: sx1, y1: sy1, x2: sx2, y2: sy2 });
  };
  if (head.format === 'decoded') {
    const anchors = head.strides.reduce((n, st) => n + gridSide(spec.input.size, st) ** 2, 0);
    const t = output(out, head.output, (4 + nc) * anchors, 'boxes and class scores');
    for (let a = 0; a < anchors; a++) {
      const [c, score] = best(nc, (k) => t[(4 + k) * anchors + a]!);
      if (score <= s.scoreThreshold) continue;
      const cx = t[a]!;
      const cy = t[anchors + a]!;
      const w = t[2 * anchors + a]!;
      const h = t[3 * anchors + a]!;
      push(c, score, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
    }
  } else {
    const logitThreshold = Math.log(s.scoreThreshold / (1 - s.scoreThreshold)); // sigmoid only where needed
    head.strides.forEach((stride, i) => {
      const side = gridSide(spec.input.size, stride);
      const plane = side * side;
      const box = output(out, head.box[i]!, 4 * head.regMax * plane, `stride ${stride} box logits`);
      const cls = output(out, head.cls[i]!, nc * plane, `stride ${stride} class logits`);
      for (let cell = 0; cell < plane; cell++) {
        const [c, logit] = best(nc, (k) => cls[k * plane + cell]!);
        if (logit <= logitThreshold) continue;
        const ax = (cell % side) + 0.5;
        const ay = Math.floor(cell / side) + 0.5;
        const d = [0, 1, 2, 3].map((side4) => dfl(box, side4 * head.regMax * plane + cell, plane, head.regMax));
        push(
          c,
          sigmoid(logit),
          (ax - d[0]!) * stride,
          (ay - d[1]!) * stride,
          (ax + d[2]!) * stride,
          (ay + d[3]!) * stride,
        );
      }
    });
  }
  return nms(cand, s.iouThreshold, s.maxDetections);
}

function best(n: number, at: (k: number) => number): [number, number] {
  let bc = 0;
  let bv = -Infinity;
  for (let k = 0; k < n; k++) {
    const v = at(k);
    if (v > bv) [bc, bv] = [k, v];
  }
  return [bc, bv];
}

/** Σ softmax(bins)·i over `n` bins `step` apart: one side's distance in strides. */
function dfl(t: Float32Array, start: number, step: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, t[start + i * step]!);
  let sum = 0;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(t[start + i * step]! - max);
    sum += e;
    acc += e * i;
  }
  return acc / sum;
}
