/**
 * A detector model as data: its input convention, its head (which family decodes it and the
 * family's parameters) and its class names. The family's decode is the only model-specific code;
 * every backend feeds it the same named outputs.
 */

import type { InputNorm } from '../native/types.js';

/** Per-channel affine normalisation out = (px - mean) / std, in the model's channel order (the letterbox's). */
export type Normalization = InputNorm;

export interface InputSpec {
  /** The ONNX input's name. */
  name: string;
  /** The model takes size × size pixels, NCHW float32, with a batch dimension. */
  size: number;
  normalize: Normalization;
  /** The frame scaled to fit, aspect kept, centred and padded (the only fit the frame path does). */
  resize: 'letterbox';
}

/** NanoDet (GFL): per stride a [cells, classes] sigmoid map and a [cells, 4·(regMax+1)] box distribution. */
export interface NanodetHead {
  family: 'nanodet';
  strides: number[];
  regMax: number;
  /** Output names, one per stride, in the order of `strides`. */
  cls: string[];
  reg: string[];
}

/**
 * CenterNet: a class heatmap [classes, H, W] (probabilities) whose 3×3 peaks are objects, and the
 * box at each peak either as `size-offset` (the paper: size [2, H, W] and centre offset [2, H, W])
 * or as `ltrb` (distances [4, H, W] of the left, top, right and bottom sides from the cell's point
 * stride·(x, y), as the shipped MobileNetV3 CenterNet has it).
 */
export type CenternetHead = {
  family: 'centernet';
  /** Input pixels per heatmap cell. */
  stride: number;
  heatmap: string;
  /** Units of the size or distance maps: heatmap cells (× stride) or input pixels. */
  units: 'cells' | 'pixels';
} & (
  | { box: 'size-offset'; size: string; offset: string; /** Channel order of both maps. */ order: 'xy' | 'yx' }
  | { box: 'ltrb'; distances: string }
);

/**
 * YOLO anchor-free (v8/v11): `decoded` is the exported single output [4 + classes, anchors] of
 * centre x, centre y, width, height in input pixels and class probabilities (DFL and sigmoid in the
 * graph); `raw` is the head before them, per stride box logits [4·regMax, H, W] and class logits
 * [classes, H, W].
 */
export type YoloHead =
  | { family: 'yolo'; format: 'decoded'; output: string; strides: number[] }
  | { family: 'yolo'; format: 'raw'; strides: number[]; regMax: number; box: string[]; cls: string[] };

/**
 * End-to-end detectors (DETR, RT-DETR, D-FINE): per query class logits [queries, classes] and a
 * box [queries, 4] of centre x, centre y, width, height relative to the input (0..1). No NMS.
 * `sigmoid`: every (query, class) is a candidate (RT-DETR, D-FINE); `softmax`: the last class is
 * "no object" and each query keeps its best other class (DETR).
 */
export interface DetrHead {
  family: 'detr';
  logits: string;
  boxes: string;
  scores: 'sigmoid' | 'softmax';
}

export type HeadSpec = NanodetHead | CenternetHead | YoloHead | DetrHead;
export type FamilyName = HeadSpec['family'];
export const FAMILIES: readonly FamilyName[] = ['nanodet', 'centernet', 'yolo', 'detr'];

export interface ModelSpec {
  id: string;
  input: InputSpec;
  head: HeadSpec;
  /** Class names in the order the model emits them. */
  classes: readonly string[];
}

/** What every decode takes besides the outputs. */
export interface DecodeSettings {
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
}

/** One frame's outputs by ONNX output name (views into a batch; NCHW maps without the batch). */
export type FrameOutputs = Readonly<Record<string, Float32Array>>;

/** The ONNX outputs a head reads, by name. */
export function headOutputs(head: HeadSpec): string[] {
  switch (head.family) {
    case 'nanodet':
      return [...head.cls, ...head.reg];
    case 'centernet':
      return head.box === 'ltrb' ? [head.heatmap, head.distances] : [head.heatmap, head.size, head.offset];
    case 'yolo':
      return head.format === 'decoded' ? [head.output] : [...head.box, ...head.cls];
    case 'detr':
      return [head.logits, head.boxes];
  }
}

/** Cells of a stride's square map on a size × size input (the framework rounds up). */
export const gridSide = (size: number, stride: number): number => Math.ceil(size / stride);

/** The output `name` of one frame; throws naming the outputs there are. */
export function anyOutput(out: FrameOutputs, name: string, what: string): Float32Array {
  const t = out[name];
  if (!t) throw new Error(`Expected output '${name}' (${what}) but the model has: ${Object.keys(out).join(', ')}`);
  return t;
}

/** The output `name` of one frame, checked to hold `floats` values. */
export function output(out: FrameOutputs, name: string, floats: number, what: string): Float32Array {
  const t = anyOutput(out, name, what);
  if (t.length !== floats)
    throw new Error(`Expected ${floats} values in output '${name}' (${what}) but received ${t.length}`);
  return t;
}
