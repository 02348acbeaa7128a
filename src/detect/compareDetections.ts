import { iou, type Detection } from './Detection.js';

/** How a backend's detections agree with the reference's on the same frames. */
export interface DetectionAgreement {
  frames: number;
  reference: number;
  candidate: number;
  /** Reference boxes with a candidate of the same class at IoU ≥ minIou (each used once). */
  matched: number;
  /** Of the matched pairs: mean IoU and the largest score difference. */
  meanIou: number | null;
  maxScoreDiff: number | null;
}

/** Greedy per frame: each reference box, best score first, takes its best unused same-class match. */
export function compareDetections(
  reference: Detection[][],
  candidate: Detection[][],
  minIou = 0.5,
): DetectionAgreement {
  let matched = 0;
  let iouSum = 0;
  let maxScoreDiff = 0;
  reference.forEach((ref, f) => {
    const left = [...(candidate[f] ?? [])];
    for (const r of [...ref].sort((a, b) => b.score - a.score)) {
      let best = -1;
      let bestIou = minIou;
      left.forEach((c, i) => {
        const v = c.classId === r.classId ? iou(r, c) : 0;
        if (v >= bestIou) {
          best = i;
          bestIou = v;
        }
      });
      if (best < 0) continue;
      const c = left.splice(best, 1)[0] as Detection;
      matched++;
      iouSum += bestIou;
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(c.score - r.score));
    }
  });
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    frames: reference.length,
    reference: reference.reduce((n, r) => n + r.length, 0),
    candidate: candidate.reduce((n, c) => n + c.length, 0),
    matched,
    meanIou: matched ? round(iouSum / matched) : null,
    maxScoreDiff: matched ? round(maxScoreDiff) : null,
  };
}
