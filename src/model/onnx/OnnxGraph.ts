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
  /** int64: shape-like values (pads, sizes, shapes); int8: quantized weights and zero points. */
  dtype: 'float32' | 'int64' | 'int8' | 'int32' | 'uint8';
  shape: number[];
  data: ArrayLike<number>;
}

export interface OnnxValueInfo {
  name: string;
  /** Omitted: shape left to the runtime (calibration taps). A string is a symbolic dim ('N': the batch). */
  shape?: Array<number | string>;
}

/** An ONNX graph being built: nodes in topological order, initializers, I/O. */
export class OnnxGraph {
  readonly nodes: OnnxNode[] = [];
  readonly initializers = new Map<string, OnnxInitializer>();
  readonly inputs: OnnxValueInfo[] = [];
  readonly outputs: OnnxValueInfo[] = [];
  counter = 0; // unique-name counter (copied by clone)

  uniqueName(base: string): string {
    return `${base}_${++this.counter}`;
  }

  addNode(
    op: string,
    inputs: string[],
    outputs: string[],
    attrs: Record<string, AttrValue> = {},
    name?: string,
  ): OnnxNode {
    const node = { op, name: name ?? this.uniqueName(op), inputs, outputs, attrs };
    this.nodes.push(node);
    return node;
  }

  /** Drops a node whose outputs nobody reads any more (after a fusion). */
  removeNode(node: OnnxNode): void {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
    for (const input of node.inputs) {
      if (this.initializers.has(input) && !this.nodes.some((n) => n.inputs.includes(input)))
        this.initializers.delete(input);
    }
  }

  /** A float32 initializer; returns its name. */
  addFloat(name: string, t: HostTensor): string {
    this.initializers.set(name, { name, dtype: 'float32', shape: [...t.shape], data: t.data });
    return name;
  }

  addInt32(name: string, values: ArrayLike<number>, shape: number[]): string {
    this.initializers.set(name, { name, dtype: 'int32', shape, data: values });
    return name;
  }

  addUint8(name: string, values: ArrayLike<number>, shape: number[]): string {
    this.initializers.set(name, { name, dtype: 'uint8', shape, data: values });
    return name;
  }

  addInt8(name: string, values: ArrayLike<number>, shape: number[]): string {
    this.initializers.set(name, { name, dtype: 'int8', shape, data: values });
    return name;
  }

  /** A deep copy (nodes, initializer records, I/O), for variants of one model. */
  clone(): OnnxGraph {
    const g = new OnnxGraph();
    for (const n of this.nodes)
      g.nodes.push({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } });
    for (const [k, v] of this.initializers) g.initializers.set(k, v);
    g.inputs.push(...this.inputs.map((v) => ({ ...v })));
    g.outputs.push(...this.outputs.map((v) => ({ ...v })));
    g.counter = this.counter;
    return g;
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
      type: {
        tensorType: v.shape
          ? {
              elemType: onnx.TensorProto.DataType.FLOAT,
              shape: { dim: v.shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
            }
          : { elemType: onnx.TensorProto.DataType.FLOAT },
      },
    });
    const tensorProto = (t: OnnxInitializer) => {
      const T = onnx.TensorProto.DataType;
      const [raw, dataType] =
        t.dtype === 'float32'
          ? [new Uint8Array(Float32Array.from(t.data).buffer), T.FLOAT]
          : t.dtype === 'int8'
            ? [new Uint8Array(Int8Array.from(t.data).buffer), T.INT8]
            : t.dtype === 'uint8'
              ? [Uint8Array.from(t.data), T.UINT8]
              : t.dtype === 'int32'
                ? [new Uint8Array(Int32Array.from(t.data).buffer), T.INT32]
                : [new Uint8Array(BigInt64Array.from(Array.from(t.data, (x) => BigInt(x))).buffer), T.INT64];
      return { name: t.name, dims: t.shape, dataType, rawData: raw };
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
