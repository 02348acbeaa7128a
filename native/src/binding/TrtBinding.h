#pragma once
#include <napi.h>

namespace vigil {

// The `tensorrt` detector backend for JS (src/detect/TrtDetector.ts):
// openTensorRt({ onnx, cacheDir, minBatch, optBatch, maxBatch, inputSize, numClasses, regMax,
//   scoreThreshold, iouThreshold, maxDetections }) → Promise<{ handle, maxBatch, cacheKey,
//   builtNow, log: string[] }> (building an engine takes minutes: on a worker thread);
// tensorRtDetect(handle, input: Float32Array, boxes: [{ scale, padX, padY, srcWidth, srcHeight }])
//   → Promise<Uint8Array[]> (24-byte DetectionRecords per frame). Rejects with TensorRT's or
//   CUDA's reason; one batch at a time per handle.
Napi::Value OpenTensorRt(const Napi::CallbackInfo& info);
Napi::Value TensorRtDetect(const Napi::CallbackInfo& info);

}  // namespace vigil
