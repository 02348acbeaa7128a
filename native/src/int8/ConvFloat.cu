#include "int8/ConvFloat.h"

#include "int8/ConvCommon.cuh"

namespace vigil {
namespace int8k {

namespace {

// Where float K index k reads: channel c of tap (ky, kx), in the float sum's K order (blocks of
// sumBlock channels, taps, the block's channels; only the last block may be short, and then
// only with one tap).
struct FloatTerm {
  int blk, n, tap, ci;  // block, its channels, tap, channel within the block
};
__device__ __forceinline__ FloatTerm floatTermOf(const ConvArgs& a, int k) {
  const int taps = a.kh * a.kw;
  FloatTerm t;
  t.blk = k / (a.sumBlock * taps);
  t.n = max(1, min(a.sumBlock, a.C - t.blk * a.sumBlock));  // 1 past K (never read)
  const int r = k - t.blk * a.sumBlock * taps;
  t.tap = r / t.n;
  t.ci = r - t.tap * t.n;
  return t;
}

// A float convolution's epilogue from its output tile in shared memory ([rows][cols] sums with
// their bias, pixels m0…, channels n0…) in one compact loop (not unrolled over a thread's outputs:
// unrolled copies of the epilogue made these kernels half a megabyte of machine code), four
// channels a thread, a warp along a pixel's channels.
__device__ __forceinline__ void convFloatTileEpilogue(const ConvArgs& a, const float* tile, int rows, int cols, int m0,
                                                      int n0) {
  const bool quadsOk = ((a.out.C | a.out.off | a.aux.C | a.aux.off) & 3) == 0;  // four channels in one store
#pragma unroll 1
  for (int i = threadIdx.x; i < rows * cols / 4; i += blockDim.x) {
    const int r = i / (cols / 4), c = (i - r * (cols / 4)) * 4;
    const int m = m0 + r, o = n0 + c;
    if (m >= a.M || o >= a.O) continue;
    const float4 y = *reinterpret_cast<const float4*>(tile + r * cols + c);
    if (quadsOk && o + 3 < a.O) {
      int x[4] = {0, 0, 0, 0};
      const float4 v =
          make_float4(convValue(a, a.lut, a.auxLut, y.x, &x[0]), convValue(a, a.lut, a.auxLut, y.y, &x[1]),
                      convValue(a, a.lut, a.auxLut, y.z, &x[2]), convValue(a, a.lut, a.auxLut, y.w, &x[3]));
      if (a.aux.p)
        *reinterpret_cast<char4*>(static_cast<int8_t*>(a.aux.p) + m * a.aux.C + a.aux.off + o) =
            make_char4(x[0], x[1], x[2], x[3]);
      const int at = m * a.out.C + a.out.off + o;
      if (a.e.int8Out) {
        *reinterpret_cast<char4*>(static_cast<int8_t*>(a.out.p) + at) =
            make_char4(static_cast<signed char>(v.x), static_cast<signed char>(v.y), static_cast<signed char>(v.z),
                       static_cast<signed char>(v.w));
      } else {
        *reinterpret_cast<float4*>(static_cast<float*>(a.out.p) + at) = v;
      }
      continue;
    }
#pragma unroll 1
    for (int j = 0; j < 4 && o + j < a.O; ++j)
      convStore(a, a.lut, a.auxLut, m, o + j, j == 0 ? y.x : j == 1 ? y.y : j == 2 ? y.z : y.w);
  }
}

// Float convolution (FP32 layers, and int8 ones whose output stays float: dequantized input,
// weights and bias): an implicit GEMM on the CUDA cores, BM pixels × BN channels a block of 256
// threads (BM·BN = 4096: 128×32 or 64×64), 16 of K a step through shared memory, each thread 4
// pixels × 4 channels. Each output sums as ONNX Runtime's MLAS does (plan.ts FloatSum, the
// reference's order): one fused multiply-add a term in K order into a partial sum from zero,
// added into the total every sumRestart terms, the bias added last; taps outside the image add
// nothing. The order only decides which K index a step reads and adds a flush every sumRestart
// terms: the work is spread over the outputs as before.
constexpr int kFloatBK = 16;

// Three blocks an SM (79 registers). 8×4 outputs a thread were slower: 128 registers leave only
// two blocks an SM to hide the loads.
template <int BM, int BN>
__global__ void __launch_bounds__(256, 3) convFloatKernel(ConvArgs a) {
  static_assert(BM * BN == 4096, "256 threads of 4×4 outputs");
  constexpr int KPT = 16 * BM / 256;  // K values a thread loads a step, for one pixel
  // The two stages of A and B, and after the last step the output tile (the epilogue's staging).
  constexpr int kStages = 2 * kFloatBK * (BM + BN), kSmem = kStages > BM * BN ? kStages : BM * BN;
  __shared__ __align__(16) float smem[kSmem];
  float(*As)[kFloatBK][BM] = reinterpret_cast<float(*)[kFloatBK][BM]>(smem);
  float(*Bs)[kFloatBK][BN] = reinterpret_cast<float(*)[kFloatBK][BN]>(smem + 2 * kFloatBK * BM);
  const int tid = threadIdx.x;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int K = a.kh * a.kw * a.C;
  // This thread's loads: KPT consecutive K values of one pixel (a block's channels of one tap:
  // reads along NHWC's channels; or one channel's taps where blocks are one channel),
  // neighbouring threads the rest of that pixel's 16.
  constexpr int TPR = 16 / KPT;  // threads a pixel
  const int lm = tid / TPR, lk = (tid % TPR) * KPT;
  const bool lmOk = m0 + lm < a.M;
  const Origin org = originOf(a, lmOk ? m0 + lm : 0);
  // Its outputs: pixels tm…tm+3, channels tn…tn+3. A warp spans 8 pixel groups × 4 channel
  // groups, so its shared-memory reads are 8 distinct float4 of A and 4 of B (broadcasts).
  constexpr int MG = BM / 4, WM = MG / 8;  // pixel groups; warps along the pixels
  const int warp = tid >> 5, lane = tid & 31;
  const int tm = ((warp % WM) * 8 + (lane & 7)) * 4, tn = ((warp / WM) * 4 + (lane >> 3)) * 4;
  float acc[4][4], total[4][4];  // the partial sum since the last restart; the sum of the partials
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = total[i][j] = 0.f;
  // Two shared-memory stages: the next step's values are fetched into registers while this
  // step computes, then stored into the other stage (one barrier a step).
  constexpr int BPT = kFloatBK * BN / 256;  // B values a thread loads a step
  float ra[KPT], rb[BPT];
  const int taps = a.kh * a.kw;
  // Vec: where step k0's 16 K values read (one tap's 16 consecutive channels), advanced a step
  // at a time (no divisions): channel vc0 + vci of tap (vky, vkx); vn: the block's channels.
  int vc0 = 0, vci = 0, vn = a.taps1 ? a.C : min(a.sumBlock, a.C), vtap = 0, vky = 0, vkx = 0;
  auto fetch = [&](int k0) {
    if (a.vec) {
      const int iy = org.iy0 + vky, ix = org.ix0 + vkx;
      const bool ok = lmOk && iy >= 0 && iy < a.in.H && ix >= 0 && ix < a.in.W;
      const int at = (org.base + iy * a.in.W + ix) * a.in.C + a.in.off + vc0 + vci + lk;
      vci += kFloatBK;
      if (vci == vn) {  // the block's channels done for this tap: the next tap, or the next block
        vci = 0;
        if (++vkx == a.kw) {
          vkx = 0;
          ++vky;
        }
        if (++vtap == taps) {
          vtap = vky = vkx = 0;
          vc0 += vn;
          vn = min(a.sumBlock, a.C - vc0);
        }
      }
#pragma unroll
      for (int j = 0; j < KPT; j += 4) {
        const float4 v = ok ? load4(a.in.p, at + j, a.in.int8, a.in.scale) : make_float4(0.f, 0.f, 0.f, 0.f);
        ra[j] = v.x;
        ra[j + 1] = v.y;
        ra[j + 2] = v.z;
        ra[j + 3] = v.w;
      }
    } else {
      int k = k0 + lk;
      FloatTerm t = floatTermOf(a, k);
      int ky = t.tap / a.kw, kx = t.tap - ky * a.kw;
#pragma unroll
      for (int j = 0; j < KPT; ++j, ++k) {
        const int iy = org.iy0 + ky, ix = org.ix0 + kx;
        const int c = t.blk * a.sumBlock + t.ci;
        ra[j] = lmOk && k < K && iy >= 0 && iy < a.in.H && ix >= 0 && ix < a.in.W
                    ? loadValue(a.in.p, (org.base + iy * a.in.W + ix) * a.in.C + a.in.off + c, a.in.int8, a.in.scale)
                    : 0.f;
        if (++t.ci == t.n) {
          t.ci = 0;
          if (++kx == a.kw) {
            kx = 0;
            ++ky;
          }
          if (++t.tap == taps) {
            t.tap = ky = kx = 0;
            ++t.blk;
            t.n = max(1, min(a.sumBlock, a.C - t.blk * a.sumBlock));
          }
        }
      }
    }
#pragma unroll
    for (int j = 0; j < BPT; ++j) {
      const int e = tid + j * 256;
      const int kr = e / BN, n = e - kr * BN;
      rb[j] = k0 + kr < K && n0 + n < a.O ? __ldg(a.wf + (k0 + kr) * a.O + n0 + n) : 0.f;
    }
  };
  auto put = [&](int stage) {
#pragma unroll
    for (int j = 0; j < KPT; ++j) As[stage][lk + j][lm] = ra[j];
#pragma unroll
    for (int j = 0; j < BPT; ++j) {
      const int e = tid + j * 256;
      Bs[stage][e / BN][e % BN] = rb[j];
    }
  };
  fetch(0);
  put(0);
  __syncthreads();
  int cur = 0;
  int restartAt = min(a.sumRestart, K);  // uniform over the block: no divergence
  // Whole steps (K and the restart both multiples of 16, the vec layouts): the step's 16 terms
  // with no checks between them, the restart checked once a step.
  const bool whole = a.vec && a.sumRestart % kFloatBK == 0;
  auto flush = [&]() {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        total[i][j] = __fadd_rn(total[i][j], acc[i][j]);
        acc[i][j] = 0.f;
      }
    restartAt = min(restartAt + a.sumRestart, K);
  };
  auto term = [&](int kk) {
    const float4 x = *reinterpret_cast<const float4*>(&As[cur][kk][tm]);
    const float4 w = *reinterpret_cast<const float4*>(&Bs[cur][kk][tn]);
    const float xs[4] = {x.x, x.y, x.z, x.w}, ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = __fmaf_rn(xs[i], ws[j], acc[i][j]);
  };
  for (int k0 = 0; k0 < K; k0 += kFloatBK) {
    const bool more = k0 + kFloatBK < K;
    if (more) fetch(k0 + kFloatBK);
    if (whole) {
#pragma unroll
      for (int kk = 0; kk < kFloatBK; ++kk) term(kk);
      if (k0 + kFloatBK == restartAt) flush();
      if (more) put(cur ^ 1);
      __syncthreads();
      cur ^= 1;
      continue;
    }
#pragma unroll 1
    for (int kk = 0; kk < kFloatBK; ++kk) {
      if (k0 + kk >= K) break;
      term(kk);
      if (k0 + kk + 1 == restartAt) flush();
    }
    if (more) put(cur ^ 1);
    __syncthreads();
    cur ^= 1;
  }
  // The bias last, as MLAS adds it (after the last partial, before the activation).
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float b = a.biasf && n0 + tn + j < a.O ? a.biasf[n0 + tn + j] : 0.f;
#pragma unroll
    for (int i = 0; i < 4; ++i) total[i][j] = __fadd_rn(total[i][j], b);
  }
  // The epilogue from shared memory (convFloatTileEpilogue).
#pragma unroll
  for (int i = 0; i < 4; ++i)
    *reinterpret_cast<float4*>(smem + (tm + i) * BN + tn) =
        make_float4(total[i][0], total[i][1], total[i][2], total[i][3]);
  __syncthreads();
  convFloatTileEpilogue(a, smem, BM, BN, m0, n0);
}

}  // namespace

cudaError_t cudaConvFloat(const ConvArgs& a, cudaStream_t st, int priority) {
  if (a.O <= 32) return launchKernel(convFloatKernel<128, 32>, dim3((a.M + 127) / 128, 1), 256, st, priority, a);
  return launchKernel(convFloatKernel<64, 64>, dim3((a.M + 63) / 64, (a.O + 63) / 64), 256, st, priority, a);
}

}  // namespace int8k
}  // namespace vigil
