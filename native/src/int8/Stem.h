#pragma once
// NanoDet's first layers in one kernel (program.ts stemOf).
#include <cuda_runtime.h>

#include "int8/KernelArgs.h"

namespace vigil {
namespace int8k {

// The float input quantized (QuantizeInput's codes) and read back dequantized (q·s), a 3×3
// stride-2 convolution of 3 → 32 channels summed as convFloatKernel sums it (one chain of 27
// fused multiply-adds, channel then tap, taps outside the image adding zero products; added to
// zero, then the bias), its epilogue, then the 3×3 stride-2 max-pool (pads 1: taps outside
// skipped, the rest in order). Neither the int8 input nor the convolution's float output is
// stored. A block makes 7×8 pooled pixels of one image from the 15×17 convolution outputs under
// them (shared memory; those outside the image are −∞, which the max leaves out), which read
// 31×35 input pixels.
constexpr int kStemPY = 7, kStemPX = 8;
constexpr int kStemCY = 2 * kStemPY + 1, kStemCX = 2 * kStemPX + 1;  // 255 convolution outputs: one a thread
constexpr int kStemIY = 2 * kStemCY + 1, kStemIX = 2 * kStemCX + 1;
constexpr int kStemC = 3, kStemO = 32,
              kStemLd = kStemO + 1;  // a row of 32 outputs and one float of padding (no bank conflicts)

struct StemArgs {
  const float* x;  // the engine input, float NCHW [n, 3, S, S]
  int S;
  float s, inv;  // the input's quantize scale, 1/scale
  int convH, convW;
  const float* w;     // [27, 32], k = channel·9 + tap (the float sum's order)
  const float* bias;  // [32] or null
  Int8ConvEpilogue e;
  // The epilogue is monotone (requantize, ReLU, LeakyReLU with alpha ≥ 0): max(f(x)) = f(max(x))
  // exactly, so it runs on the pooled values (a quarter as many) rather than on every convolution
  // output. Otherwise every convolution output goes through it before the pool.
  bool poolFirst;
  Tensor out;  // the max-pool's output, float
};

// Whether every op of the epilogue is monotone non-decreasing in float32 as the kernels compute it
// (the stem may then pool first).
bool monotone(const Int8ConvEpilogue& e);

// The stem convolution's output size (square: the engine input is square).
inline int stemConvSize(const Int8Program& p, const ProgramOp& op) {
  return (p.inputSize + 2 * op.pt - op.kh) / op.sh + 1;
}

// The stem of `n` images on `st` (priority `priority`, or kNoPriority); the launch's error.
cudaError_t cudaStem(const StemArgs& a, int n, cudaStream_t st, int priority);

}  // namespace int8k
}  // namespace vigil
