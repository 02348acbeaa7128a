#include "int8/Stem.h"

#include "int8/Arith.cuh"

namespace vigil {
namespace int8k {

// Whether every op of the epilogue is monotone non-decreasing in float32 as the kernels compute it
// (the stem may then pool first).
bool monotone(const Int8ConvEpilogue& e) {
  for (int k = 0; k < e.n; ++k) {
    if (e.op[k] == EpilogueOp::Sigmoid) return false;
    if (e.op[k] == EpilogueOp::LeakyRelu && !(e.arg[k] >= 0.f)) return false;
  }
  return true;
}

namespace {

__global__ void __launch_bounds__(256) stemKernel(StemArgs a) {
  __shared__ int8_t xq[kStemC][kStemIY][kStemIX + 1];
  __shared__ float conv[kStemCY * kStemCX * kStemLd];
  __shared__ __align__(16) float ws[kStemC * 9 * kStemO];
  const int tid = threadIdx.x, img = blockIdx.z;
  const int py0 = blockIdx.y * kStemPY, px0 = blockIdx.x * kStemPX;
  const int iy0 = 4 * py0 - 3, ix0 = 4 * px0 - 3;  // input under convolution output (2·py0 − 1, 2·px0 − 1)'s first tap
  const float* x = a.x + static_cast<size_t>(img) * kStemC * a.S * a.S;
  // Every load of the block issued before any is used (latency: one round trip, not thirteen);
  // outside the image 0, whose code is 0.
  constexpr int kIn = kStemC * kStemIY * kStemIX, kPer = (kIn + 255) / 256, kW = kStemC * 9 * kStemO;
  float v[kPer], wv[(kW + 255) / 256];
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int i = tid + j * 256;
    const int c = i / (kStemIY * kStemIX), r = i - c * (kStemIY * kStemIX);
    const int yy = r / kStemIX, xx = r - yy * kStemIX;
    const int gy = iy0 + yy, gx = ix0 + xx;
    v[j] = i < kIn && gy >= 0 && gy < a.S && gx >= 0 && gx < a.S ? __ldg(x + (c * a.S + gy) * a.S + gx) : 0.f;
  }
#pragma unroll
  for (int j = 0; j < (kW + 255) / 256; ++j) wv[j] = tid + j * 256 < kW ? __ldg(a.w + tid + j * 256) : 0.f;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int i = tid + j * 256;
    if (i < kIn)
      (&xq[0][0][0])[(i / kStemIX) * (kStemIX + 1) + i % kStemIX] =
          static_cast<int8_t>(quantizeCodeFast(v[j], a.s, a.inv));
  }
#pragma unroll
  for (int j = 0; j < (kW + 255) / 256; ++j)
    if (tid + j * 256 < kW) ws[tid + j * 256] = wv[j];
  __syncthreads();
  if (tid < kStemCY * kStemCX) {
    const int cy = tid / kStemCX, cx = tid - cy * kStemCX;
    const int gy = 2 * py0 - 1 + cy, gx = 2 * px0 - 1 + cx;
    float* dst = conv + tid * kStemLd;
    if (gy < 0 || gy >= a.convH || gx < 0 || gx >= a.convW) {
#pragma unroll
      for (int o = 0; o < kStemO; ++o) dst[o] = -INFINITY;
    } else {
      float acc[kStemO];
#pragma unroll
      for (int o = 0; o < kStemO; ++o) acc[o] = 0.f;
#pragma unroll
      for (int c = 0; c < kStemC; ++c)
#pragma unroll
        for (int t = 0; t < 9; ++t) {
          const float v = __fmul_rn(static_cast<float>(xq[c][2 * cy + t / 3][2 * cx + t % 3]), a.s);
          const float4* w4 = reinterpret_cast<const float4*>(ws + (c * 9 + t) * kStemO);
#pragma unroll
          for (int q = 0; q < kStemO / 4; ++q) {
            const float4 w = w4[q];
            acc[4 * q] = __fmaf_rn(v, w.x, acc[4 * q]);
            acc[4 * q + 1] = __fmaf_rn(v, w.y, acc[4 * q + 1]);
            acc[4 * q + 2] = __fmaf_rn(v, w.z, acc[4 * q + 2]);
            acc[4 * q + 3] = __fmaf_rn(v, w.w, acc[4 * q + 3]);
          }
        }
#pragma unroll
      for (int o = 0; o < kStemO; ++o) dst[o] = __fadd_rn(__fadd_rn(0.f, acc[o]), a.bias ? a.bias[o] : 0.f);
    }
  }
  __syncthreads();
  // Unless it runs after the pool: the epilogue in one compact loop over the tile (32 unrolled
  // copies of it made this kernel large machine code); outputs outside the convolution stay −∞.
#pragma unroll 1
  for (int i = tid; i < (a.poolFirst ? 0 : kStemCY * kStemCX * kStemO); i += 256) {
    const int p = i / kStemO, o = i - p * kStemO;
    const int cy = p / kStemCX, cx = p - cy * kStemCX;
    const int gy = 2 * py0 - 1 + cy, gx = 2 * px0 - 1 + cx;
    if (gy < 0 || gy >= a.convH || gx < 0 || gx >= a.convW) continue;
    int code = 0;
    float* v = conv + p * kStemLd + o;
    *v = epilogue(*v, a.e, a.e.n, &code);
  }
  __syncthreads();
  for (int i = tid; i < kStemPY * kStemPX * kStemO; i += 256) {
    const int o = i % kStemO, p = i / kStemO;
    const int py = p / kStemPX, px = p - py * kStemPX;
    const int gy = py0 + py, gx = px0 + px;
    if (gy >= a.out.H || gx >= a.out.W) continue;
    float m = -INFINITY;
#pragma unroll
    for (int ky = 0; ky < 3; ++ky)
#pragma unroll
      for (int kx = 0; kx < 3; ++kx) m = fmaxf(m, conv[((2 * py + ky) * kStemCX + 2 * px + kx) * kStemLd + o]);
    if (a.poolFirst) {
      int code = 0;
      m = epilogue(m, a.e, a.e.n, &code);
    }
    static_cast<float*>(a.out.p)[((img * a.out.H + gy) * a.out.W + gx) * a.out.C + a.out.off + o] = m;
  }
}

}  // namespace

cudaError_t cudaStem(const StemArgs& a, int n, cudaStream_t st, int priority) {
  const dim3 grid((a.out.W + kStemPX - 1) / kStemPX, (a.out.H + kStemPY - 1) / kStemPY, n);
  return launchKernel(stemKernel, grid, 256, st, priority, a);
}

}  // namespace int8k
}  // namespace vigil
