import { COCO_LABELS } from '../../protocol/cocoLabels.js';
import type { ModelSpec, NanodetHead } from '../ModelSpec.js';

/** The shipped NanoDet-m (416, COCO-80): BGR, NanoDet's training mean and std, a GFL head at strides 8/16/32. */
export const NANODET_MODEL: ModelSpec & { head: NanodetHead } = {
  id: 'nanodet',
  input: {
    name: 'input',
    size: 416,
    normalize: { mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395], bgr: true },
    resize: 'letterbox',
  },
  head: {
    family: 'nanodet',
    strides: [8, 16, 32],
    regMax: 10,
    cls: ['cls_s8', 'cls_s16', 'cls_s32'],
    reg: ['reg_s8', 'reg_s16', 'reg_s32'],
  },
  classes: COCO_LABELS,
};

/** The TF.js graph's signature outputs → the ONNX output names the importer gives them. */
export const NANODET_TFJS_OUTPUTS: Record<string, string> = {
  'Identity:0': 'cls_s8',
  'Identity_1:0': 'cls_s16',
  'Identity_2:0': 'cls_s32',
  'Identity_3:0': 'reg_s8',
  'Identity_4:0': 'reg_s16',
  'Identity_5:0': 'reg_s32',
};
