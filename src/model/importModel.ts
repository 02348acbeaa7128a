import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { convertTfjsToOnnx } from './convert/TfjsToOnnx.js';
import { NANODET_SPEC } from '../detect/nanodet/nanodetSpec.js';
import { loadTfjsGraph } from './tfjs/TfjsGraph.js';
import type { OnnxGraph, OnnxValueInfo } from './onnx/OnnxGraph.js';
import { ModelError, modelDir, verifiedNanodet } from './ModelStore.js';

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
    inputName: NANODET_SPEC.inputName,
    outputNames: NANODET_SPEC.outputNames,
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

/** TF.js NanoDet (verified) → ONNX FP32 at `out` (default: the model cache). */
export function importNanodet(out = join(modelDir(), FP32_ONNX), modelJson = verifiedNanodet()): ImportResult {
  const g = convertNanodet(modelJson);
  const bytes = g.encode();
  writeFileSync(out, bytes);
  const ops: Record<string, number> = {};
  for (const n of g.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  return { path: out, bytes: bytes.length, ops, inputs: g.inputs, outputs: g.outputs };
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
