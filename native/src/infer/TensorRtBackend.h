#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "infer/GpuEngine.h"

namespace vigil {

// What this build and machine say about TensorRT. `compiled`: the backend was built (against
// TensorRT's public headers); `available`: libnvinfer and libnvonnxparser load here (dlopen,
// at run time: no link-time dependency), with their version, else `reason`.
struct TrtStatus {
  bool compiled = false;
  int headerVersion = 0;  // e.g. 110100 for 11.1.0
  bool available = false;
  int libraryVersion = 0;
  std::string reason;
};

// Any thread; the libraries are looked for once per process.
TrtStatus tensorRtStatus();

struct TrtEngineOptions {
  std::string onnxPath;                           // the QDQ (or FP32) ONNX every backend loads
  std::string cacheDir;                           // serialized engines, one file per key
  int minBatch = 1, optBatch = 8, maxBatch = 32;  // the optimization profile (a fixed-batch ONNX pins it)
};

// One TensorRT engine built from the ONNX (explicit quantization: the Q/DQ nodes decide INT8),
// serialized to `cacheDir` under a key of GPU, TensorRT version, model hash, precision and batch
// shape, and loaded from there when the key matches. I/O buffers in device memory, allocated
// once for maxBatch; enqueue() runs on the caller's CUDA stream (enqueueV3). Used by one thread
// (the GPU's inference thread).
class TrtEngine final : public GpuEngine {
 public:
  // nullptr with `err` when TensorRT is unavailable, the model does not parse or build, or the
  // cache cannot be written. `progress` gets build messages (a build takes minutes), on the
  // calling thread, until open() returns.
  static std::unique_ptr<TrtEngine> open(const TrtEngineOptions& opts,
                                         const std::function<void(const std::string&)>& progress, std::string& err);
  ~TrtEngine() override;
  TrtEngine(const TrtEngine&) = delete;
  TrtEngine& operator=(const TrtEngine&) = delete;

  // Device buffers: the input [maxBatch, 3, S, S] and each output, in engine order.
  float* input() const override;
  const std::vector<float*>& outputs() const override;
  const std::vector<std::string>& outputNames() const override;
  int maxBatch() const override;
  const std::string& cacheKey() const override;
  bool builtNow() const override;  // false: loaded from the cache
  // Enqueues inference of `batch` frames on `stream` (a cudaStream_t); asynchronous. `input`:
  // device memory holding the batch (a DeviceBatch the letterbox wrote), else input().
  bool enqueue(int batch, void* stream, std::string& err, const float* input = nullptr) override;

 private:
  TrtEngine();
  static std::unique_ptr<TrtEngine> openWith(const TrtEngineOptions& opts,
                                             const std::function<void(const std::string&)>& progress, std::string& err);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
