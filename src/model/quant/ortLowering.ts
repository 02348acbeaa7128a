import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * ONNX Runtime's CPU kernels fuse QDQ into QLinear ops fastest with uint8 activations (U8S8).
 * A symmetric int8 activation (zero point 0) is the same grid as uint8 with zero point 128, so
 * the int8 QDQ file (the form TensorRT reads) is lowered at load time: every scalar int8 zero
 * point becomes uint8 128. Weights (per-channel int8, 1-D zero points) stay as they are.
 * Returns null when the model has no such zero points (an FP32 model).
 */
export function lowerQdqForOrtCpu(model: Uint8Array): Uint8Array | null {
  const m = onnx.ModelProto.decode(model);
  let changed = 0;
  for (const t of m.graph?.initializer ?? []) {
    if (t.dataType === onnx.TensorProto.DataType.INT8 && (t.dims ?? []).length === 0) {
      const raw = t.rawData && t.rawData.length ? t.rawData[0] : (t.int32Data?.[0] ?? 0);
      if (raw !== 0)
        throw new Error(`Activation zero point ${t.name} is ${raw}: Vigil writes symmetric (0) zero points`);
      t.dataType = onnx.TensorProto.DataType.UINT8;
      t.rawData = Uint8Array.of(128);
      t.int32Data = [];
      changed++;
    }
  }
  return changed ? onnx.ModelProto.encode(m).finish() : null;
}
