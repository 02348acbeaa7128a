#pragma once
#include <napi.h>

namespace vigil {

// The GPU detector backends for JS (src/detect/GpuDetector.ts), both behind one handle:
// openTensorRt({ onnx, cacheDir, minBatch, optBatch, maxBatch, inputSize, numClasses, regMax,
//   scoreThreshold, iouThreshold, maxDetections }) → Promise<{ handle, maxBatch, cacheKey,
//   builtNow, log: string[] }> (building an engine takes minutes: on a worker thread);
// openInt8Engine({ program, options?, maxBatch, inputSize, numClasses, regMax, scoreThreshold,
//   iouThreshold, maxDetections }) → the same: Vigil's own INT8 engine (native/src/int8/), the
//   program and the options (Int8EngineOptions) checked before any GPU is looked for (throws);
// gpuEngineDetect(handle, input: Float32Array | GPU input batch, boxes: [{ scale, padX, padY,
//   srcWidth, srcHeight }]) → Promise<Uint8Array[]> (24-byte DetectionRecords per frame). Rejects
//   with TensorRT's or CUDA's reason; one batch at a time per handle.
Napi::Value OpenTensorRt(const Napi::CallbackInfo& info);
Napi::Value OpenInt8Engine(const Napi::CallbackInfo& info);
Napi::Value GpuEngineDetect(const Napi::CallbackInfo& info);

}  // namespace vigil
