import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { convertTfjsToOnnx } from '../convert/TfjsToOnnx.js';
import { NANODET_SPEC } from '../nanodet/nanodetSpec.js';
import { loadTfjsGraph } from '../tfjs/TfjsGraph.js';
import { ModelError, modelDir, verifiedNanodet } from './ModelStore.js';

export interface ImportResult {
  path: string;
  bytes: number;
  ops: Record<string, number>;
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: Array<{ name: string; shape: number[] }>;
}

export const FP32_ONNX = 'nanodet-fp32.onnx';

/** TF.js NanoDet (verified) → ONNX FP32 at `out` (default: the model cache). */
export function importNanodet(out = join(modelDir(), FP32_ONNX), modelJson = verifiedNanodet()): ImportResult {
  const g = convertTfjsToOnnx(loadTfjsGraph(modelJson), { inputName: NANODET_SPEC.inputName, outputNames: NANODET_SPEC.outputNames });
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
    throw new ModelError(`The detector's ONNX model is missing: ${path}. Make it with \`vigil model import\` (scripts/setup.sh does).`);
  }
  return path;
}
