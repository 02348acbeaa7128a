import { COCO_LABELS } from '../../protocol/cocoLabels.js';
import { nms, type Detection } from '../Detection.js';
import { toSource, type Letterbox } from '../letterbox.js';
import {
  gridSide,
  output,
  type DecodeSettings,
  type FrameOutputs,
  type ModelSpec,
  type NanodetHead,
} from '../ModelSpec.js';

/** Raw head outputs of one stride: sigmoid class scores [cells × classes], box bins [cells × 4·(regMax+1)]. */
export interface HeadLevel {
  stride: number;
  cls: Float32Array;
  reg: Float32Array;
}

export interface DecodeOptions {
  inputSize: number;
  numClasses: number;
  regMax: number;
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  /** Class names (default COCO-80). */
  labels?: readonly string[];
}

/**
 * Expected distance of one side from its GFL bin distribution: softmax over regMax+1 bins,
 * Σ p_i · i, in units of the stride.
 */
export function expectedDistance(bins: Float32Array, offset: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, bins[offset + i]!);
  let sum = 0;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(bins[offset + i]! - max);
    sum += e;
    acc += e * i;
  }
  return acc / sum;
}

/**
 * NanoDet (GFL head) decode: for every cell and every class over the threshold, a box from the
 * cell centre ((x + 0.5)·stride) and the four expected side distances (left, top, right,
 * bottom)·stride; then class-aware NMS; boxes mapped back through the letterbox.
 */
export function decodeNanodet(levels: HeadLevel[], lb: Letterbox, o: DecodeOptions): Detection[] {
  const bins = o.regMax + 1;
  const labels = o.labels ?? COCO_LABELS;
  const cand: Detection[] = [];
  for (const { stride, cls, reg } of levels) {
    const w = Math.ceil(o.inputSize / stride);
    const cells = cls.length / o.numClasses;
    for (let i = 0; i < cells; i++) {
      let best = -1;
      for (let c = 0; c < o.numClasses; c++) if (cls[i * o.numClasses + c]! > o.scoreThreshold) best = c;
      if (best < 0) continue; // no class over the threshold: skip the box maths
      const cx = ((i % w) + 0.5) * stride;
      const cy = (Math.floor(i / w) + 0.5) * stride;
      const base = i * 4 * bins;
      const l = expectedDistance(reg, base, bins) * stride;
      const t = expectedDistance(reg, base + bins, bins) * stride;
      const r = expectedDistance(reg, base + 2 * bins, bins) * stride;
      const b = expectedDistance(reg, base + 3 * bins, bins) * stride;
      const [x1, y1] = toSource(lb, cx - l, cy - t);
      const [x2, y2] = toSource(lb, cx + r, cy + b);
      for (let c = 0; c < o.numClasses; c++) {
        const score = cls[i * o.numClasses + c]!;
        if (score > o.scoreThreshold)
          cand.push({ classId: c, label: labels[c] ?? `class ${c}`, score, x1, y1, x2, y2 });
      }
    }
  }
  return nms(cand, o.iouThreshold, o.maxDetections);
}

/** One frame's named outputs as NanoDet levels, each checked against the grid of its stride. */
export function nanodetLevels(spec: ModelSpec & { head: NanodetHead }, out: FrameOutputs): HeadLevel[] {
  const { head, input, classes } = spec;
  return head.strides.map((stride, i) => {
    const cells = gridSide(input.size, stride) ** 2;
    return {
      stride,
      cls: output(out, head.cls[i]!, cells * classes.length, `stride ${stride} classes`),
      reg: output(out, head.reg[i]!, cells * 4 * (head.regMax + 1), `stride ${stride} box bins`),
    };
  });
}

export function decodeNanodetOutputs(
  spec: ModelSpec & { head: NanodetHead },
  out: FrameOutputs,
  lb: Letterbox,
  s: DecodeSettings,
): Detection[] {
  return decodeNanodet(nanodetLevels(spec, out), lb, {
    ...s,
    inputSize: spec.input.size,
    numClasses: spec.classes.length,
    regMax: spec.head.regMax,
    labels: spec.classes,
  });
}
