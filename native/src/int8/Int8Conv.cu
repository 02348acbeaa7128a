#include "int8/Int8Conv.h"

#include <cuda_runtime.h>

#include "cuda/CudaCheck.h"

namespace vigil {

namespace {

__device__ __forceinline__ float requantize(float y, float s, int* code) {
  float q = rintf(__fdiv_rn(y, s));  // round half to even (the default rounding mode)
  q = fminf(127.f, fmaxf(-128.f, q));
  *code = static_cast<int>(q);
  return __fmul_rn(q, s);
}

__global__ void int8ConvKernel(Int8ConvShape s, Int8ConvEpilogue e, const int8_t* __restrict__ x,
                               const int8_t* __restrict__ w, const int32_t* __restrict__ bias,
                               const float* __restrict__ mult, void* out) {
  const long total = static_cast<long>(s.O) * s.Ho * s.Wo;
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int ox = static_cast<int>(i % s.Wo);
  const int oy = static_cast<int>((i / s.Wo) % s.Ho);
  const int o = static_cast<int>(i / (static_cast<long>(s.Wo) * s.Ho));
  const int cpg = s.C / s.group;
  const int g = o / (s.O / s.group);
  int acc = bias ? bias[o] : 0;
  for (int ci = 0; ci < cpg; ++ci) {
    const int c = g * cpg + ci;
    const int8_t* wo = w + ((static_cast<long>(o) * cpg + ci) * s.kh) * s.kw;
    for (int ky = 0; ky < s.kh; ++ky) {
      const int iy = oy * s.sh - s.pt + ky * s.dh;
      if (iy < 0 || iy >= s.H) continue;
      const int8_t* row = x + (static_cast<long>(c) * s.H + iy) * s.W;
      for (int kx = 0; kx < s.kw; ++kx) {
        const int ix = ox * s.sw - s.pl + kx * s.dw;
        if (ix >= 0 && ix < s.W) acc += static_cast<int>(row[ix]) * static_cast<int>(wo[ky * s.kw + kx]);
      }
    }
  }
  float y = __fmul_rn(static_cast<float>(acc), mult[o]);
  int code = 0;
  for (int k = 0; k < e.n; ++k) {
    switch (e.op[k]) {
      case EpilogueOp::Requantize:
        y = requantize(y, e.arg[k], &code);
        break;
      case EpilogueOp::LeakyRelu:
        y = y < 0.f ? __fmul_rn(y, e.arg[k]) : y;
        break;
      case EpilogueOp::Relu:
        y = fmaxf(0.f, y);
        break;
      case EpilogueOp::Sigmoid:
        y = 1.f / (1.f + expf(-y));
        break;
    }
  }
  if (e.int8Out)
    static_cast<int8_t*>(out)[i] = static_cast<int8_t>(code);
  else
    static_cast<float*>(out)[i] = y;
}

}  // namespace

bool int8ConvFromHost(const Int8ConvShape& s, const Int8ConvEpilogue& e, const int8_t* x, const int8_t* w,
                      const int32_t* bias, const float* mult, void* out, std::string& err) {
  const size_t nx = static_cast<size_t>(s.C) * s.H * s.W;
  const size_t nw = static_cast<size_t>(s.O) * (s.C / s.group) * s.kh * s.kw;
  const size_t ny = static_cast<size_t>(s.O) * s.Ho * s.Wo;
  const size_t outBytes = ny * (e.int8Out ? 1 : 4);
  int8_t *dx = nullptr, *dw = nullptr;
  int32_t* db = nullptr;
  float* dm = nullptr;
  void* dy = nullptr;
  auto fail = [&](cudaError_t rc, const char* what) {
    err = std::string(what) + ": " + cudaGetErrorString(rc);
    return false;
  };
  cudaError_t rc = cudaSuccess;
  bool ok = true;
  if ((rc = cudaMalloc(&dx, nx)) != cudaSuccess || (rc = cudaMalloc(&dw, nw)) != cudaSuccess ||
      (rc = cudaMalloc(&dm, s.O * sizeof(float))) != cudaSuccess || (rc = cudaMalloc(&dy, outBytes)) != cudaSuccess ||
      (bias && (rc = cudaMalloc(&db, s.O * sizeof(int32_t))) != cudaSuccess)) {
    ok = fail(rc, "cudaMalloc");
  } else if ((rc = cudaMemcpy(dx, x, nx, cudaMemcpyHostToDevice)) != cudaSuccess ||
             (rc = cudaMemcpy(dw, w, nw, cudaMemcpyHostToDevice)) != cudaSuccess ||
             (rc = cudaMemcpy(dm, mult, s.O * sizeof(float), cudaMemcpyHostToDevice)) != cudaSuccess ||
             (bias && (rc = cudaMemcpy(db, bias, s.O * sizeof(int32_t), cudaMemcpyHostToDevice)) != cudaSuccess)) {
    ok = fail(rc, "cudaMemcpy to the device");
  } else {
    const int threads = 256;
    const unsigned blocks = static_cast<unsigned>((ny + threads - 1) / threads);
    int8ConvKernel<<<blocks, threads>>>(s, e, dx, dw, db, dm, dy);
    if ((rc = cudaGetLastError()) != cudaSuccess)
      ok = fail(rc, "int8 conv launch");
    else if ((rc = cudaMemcpy(out, dy, outBytes, cudaMemcpyDeviceToHost)) != cudaSuccess)
      ok = fail(rc, "cudaMemcpy to the host");
  }
  cudaFree(dx);
  cudaFree(dw);
  cudaFree(db);
  cudaFree(dm);
  cudaFree(dy);
  return ok;
}

}  // namespace vigil
