import onnxProto from 'onnx-proto';

import { OnnxGraph, type AttrValue, type OnnxInitializer } from './OnnxGraph.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

const num = (v: unknown): number =>
  typeof v === 'object' && v !== null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : Number(v);

function tensorOf(t: onnxProto.onnx.ITensorProto): OnnxInitializer {
  const name = t.name ?? '';
  const shape = (t.dims ?? []).map(num);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const view = <A>(C: { new (b: ArrayBuffer, o: number, n: number): A; BYTES_PER_ELEMENT: number }) => {
    const bytes = Uint8Array.from(raw!); // aligned copy
    return new C(bytes.buffer, 0, bytes.length / C.BYTES_PER_ELEMENT);
  };
  switch (t.dataType) {
    case T.FLOAT:
      return { name, dtype: 'float32', shape, data: raw ? view(Float32Array) : Float32Array.from(t.floatData ?? []) };
    case T.INT8:
      return { name, dtype: 'int8', shape, data: raw ? view(Int8Array) : Int8Array.from(t.int32Data ?? []) };
    case T.UINT8:
      return { name, dtype: 'uint8', shape, data: raw ? view(Uint8Array) : Uint8Array.from(t.int32Data ?? []) };
    case T.INT32:
      return { name, dtype: 'int32', shape, data: raw ? view(Int32Array) : Int32Array.from(t.int32Data ?? []) };
    case T.INT64:
      return {
        name,
        dtype: 'int64',
        shape,
        data: raw ? Array.from(view(BigInt64Array), Number) : (t.int64Data ?? []).map(num),
      };
    default:
      throw new Error(`Initializer '${name}' has ONNX data type ${t.dataType}, which Vigil does not read`);
  }
}

function attrOf(a: onnxProto.onnx.IAttributeProto): AttrValue {
  const A = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case A.INT:
      return num(a.i);
    case A.INTS:
      return (a.ints ?? []).map(num);
    case A.FLOAT:
      return { float: a.f ?? 0 };
    case A.FLOATS:
      return (a.floats ?? []).map(Number);
    case A.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    default:
      throw new Error(`Attribute '${a.name}' has ONNX attribute type ${a.type}, which Vigil does not read`);
  }
}

/** Reads ONNX protobuf bytes into an OnnxGraph (the inverse of OnnxGraph.encode for the ops and types Vigil writes). */
export function readOnnx(bytes: Uint8Array): OnnxGraph {
  const m = onnx.ModelProto.decode(bytes);
  const g = new OnnxGraph();
  const graph = m.graph;
  if (!graph) throw new Error('The ONNX model has no graph');
  for (const t of graph.initializer ?? []) g.initializers.set(t.name ?? '', tensorOf(t));
  for (const n of graph.node ?? []) {
    g.nodes.push({
      op: n.opType ?? '',
      name: n.name ?? '',
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', attrOf(a)])),
    });
  }
  const info = (v: onnxProto.onnx.IValueInfoProto) => ({
    name: v.name ?? '',
    shape: v.type?.tensorType?.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : num(d.dimValue))),
  });
  for (const v of graph.input ?? []) if (!g.initializers.has(v.name ?? '')) g.inputs.push(info(v));
  for (const v of graph.output ?? []) g.outputs.push(info(v));
  return g;
}
