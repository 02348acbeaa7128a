#pragma once
// The INT8 engine's float convolutions on the CUDA cores (FP32 layers, and int8 ones whose output
// stays float), each output summed in ONNX Runtime's MLAS order (plan.ts FloatSum: a.sumBlock,
// a.sumRestart). Launches on `st` (priority `priority`, or kNoPriority), returns the launch's error.
#include <cuda_runtime.h>

#include "int8/KernelArgs.h"

namespace vigil {
namespace int8k {

cudaError_t cudaConvFloat(const ConvArgs& a, cudaStream_t st, int priority);

}  // namespace int8k
}  // namespace vigil
