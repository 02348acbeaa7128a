import { COCO_LABELS } from '../../protocol/cocoLabels.js';
import type { CenternetHead, ModelSpec } from '../ModelSpec.js';

/**
 * The shipped CenterNet (MobileNetV3, 512, COCO-80): RGB 0..255 (its /255 is folded into the
 * first conv), trained on letterboxed images with black borders; at stride 4 a sigmoid heatmap and
 * the box sides' distances in pixels from the cell's point (no offset head).
 */
export const CENTERNET_MODEL: ModelSpec & { head: CenternetHead } = {
  id: 'centernet',
  input: {
    name: 'input',
    size: 512,
    normalize: { mean: [0, 0, 0], std: [1, 1, 1], bgr: false },
    resize: 'letterbox',
  },
  head: { family: 'centernet', stride: 4, heatmap: 'heatmap', box: 'ltrb', distances: 'wh', units: 'pixels' },
  classes: COCO_LABELS,
};
