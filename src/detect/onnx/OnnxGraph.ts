import onnxProto from 'onnx-proto';

import type { HostTensor } from '../tensor.js';

const { onnx } = onnxProto;

export type AttrValue = number | number[] | string | { float: number };

export interface OnnxNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

export interface OnnxInitializer {
  name: string;
  /** int64 initializers carry shape-like values (pads, sizes, shapes). */
  dtype: 'float32' | 'int64';
  shape: number[];
  data: ArrayLike<number>;
}

export interface OnnxValueInfo {
  name: string;
  shape: number[];
}

/** An ONNX graph being built: nodes in topological order, initializers, I/O. */
export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly initializers = new Map<string, OnnxInitializer>();
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  private counter = 0;

  uniqueName(base: string): string {
    return `${base}_${++this.counter}`;
  }

  addNode(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): OnnxNode {
    const node = { op, name: name ?? this.uniqueName(op), inputs, outputs, attrs };
    this.nodes.push(node);
    return node;
  }

  /** Drops a node whose outputs nobody reads any more (after a fusion). */
  removeNode(node: OnnxNode): void {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
    for (const input of node.inputs) {
      if (this.initializers.has(input) && !this.nodes.some((n) => n.inputs.includes(input))) this.initializers.delete(input);
    }
  }

  /** A float32 initializer; returns its name. */
  addFloat(name: string, t: HostTensor): string {
    this.initializers.set(name, { name, dtype: 'float32', shape: [...t.shape], data: t.data });
    return name;
  }

  addInt64(base: string, values: number[], shape: number[] = [values.length]): string {
    const name = this.uniqueName(base);
    this.initializers.set(name, { name, dtype: 'int64', shape, data: values });
    return name;
  }

  /** Serialises to ONNX protobuf bytes (IR 8, default domain at `opset`). */
  encode(opset = 13, producer = 'vigil'): Uint8Array {
    const attr = (name: string, v: AttrValue) => {
      const A = onnx.AttributeProto.AttributeType;
      if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
      if (typeof v === 'object' && !Array.isArray(v)) return { name, type: A.FLOAT, f: v.float };
      if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
      return Number.isInteger(v) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
    };
    const valueInfo = (v: OnnxValueInfo) => ({
      name: v.name,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
    });
    const tensorProto = (t: OnnxInitializer) => {
      const raw =
        t.dtype === 'float32'
          ? new Uint8Array(Float32Array.from(t.data).buffer)
          : new Uint8Array(BigInt64Array.from(Array.from(t.data, (x) => BigInt(x))).buffer);
      return {
        name: t.name,
        dims: t.shape,
        dataType: t.dtype === 'float32' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64,
        rawData: raw,
      };
    };
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: producer,
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: 'main',
        node: this.nodes.map((n) => ({
          opType: n.op,
          name: n.name,
          input: n.inputs,
          output: n.outputs,
          attribute: Object.entries(n.attrs).map(([k, v]) => attr(k, v)),
        })),
        initializer: [...this.initializers.values()].map(tensorProto),
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
