import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { halfToFloat, tensor, type HostTensor } from '../tensor.js';

/** One node of a TF.js graph model (a TensorFlow GraphDef node). */
export interface TfNode {
  name: string;
  op: string;
  input: string[];
  attr: Record<string, TfAttr>;
}

export interface TfAttr {
  i?: string;
  f?: number;
  b?: boolean;
  s?: string;
  list?: { i?: string[]; f?: number[]; s?: string[] };
  type?: string;
  shape?: { dim?: Array<{ size?: string }> };
  tensor?: { dtype?: string; tensorShape?: { dim?: Array<{ size?: string }> } };
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

export interface TfjsGraph {
  nodes: TfNode[];
  /** Weights by const node name (float16-stored weights already dequantized to float32). */
  weights: Map<string, HostTensor>;
  /** Signature: input and output tensor names ("input_1:0") with their shapes. */
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: Array<{ name: string; shape: number[] }>;
}

const DIMS = (dims?: Array<{ size?: string }>) => (dims ?? []).map((d) => Number(d.size ?? 0));

/** Reads model.json and its weight files (as a TF.js graph model stores them). */
export function loadTfjsGraph(modelJsonPath: string): TfjsGraph {
  const json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as {
    format?: string;
    modelTopology: { node: Array<Partial<TfNode> & { name: string; op: string }> };
    weightsManifest: Array<{ paths: string[]; weights: ManifestEntry[] }>;
    signature?: {
      inputs: Record<string, { tensorShape?: { dim?: Array<{ size?: string }> } }>;
      outputs: Record<string, { tensorShape?: { dim?: Array<{ size?: string }> } }>;
    };
  };
  if (json.format !== 'graph-model')
    throw new Error(`${modelJsonPath} is not a TF.js graph model (format: ${json.format})`);
  const nodes: TfNode[] = json.modelTopology.node.map((n) => ({
    name: n.name,
    op: n.op,
    input: n.input ?? [],
    attr: n.attr ?? {},
  }));
  const weights = new Map<string, HostTensor>();
  for (const group of json.weightsManifest) {
    const buf = Buffer.concat(group.paths.map((p) => readFileSync(join(dirname(modelJsonPath), p))));
    let off = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization?.dtype;
      if (q === 'float16') {
        const t = tensor('float32', w.shape);
        for (let i = 0; i < n; i++) t.data[i] = halfToFloat(buf.readUInt16LE(off + 2 * i));
        off += 2 * n;
        weights.set(w.name, t);
      } else if (q) {
        throw new Error(`Unsupported weight quantization '${q}' for ${w.name}`);
      } else if (w.dtype === 'float32' || w.dtype === 'int32') {
        const t = tensor(w.dtype, w.shape);
        for (let i = 0; i < n; i++)
          t.data[i] = w.dtype === 'float32' ? buf.readFloatLE(off + 4 * i) : buf.readInt32LE(off + 4 * i);
        off += 4 * n;
        weights.set(w.name, t);
      } else {
        throw new Error(`Unsupported weight dtype '${w.dtype}' for ${w.name}`);
      }
    }
    if (off !== buf.length) throw new Error(`Weights of ${modelJsonPath}: read ${off} bytes of ${buf.length}`);
  }
  const sig = json.signature ?? { inputs: {}, outputs: {} };
  return {
    nodes,
    weights,
    inputs: Object.entries(sig.inputs).map(([name, v]) => ({ name, shape: DIMS(v.tensorShape?.dim) })),
    outputs: Object.entries(sig.outputs).map(([name, v]) => ({ name, shape: DIMS(v.tensorShape?.dim) })),
  };
}
