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

// The `cuda` backend, Vigil's own INT8 engine (native/src/cuda/Int8Engine.h):
// openInt8Engine({ program, maxBatch, inputSize, numClasses, regMax, scoreThreshold,
//   iouThreshold, maxDetections }) → Promise<{ handle, maxBatch, cacheKey, builtNow, log }>: a
//   handle tensorRtDetect takes as well. For checks and bench:infer, on that handle:
// int8EngineRun(handle, { input?, batch, iterations, graphs, profile }) → Promise<{ gpuMs, wallMs,
//   opMs }> (profile: each op timed alone, the mean per op);
// int8EngineRead(handle, bufferName, image) → Uint8Array (the buffer as stored, NHWC).
Napi::Value OpenInt8Engine(const Napi::CallbackInfo& info);
Napi::Value Int8EngineRun(const Napi::CallbackInfo& info);
Napi::Value Int8EngineRead(const Napi::CallbackInfo& info);

}  // namespace vigil
