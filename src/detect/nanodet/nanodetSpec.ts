/**
 * What Vigil knows about the shipped NanoDet-m (416): its input convention and how its
 * TF.js outputs map onto named ONNX outputs. Nothing else in Vigil is model-specific.
 */
export const NANODET_SPEC = {
  inputName: 'input',
  inputSize: 416,
  numClasses: 80,
  regMax: 10,
  strides: [8, 16, 32],
  /** NanoDet's training convention: BGR, (px - mean) / std per channel (B, G, R order). */
  normalize: {
    mean: [103.53, 116.28, 123.675] as [number, number, number],
    std: [57.375, 57.12, 58.395] as [number, number, number],
    bgr: true,
  },
  /** TF.js signature output → ONNX output name. */
  outputNames: {
    'Identity:0': 'cls_s8',
    'Identity_1:0': 'cls_s16',
    'Identity_2:0': 'cls_s32',
    'Identity_3:0': 'reg_s8',
    'Identity_4:0': 'reg_s16',
    'Identity_5:0': 'reg_s32',
  } as Record<string, string>,
};
