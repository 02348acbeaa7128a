import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { iou, type Detection } from '../../detect/Detection.js';
import { letterboxRgb } from '../../detect/letterbox.js';
import type { ModelSpec } from '../../detect/ModelSpec.js';
import { OrtDetector } from '../../detect/OrtDetector.js';
import { packageRoot } from '../../native/addon.js';
import { readImageRgb, videoFrames, type RgbImage } from '../imageFile.js';
import { meanAp } from './meanAp.js';

/** One labelled frame or photo of test/fixtures/labels/labels.json (docs/labels.md says how it was made). */
export interface LabelledImage {
  source: string;
  /** 0-based decoded frame index, for videos. */
  frame?: number;
  width: number;
  height: number;
  objects: Array<{ label: string; box: [number, number, number, number]; difficult: boolean }>;
}

const OPENCV_DATA = '/usr/share/doc/opencv-doc/examples/data';

export function loadLabels(file = join(packageRoot(), 'test', 'fixtures', 'labels', 'labels.json')): LabelledImage[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { images: LabelledImage[] }).images;
}

/** Every labelled image decoded (videos by one ffmpeg each, frames in order), checked against its labelled size. */
export async function decodeLabelled(images: LabelledImage[], dir = OPENCV_DATA): Promise<RgbImage[]> {
  const out = new Map<LabelledImage, RgbImage>();
  const byVideo = new Map<string, LabelledImage[]>();
  for (const im of images) {
    if (im.frame === undefined) out.set(im, await readImageRgb(join(dir, im.source)));
    else byVideo.set(im.source, [...(byVideo.get(im.source) ?? []), im]);
  }
  for (const [video, ims] of byVideo) {
    const want = new Map(ims.map((im) => [im.frame!, im]));
    for await (const f of videoFrames(
      join(dir, video),
      [...want.keys()].sort((a, b) => a - b),
    ))
      out.set(want.get(f.index)!, f);
  }
  return images.map((im) => {
    const rgb = out.get(im);
    if (!rgb || rgb.width !== im.width || rgb.height !== im.height)
      throw new Error(
        `Expected ${im.width}x${im.height} for ${im.source}${im.frame !== undefined ? ` frame ${im.frame}` : ''} but received ${rgb ? `${rgb.width}x${rgb.height}` : 'no frame'}`,
      );
    return rgb;
  });
}

export interface LabelEval {
  /** mAP@0.5 over the classes with labels the model has (difficult boxes neither count nor penalise). */
  map50: number;
  map50_95: number;
  perClass: Array<{ label: string; ap50: number; labels: number; detections: number }>;
  /** Labelled classes the model has no class for (left out of the mean). */
  unknownClasses: string[];
}

/**
 * A model's detections on the labelled images against the labels: COCO-style AP per class at
 * IoU 0.5 (and 0.5:0.95), VOC's rule for `difficult` boxes (a detection on one is ignored, a
 * missed one costs nothing). Candidates down to `curveThreshold` build the precision/recall curve.
 */
export async function evaluateOnLabels(
  spec: ModelSpec,
  modelPath: string,
  images: LabelledImage[],
  rgbs: RgbImage[],
  opts: { curveThreshold?: number; threshold?: number; threads?: number } = {},
): Promise<LabelEval> {
  const det = await OrtDetector.load(modelPath, {
    model: spec,
    scoreThreshold: opts.curveThreshold ?? 0.05,
    maxDetections: 300,
    threads: opts.threads ?? 0,
  });
  const classOf = new Map(spec.classes.map((c, i) => [c, i]));
  const unknown = new Set<string>();
  const pairs = [];
  for (const [i, im] of images.entries()) {
    const rgb = rgbs[i]!;
    const { tensor, box } = letterboxRgb(rgb.rgb, rgb.width, rgb.height, spec.input.size, spec.input.normalize);
    const found = await det.detect(tensor, box);
    const refs = (difficult: boolean): Detection[] =>
      im.objects
        .filter((o) => o.difficult === difficult)
        .flatMap((o) => {
          const classId = classOf.get(o.label);
          if (classId === undefined) unknown.add(o.label);
          const [x1, y1, x2, y2] = o.box;
          return classId === undefined ? [] : [{ classId, label: o.label, score: 1, x1, y1, x2, y2 }];
        });
    const [kept, ignored] = [refs(false), refs(true)];
    const matches = (d: Detection, set: Detection[]) => set.some((r) => r.classId === d.classId && iou(d, r) >= 0.5);
    const candidate = found.filter((d) => matches(d, kept) || !matches(d, ignored));
    pairs.push({ reference: kept, candidate });
  }
  await det.release();
  const m = meanAp(pairs, opts.threshold ?? 0.4);
  const round = (x: number) => Math.round(x * 10000) / 10000;
  return {
    map50: round(m.map50),
    map50_95: round(m.map50_95),
    perClass: m.perClass.map((c) => ({
      label: spec.classes[c.classId] ?? String(c.classId),
      ap50: round(c.ap50),
      labels: c.reference,
      detections: c.candidate,
    })),
    unknownClasses: [...unknown],
  };
}
