import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * ONNX Runtime's CPU kernels fuse QDQ into QLinear ops fastest with uint8 activations (U8S8).
 * A symmetric int8 activation (zero point 0) is the same grid as uint8 with zero point 128, so
 * the int8 QDQ file (the form TensorRT reads) is lowered at load time: every scalar int8 zero
 * point becomes uint8 128. Weights (per-channel int8, 1-D zero points) stay as they are.
 *
 * A ReLU's output (Relu → QuantizeLinear) gets uint8 zero point 0 instead, the same step: ONNX
 * Runtime then folds the ReLU into the QuantizeLinear and the op before it into a QLinear op
 * (Conv+ReLU → QLinearConv). Its grid covers [0, 255·scale] where the int8 one stops at 127·scale,
 * so values above the calibrated threshold are kept rather than clipped.
 * Returns null when the model has no such zero points (an FP32 model).
 */
export function lowerQdqForOrtCpu(model: Uint8Array): Uint8Array | null {
  const m = onnx.ModelProto.decode(model);
  const graph = m.graph;
  const producer = new Map<string, string>();
  for (const n of graph?.node ?? []) for (const o of n.output ?? []) producer.set(o, n.opType ?? '');
  // Zero points of the Q nodes after a ReLU, unless another Q shares them.
  const afterRelu = new Set<string>();
  const otherQ = new Set<string>();
  for (const n of graph?.node ?? []) {
    if (n.opType !== 'QuantizeLinear' || !n.input?.[2]) continue;
    (producer.get(n.input[0]!) === 'Relu' ? afterRelu : otherQ).add(n.input[2]);
  }
  let changed = 0;
  for (const t of graph?.initializer ?? []) {
    if (t.dataType === onnx.TensorProto.DataType.INT8 && (t.dims ?? []).length === 0) {
      const raw = t.rawData && t.rawData.length ? t.rawData[0] : (t.int32Data?.[0] ?? 0);
      if (raw !== 0)
        throw new Error(`Activation zero point ${t.name} is ${raw}: Vigil writes symmetric (0) zero points`);
      t.dataType = onnx.TensorProto.DataType.UINT8;
      t.rawData = Uint8Array.of(afterRelu.has(t.name ?? '') && !otherQ.has(t.name ?? '') ? 0 : 128);
      t.int32Data = [];
      changed++;
    }
  }
  return changed ? onnx.ModelProto.encode(m).finish() : null;
}
