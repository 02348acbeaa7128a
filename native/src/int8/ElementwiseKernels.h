#pragma once
// The INT8 engine's element-wise and pooling ops: memory bound, one thread per output element,
// or per four channels where every channel count, offset and stride is a multiple of 4. Each
// cudaX launches on `st` (with stream priority `priority`, or kNoPriority) and returns the
// launch's error; `n` images, `pixels` = n·H·W of the output.
#include <cuda_runtime.h>

#include "int8/KernelArgs.h"

namespace vigil {
namespace int8k {

// The engine input, float NCHW [n, C, S, S] (device memory), to int8 NHWC `out`; `space` 2:
// space to depth (each output pixel a 2×2 block of input pixels).
cudaError_t cudaQuantizeInput(const float* x, const Tensor& out, int n, int C, int S, int space, cudaStream_t st,
                              int priority);
// Per element: read (dequantize), activation, write (requantize).
cudaError_t cudaUnary(const Tensor& in, const Tensor& out, int pixels, int channels, UnaryAct act, float alpha,
                      cudaStream_t st, int priority);
cudaError_t cudaAdd(const Tensor& a, const Tensor& b, const Tensor& out, int pixels, int channels, cudaStream_t st,
                    int priority);
cudaError_t cudaMaxPool(const Tensor& in, const Tensor& out, int n, int channels, int kh, int kw, int sh, int sw,
                        int pt, int pl, cudaStream_t st, int priority);
// Bilinear, half_pixel.
cudaError_t cudaResize(const Tensor& in, const Tensor& out, int n, int channels, float scaleY, float scaleX,
                       cudaStream_t st, int priority);
// `value` where the output lies outside the input (top/left pads pt, pl).
cudaError_t cudaPad(const Tensor& in, const Tensor& out, int n, int channels, int pt, int pl, float value,
                    cudaStream_t st, int priority);

}  // namespace int8k
}  // namespace vigil
