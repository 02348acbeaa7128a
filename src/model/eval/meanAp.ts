import { iou, type Detection } from '../../detect/Detection.js';

/** Detections of one frame: the reference (treated as ground truth) and the candidate. */
export interface FramePair {
  reference: Detection[];
  candidate: Detection[];
}

export const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);

/**
 * COCO-style average precision of one class at one IoU threshold: candidates sorted by score
 * are matched greedily to unmatched reference boxes of that class (IoU ≥ t) per frame; AP is
 * the mean of the interpolated precision at 101 recall points. null when the reference has no
 * box of the class.
 */
export function averagePrecision(frames: FramePair[], classId: number, t: number): number | null {
  let positives = 0;
  const scored: Array<{ score: number; tp: boolean }> = [];
  for (const f of frames) {
    const refs = f.reference.filter((d) => d.classId === classId);
    positives += refs.length;
    const used = new Array<boolean>(refs.length).fill(false);
    for (const c of f.candidate.filter((d) => d.classId === classId).sort((a, b) => b.score - a.score)) {
      let best = -1;
      let bestIou = t;
      refs.forEach((r, k) => {
        if (used[k]) return;
        const v = iou(c, r);
        if (v >= bestIou) {
          bestIou = v;
          best = k;
        }
      });
      if (best >= 0) used[best] = true;
      scored.push({ score: c.score, tp: best >= 0 });
    }
  }
  if (positives === 0) return null;
  scored.sort((a, b) => b.score - a.score);
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  scored.forEach((s, i) => {
    if (s.tp) tp++;
    precision.push(tp / (i + 1));
    recall.push(tp / positives);
  });
  // precision envelope (monotone from the right)
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
  let sum = 0;
  for (let r = 0; r <= 100; r++) {
    const at = r / 100;
    const k = recall.findIndex((x) => x >= at - 1e-12);
    sum += k >= 0 ? precision[k]! : 0;
  }
  return sum / 101;
}

export interface MapResult {
  map50: number;
  map50_95: number;
  perClass: Array<{ classId: number; ap50: number; ap50_95: number; reference: number; candidate: number }>;
}

/** mAP over the classes the reference contains, at IoU 0.5 and averaged over 0.5:0.95. */
export function meanAp(frames: FramePair[], candidateThreshold: number): MapResult {
  const classes = [...new Set(frames.flatMap((f) => f.reference.map((d) => d.classId)))].sort((a, b) => a - b);
  const perClass = classes.map((classId) => {
    const ap50 = averagePrecision(frames, classId, 0.5) ?? 0;
    const aps = IOU_THRESHOLDS.map((t) => averagePrecision(frames, classId, t) ?? 0);
    const count = (sel: (f: FramePair) => Detection[], min = 0) =>
      frames.reduce((n, f) => n + sel(f).filter((d) => d.classId === classId && d.score >= min).length, 0);
    return {
      classId,
      ap50,
      ap50_95: aps.reduce((a, b) => a + b, 0) / aps.length,
      reference: count((f) => f.reference),
      candidate: count((f) => f.candidate, candidateThreshold),
    };
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return { map50: mean(perClass.map((c) => c.ap50)), map50_95: mean(perClass.map((c) => c.ap50_95)), perClass };
}
