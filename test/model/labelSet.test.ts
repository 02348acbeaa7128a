import { describe, expect, it } from 'vitest';

import { NANODET_MODEL } from '../../src/detect/nanodet/nanodetSpec.js';
import { shippedFiles } from '../../src/detect/ModelDetectors.js';
import { decodeLabelled, evaluateOnLabels, loadLabels } from '../../src/model/eval/labelSet.js';
import { COCO_LABELS } from '../../src/protocol/cocoLabels.js';

describe('the hand-labelled set', () => {
  const images = loadLabels();

  it('holds ≥ 150 boxes of COCO classes from the three sources, each inside its image', () => {
    const boxes = images.flatMap((im) => im.objects.map((o) => ({ im, o })));
    expect(boxes.length).toBeGreaterThanOrEqual(150);
    expect(new Set(images.map((im) => (im.frame === undefined ? 'photo' : im.source)))).toEqual(
      new Set(['vtest.avi', 'Megamind.avi', 'photo']),
    );
    for (const { im, o } of boxes) {
      expect(COCO_LABELS as readonly string[]).toContain(o.label);
      const [x1, y1, x2, y2] = o.box;
      expect(0 <= x1 && x1 < x2 && x2 <= im.width && 0 <= y1 && y1 < y2 && y2 <= im.height, JSON.stringify(o)).toBe(
        true,
      );
    }
  });

  it('NanoDet finds the labelled people and cars where they were drawn (AP@0.5 against people, not a model)', async () => {
    const rgbs = await decodeLabelled(images);
    const r = await evaluateOnLabels(NANODET_MODEL, shippedFiles('nanodet').fp32(), images, rgbs);
    const ap = (label: string) => r.perClass.find((c) => c.label === label)!;
    expect(ap('person').labels).toBeGreaterThanOrEqual(70);
    expect(ap('person').ap50).toBeGreaterThan(0.85);
    expect(ap('car').ap50).toBeGreaterThan(0.85);
    expect(r.unknownClasses).toEqual([]);
    // The same detections shifted off their objects by half a box score nothing: the labels decide.
    const shifted = images.map((im) => ({
      ...im,
      objects: im.objects.map((o) => {
        const w = o.box[2] - o.box[0];
        return { ...o, box: [o.box[0] + w, o.box[1], Math.min(o.box[2] + w, im.width), o.box[3]] as typeof o.box };
      }),
    }));
    const off = await evaluateOnLabels(NANODET_MODEL, shippedFiles('nanodet').fp32(), shifted, rgbs);
    expect(off.perClass.find((c) => c.label === 'person')!.ap50).toBeLessThan(0.2);
  }, 120_000);
});
