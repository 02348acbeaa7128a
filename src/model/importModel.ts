import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { convertTfjsToOnnx } from './convert/TfjsToOnnx.js';
import { NANODET_MODEL, NANODET_TFJS_OUTPUTS } from '../detect/nanodet/nanodetSpec.js';
import { loadTfjsGraph } from './tfjs/TfjsGraph.js';
import type { OnnxGraph, OnnxValueInfo } from './onnx/OnnxGraph.js';
import { ModelError, modelDir, verifiedCenternet, verifiedNanodet } from './ModelStore.js';

export interface ImportResult {
  path: string;
  bytes: number;
  ops: Record<string, number>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

/** The verified TF.js NanoDet as an in-memory ONNX graph (FP32), batch size chosen at run time. */
export function convertNanodet(modelJson = verifiedNanodet()): OnnxGraph {
  return convertTfjsToOnnx(loadTfjsGraph(modelJson), {
    inputName: NANODET_MODEL.input.name,
    outputNames: NANODET_TFJS_OUTPUTS,
    dynamicBatch: true,
  });
}

export const FP32_ONNX = 'nanodet-fp32.onnx';
export const INT8_ONNX = 'nanodet-int8.onnx';

/** The calibrated INT8 (QDQ) model in the cache, or null when none was made. */
export function int8OnnxPath(): string | null {
  const path = join(modelDir(), INT8_ONNX);
  return existsSync(path) && statSync(path).size > 0 ? path : null;
}

function writeOnnx(g: OnnxGraph, out: string): ImportResult {
  const bytes = g.encode();
  writeFileSync(out, bytes);
  const ops: Record<string, number> = {};
  for (const n of g.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  return { path: out, bytes: bytes.length, ops, inputs: g.inputs, outputs: g.outputs };
}

/** TF.js NanoDet (verified) → ONNX FP32 at `out` (default: the model cache). */
export function importNanodet(out = join(modelDir(), FP32_ONNX), modelJson = verifiedNanodet()): ImportResult {
  return writeOnnx(convertNanodet(modelJson), out);
}

/**
 * CenterNet's head tensors (TF name → ONNX output), where the graph is cut: its own decoding
 * after them (3x3 peak MaxPool, TopK 100, Gather) is left to Vigil. `heatmap` is [N,80,128,128],
 * class scores already through the graph's sigmoid, COCO-80 order; `wh` is [N,4,128,128], the
 * distances (left, top, right, bottom) in input pixels from the point (4·x, 4·y) of cell (x, y)
 * to the box's edges. The graph has no offset head. Input: RGB 0..255, NCHW, no mean or std
 * (the training's /255 is folded into the first conv).
 */
export const CENTERNET_HEADS: Record<string, string> = {
  'tower_0/keypoints': 'heatmap',
  'tower_0/wh': 'wh',
};

export const CENTERNET_FP32_ONNX = 'centernet-fp32.onnx';
export const CENTERNET_INT8_ONNX = 'centernet-int8.onnx';

/** The verified TF.js CenterNet as an in-memory NCHW ONNX graph (FP32), cut at its heads. */
export function convertCenternet(modelJson = verifiedCenternet()): OnnxGraph {
  return convertTfjsToOnnx(loadTfjsGraph(modelJson), {
    inputName: 'input',
    outputs: Object.keys(CENTERNET_HEADS),
    outputNames: CENTERNET_HEADS,
    nchw: true,
    dynamicBatch: true,
  });
}

/** TF.js CenterNet (verified) → ONNX FP32 at `out` (default: the model cache). */
export function importCenternet(
  out = join(modelDir(), CENTERNET_FP32_ONNX),
  modelJson = verifiedCenternet(),
): ImportResult {
  return writeOnnx(convertCenternet(modelJson), out);
}

/** The imported FP32 ONNX, or a clear error saying how to make it. */
export function fp32OnnxPath(): string {
  const path = join(modelDir(), FP32_ONNX);
  if (!existsSync(path) || statSync(path).size === 0) {
    throw new ModelError(
      `The detector's ONNX model is missing: ${path}. Make it with \`vigil model import\` (scripts/setup.sh does).`,
    );
  }
  return path;
}
