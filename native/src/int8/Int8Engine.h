#pragma once
// Vigil's own INT8 inference engine: runs the program src/model/int8/program.ts lowers from a
// QDQ ONNX plan (src/model/int8/plan.ts) on any NVIDIA GPU from sm_61, no TensorRT. Every
// activation is NHWC ([batch, H, W, C], C padded to a multiple of 16 for int8), in buffers
// allocated once for the largest batch; INT8 convolutions are implicit GEMMs on the tensor
// cores (mma.sync m16n8k32, sm_80+) or dp4a (older GPUs, or Int8EngineOptions::kernel); each
// batch size runs as one CUDA graph, captured on its first use. The arithmetic is the
// reference's (src/model/int8/reference.ts): float32 with round-half-to-even requantization.
#include <memory>
#include <string>
#include <vector>

#include "infer/GpuEngine.h"
#include "int8/Int8EngineOptions.h"
#include "int8/Int8Program.h"

namespace vigil {

class Int8EngineChecks;

class Int8Engine final : public GpuEngine {
 public:
  // nullptr with `err` when the options or the program are inconsistent, there is no usable GPU,
  // or memory runs out. The settings and the program are checked before any GPU is looked for.
  // Opens on the calling thread's current device; the engine's device memory is its own.
  static std::unique_ptr<Int8Engine> open(Int8Program program, int maxBatch, const Int8EngineOptions& options,
                                          std::string& err);
  ~Int8Engine() override;
  Int8Engine(const Int8Engine&) = delete;
  Int8Engine& operator=(const Int8Engine&) = delete;

  float* input() const override;
  const std::vector<float*>& outputs() const override;
  const std::vector<std::string>& outputNames() const override;
  int maxBatch() const override;
  const std::string& cacheKey() const override;  // the kernel family: "vigil-int8 mma tf32x3 sm_90" or "… dp4a …"
  bool builtNow() const override { return false; }
  // The batch's CUDA graph on `stream` (captured on its first use for this batch and input).
  bool enqueue(int batch, void* stream, std::string& err, const float* input = nullptr) override;

 private:
  friend class Int8EngineChecks;  // checks and benches: ops one by one, buffers read back
  Int8Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
