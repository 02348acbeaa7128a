#pragma once
// The INT8 engine's tensor-core convolutions (sm_80+): an implicit GEMM of output pixels ×
// output channels × K, int8 (mma.sync m16n8k32 s8 → s32) or float as 3×TF32 (m16n8k8). Each
// cudaX launches on `st` (priority `priority`, or kNoPriority) and returns the first failed call.
#include <cuda_runtime.h>

#include "int8/KernelArgs.h"

namespace vigil {
namespace int8k {

// Whether this build carries mma code for the current device (binary sm_80 or newer).
bool convMmaCompiled();

// An INT8 convolution in bm×bn tiles (bm 64 or 128 rows, bn 32 or 64 channels), K split in
// `splits` along a.chunksPerSplit stages each. splits > 1: a.partial (device, a.M·a.O int32) is
// cleared, the splits add into it, and a second kernel runs the epilogue.
cudaError_t cudaConvMmaInt8(const ConvArgs& a, int bm, int bn, int splits, cudaStream_t st, int priority);

// A float convolution as 3×TF32 (a.wt the split weights, a.Kpad their K) in 128×bn tiles.
cudaError_t cudaConvMmaTf32(const ConvArgs& a, int bn, cudaStream_t st, int priority);

}  // namespace int8k
}  // namespace vigil
