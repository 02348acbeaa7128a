#include "int8/ConvMma.h"

#include <type_traits>

#include "int8/ConvCommon.cuh"

namespace vigil {
namespace int8k {

namespace {

// Split-K's last step: the summed int32 accumulators through bias, multiplier and epilogue.
__global__ void convEpilogueKernel(ConvArgs a) {
  GRID_STRIDE(i, a.M * a.O) {
    const int m = i / a.O, o = i - m * a.O;
    convStoreInt(a, m, o, a.partial[i]);
  }
}

// 16 bytes global → shared, zero-filled where !ok; `ca`: cached in L1 (else L2 only).
__device__ __forceinline__ void cpAsync16(void* smem, const void* src, bool ok, bool ca = false) {
#if __CUDA_ARCH__ >= 800
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  if (ca)
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(ok ? 16 : 0));
  else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(ok ? 16 : 0));
#endif
}

__device__ __forceinline__ void ldmatrix4(const int8_t* smem, int* r) {
#if __CUDA_ARCH__ >= 800
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
#endif
}

// A float's TF32 part (round to nearest, ties away: cvt.rna), as a 32-bit register.
__device__ __forceinline__ unsigned tf32Of(float x) {
  unsigned r = 0;
#if __CUDA_ARCH__ >= 800
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
#endif
  return r;
}

// d += a·b, one m16n8k8 TF32 step (fragments as ldmatrix leaves them).
__device__ __forceinline__ void mmaTf32(float* d, const unsigned* a, int b0, int b1) {
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Tensor cores: an implicit GEMM, M = output pixels of the batch, N = output channels, K = taps ·
// channels (packed weights [O, Kpad]); BM×BN tiles (BM = 64·MT: 128, or 64 where 128-row tiles
// leave the GPU short of blocks: Impl::rowsOf), 64 bytes of K a stage, STAGES in flight with
// cp.async (zero-filled outside the image and past K), four warps of 16·MT×BN, fragments by
// ldmatrix. INT8 (F32 false): K = taps · stored channels, mma.sync m16n8k32 s8·s8 → s32.
// STAGES: 3 in flight for long K, 2 (less shared memory: more blocks an SM to hide the first
// loads) for short. gridDim.z splits K (small grids: batch 1, 13×13 layers): each split adds its
// int32 sums into `partial`, exact in any order, and convEpilogueKernel finishes.
// Float (F32: an FP32 convolution with a float input whose result no int8 code depends on,
// NanoDet's last head layer): 3×TF32, K = taps · the op's channels (a multiple of 4), 16 floats a
// stage. Every input and weight is its TF32 part
// plus the TF32 part of the rest (hi + lo, the weights split on the host), and x·w sums as
// lo·hi + hi·lo + hi·hi with mma.sync m16n8k8 tf32 → f32: the error of FP32 arithmetic in
// another order, not ONNX Runtime's order (convFloatKernel, float mode exact, keeps that).
// The fragments of both are the same bytes: a row's 32 bytes of K are one m16n8k32 s8 step or one
// m16n8k8 tf32 step, and the accumulators lie alike.
constexpr int kMmaLds = 80;  // bytes: smem row: 64 bytes of K + 16 of padding (no bank conflicts)

// Registers: ptxas, left to itself, gave the 32-channel tiles 80 and spilled; the bounds say how
// many blocks an SM each should allow (INT8 128×64: 4 at 128 registers; 64×64: 6 at 80, 64×32: 8
// at 64; none spilled).
template <int BN, int STAGES, bool F32, int MT>
__global__ void __launch_bounds__(128, F32        ? 3
                                       : MT == 1  ? (BN == 32 ? 8 : 6)
                                       : BN == 32 ? 6
                                                  : 4) convMmaKernel(ConvArgs a) {
#if __CUDA_ARCH__ >= 800
  constexpr int ES = F32 ? 4 : 1;  // bytes an element
  constexpr int BT = F32 ? 2 : 1;  // weight tiles: the TF32 parts and the rests
  constexpr int KS = kMmaBK / ES;  // elements of K a stage
  constexpr int BM = 64 * MT;      // rows (output pixels) a block: each warp 16·MT
  constexpr int AR = BM / 32;      // rows of A a thread loads a stage
  using Acc = typename std::conditional<F32, float, int>::type;
  // The stages of A (after the main loop the epilogue's staging of 64 rows: room for that too),
  // and of B.
  constexpr int LDY = BN + 8;  // a staged row: 8 of padding, no bank conflicts for the fragments' 8-byte stores
  constexpr int kAStage = BM * kMmaLds, kABytes = STAGES * kAStage > 64 * LDY * 4 ? STAGES * kAStage : 64 * LDY * 4;
  __shared__ __align__(16) int8_t smemA[kABytes];
  __shared__ __align__(16) int8_t smemB[STAGES][BT][BN * kMmaLds];
  auto As = [&](int stage) { return smemA + stage * kAStage; };
  auto Bs = [&](int stage, int bt) { return &smemB[stage][bt][0]; };
  __shared__ float lutS[256], auxS[256];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int m0 = blockIdx.x * BM;
  const int n0 = blockIdx.y * BN;
  const int nkAll = (a.Kpad + KS - 1) / KS;
  const int k0 = blockIdx.z * a.chunksPerSplit;
  const int k1 = min(nkAll, k0 + a.chunksPerSplit);
  const int taps = a.kh * a.kw;
  if (a.lut && !a.partial) {
    lutS[tid] = a.lut[tid];
    lutS[tid + 128] = a.lut[tid + 128];
  }
  if (a.auxLut && !a.partial) {
    auxS[tid] = a.auxLut[tid];
    auxS[tid + 128] = a.auxLut[tid + 128];
  }
  // A: this thread loads 16 bytes (piece tid & 3 of the stage's 64 bytes of K) of rows
  // tid / 4 + 32·j, j < 4, so a warp reads 8 pixels' whole runs (a thread a row: each 16-byte load
  // of a warp touched 32 sectors and used half of each), through L1 (cp.async.ca: a 3×3's taps
  // re-read their neighbours' pixels): fewer sectors fetched for the same bytes. The piece's tap and channel
  // advance stage by stage, the same for every row (no divisions in the loop); a piece lies in one
  // tap (int8: stored channels are a multiple of 16; float: channels a multiple of 4). Per row,
  // set up once: where its top-left tap's pixel would be and a bit per tap inside the image, so a
  // stage costs a row one test and one add (a row's bounds checks and index products, once a
  // stage, were a third of this loop's instructions).
  const int piece = (tid & 3) * (16 / ES);  // elements
  const int tapC = F32 ? a.C : a.in.C;      // channels a tap in K
  int rowAt[AR];         // element of the row's top-left tap (may lie outside the image: then never read)
  unsigned rowTaps[AR];  // bit t: tap t inside the image (none past M); at most 32 taps (checked at open)
#pragma unroll
  for (int j = 0; j < AR; ++j) {
    const int m = m0 + (tid >> 2) + 32 * j;
    const Origin org = originOf(a, m < a.M ? m : 0);
    rowAt[j] = org.base * a.in.C + (org.iy0 * a.in.W + org.ix0) * a.in.C + (F32 ? a.in.off : 0);
    unsigned cols = 0, bits = 0;  // the kernel columns inside the image; then each kernel row inside adds them
    for (int kx = 0; kx < a.kw; ++kx)
      cols |= static_cast<unsigned>(static_cast<unsigned>(org.ix0 + kx) < static_cast<unsigned>(a.in.W)) << kx;
    for (int ky = 0; ky < a.kh; ++ky)
      if (static_cast<unsigned>(org.iy0 + ky) < static_cast<unsigned>(a.in.H)) bits |= cols << (ky * a.kw);
    rowTaps[j] = m < a.M ? bits : 0u;
  }
  const int8_t* inP = static_cast<const int8_t*>(a.in.p);
  const int8_t* wP = F32 ? reinterpret_cast<const int8_t*>(a.wt) : a.w8;
  int tap = (k0 * KS + piece) / tapC, c0 = k0 * KS + piece - tap * tapC;
  int kx = tap % a.kw;
  int tapAt = ((tap / a.kw) * a.in.W + kx) * a.in.C + c0;  // the piece's element relative to a row's top-left tap
  // B: this thread's 16-byte pieces of the stage's weight rows (and the TF32 rests' rows).
  constexpr int BL = (BT * BN * 4 + 127) / 128;
  int bAt[BL];
  bool bOk[BL];
#pragma unroll
  for (int i = 0; i < BL; ++i) {
    const int c = tid + 128 * i;
    const int bt = c / (BN * 4), row = (c >> 2) - bt * BN;
    bOk[i] = c < BT * BN * 4 && n0 + row < a.O;
    bAt[i] = (bt * a.O + n0 + row) * a.Kpad + (c & 3) * (16 / ES);
  }
  auto load = [&](int kc, int stage) {
    const unsigned bit = tap < taps ? 1u << tap : 0u;
#pragma unroll
    for (int j = 0; j < AR; ++j) {
      const bool ok = rowTaps[j] & bit;
      cpAsync16(As(stage) + ((tid >> 2) + 32 * j) * kMmaLds + (tid & 3) * 16, ok ? inP + (rowAt[j] + tapAt) * ES : wP,
                ok, true);  // byte offsets: F32 inputs under 2^29 floats (open)
    }
    c0 += KS;
    tapAt += KS;
    while (c0 >= tapC) {
      c0 -= tapC;
      tapAt += a.in.C - tapC;
      ++tap;
      if (++kx == a.kw) {
        kx = 0;
        tapAt += (a.in.W - a.kw) * a.in.C;
      }
    }
#pragma unroll
    for (int i = 0; i < BL; ++i) {
      const int c = tid + 128 * i;
      const bool ok = bOk[i] && kc * KS + (c & 3) * (16 / ES) < a.Kpad;
      if (c < BT * BN * 4)
        cpAsync16(Bs(stage, 0) + (c >> 2) * kMmaLds + (c & 3) * 16, ok ? wP + (bAt[i] + kc * KS) * ES : wP, ok, false);
    }
  };
  Acc acc[MT][BN / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[mt][nt][r] = 0;
#pragma unroll
  for (int st = 0; st < STAGES - 1; ++st) {
    if (k0 + st < k1) load(k0 + st, st);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  // ldmatrix addresses: A rows of this lane's 8×8 matrix, B rows (output channels) likewise.
  const int aRow = warp * 16 * MT + (lane & 7) + ((lane >> 3) & 1) * 8, aCol = (lane >> 4) * 16;
  const int bRow = ((lane >> 4) * 8) + (lane & 7), bCol = ((lane >> 3) & 1) * 16;
  for (int kc = k0; kc < k1; ++kc) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(STAGES - 2));
    __syncthreads();
    const int stage = (kc - k0) % STAGES;
    const int8_t* A = As(stage);
#pragma unroll
    for (int kk = 0; kk < kMmaBK; kk += 32) {
      int af[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) ldmatrix4(A + (aRow + mt * 16) * kMmaLds + kk + aCol, af[mt]);
      if constexpr (F32) {
        unsigned hi[MT][4], lo[MT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const float x = __int_as_float(af[mt][r]);
            hi[mt][r] = tf32Of(x);
            lo[mt][r] = tf32Of(x - __uint_as_float(hi[mt][r]));
          }
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt += 2) {
          int bh[4], bl[4];  // b0, b1 of n-tile nt, then of nt + 1: the weights' TF32 parts, their rests
          ldmatrix4(Bs(stage, 0) + (nt * 8 + bRow) * kMmaLds + kk + bCol, bh);
          ldmatrix4(Bs(stage, 1) + (nt * 8 + bRow) * kMmaLds + kk + bCol, bl);
#pragma unroll
          for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              // The small products first, then the large.
              mmaTf32(acc[mt][nt + h], lo[mt], bh[2 * h], bh[2 * h + 1]);
              mmaTf32(acc[mt][nt + h], hi[mt], bl[2 * h], bl[2 * h + 1]);
              mmaTf32(acc[mt][nt + h], hi[mt], bh[2 * h], bh[2 * h + 1]);
            }
        }
      } else {
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt += 2) {
          int b[4];  // b0, b1 of n-tile nt, then of nt + 1
          ldmatrix4(Bs(stage, 0) + (nt * 8 + bRow) * kMmaLds + kk + bCol, b);
#pragma unroll
          for (int h = 0; h < 2; ++h) {
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              int* d = acc[mt][nt + h];
              asm volatile(
                  "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                  "{%0,%1,%2,%3};\n"
                  : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                  : "r"(af[mt][0]), "r"(af[mt][1]), "r"(af[mt][2]), "r"(af[mt][3]), "r"(b[2 * h]), "r"(b[2 * h + 1]));
            }
          }
        }
      }
    }
    const int next = kc + STAGES - 1;
    if (next < k1) load(next, (next - k0) % STAGES);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();  // the table is in shared memory even where this block had no K to run
  const int g = lane >> 2, t = lane & 3;
  if constexpr (!F32) {
    if (a.partial) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int mm = m0 + warp * 16 * MT + mt * 16 + g + half * 8;
          if (mm >= a.M) continue;
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
            for (int j = 0; j < 2; ++j) {
              const int o = n0 + nt * 8 + t * 2 + j;
              if (o < a.O) atomicAdd(a.partial + mm * a.O + o, acc[mt][nt][half * 2 + j]);
            }
        }
      return;
    }
  }
  // The epilogue runs from shared memory in one compact loop, not unrolled over this thread's 64
  // fragment values: each unrolled copy of the epilogue is large, and 64 of them made this kernel
  // 2 MB of machine code that every block streamed through the instruction cache (the short-K
  // 1×1 convolutions were bound by it). 64 rows at a time (BM 128: the rows of warps 2h and
  // 2h + 1; 64: all) as 64 × BN accumulators in the stages, then four channels a thread, a warp along a pixel's
  // channels. A thread's four channels are the same in every row: their bias and multiplier are
  // loaded once (in a short-K 1×1 convolution this loop, not the mma, is most of a warp's
  // instructions).
  Acc* Ys = reinterpret_cast<Acc*>(smemA);
  const float* lut = a.lut ? lutS : nullptr;
  const float* auxLut = a.auxLut ? auxS : nullptr;
  const bool quads =
      ((a.out.C | a.out.off | a.aux.C | a.aux.off) & 3) == 0;  // four channels (o a multiple of 4) in one store
  constexpr int QR = BN / 4;                                   // quads a row
  const int o0 = n0 + (tid % QR) * 4;
  // The float the epilogue starts from: the int32 sum with its bias times the multiplier, or the
  // float sum with the bias added last (convAccValue, convFloatKernel).
  int bias[4];
  float mul[4], fbias[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const bool ok = o0 + q < a.O;
    if constexpr (F32) {
      fbias[q] = ok && a.biasf ? __ldg(a.biasf + o0 + q) : 0.f;
    } else {
      bias[q] = ok && a.bias8 ? __ldg(a.bias8 + o0 + q) : 0;
      mul[q] = ok ? __ldg(a.mult + o0 + q) : 0.f;
    }
  }
  auto value = [&](int q, Acc v) -> float {
    if constexpr (F32)
      return __fadd_rn(v, fbias[q]);
    else
      return __fmul_rn(static_cast<float>(v + bias[q]), mul[q]);
  };
#pragma unroll 1
  for (int h = 0; h < MT; ++h) {
    if (warp * 16 * MT / 64 == h) {  // this warp's rows are in this pass
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt) {
            Acc* y = Ys + (warp * 16 * MT % 64 + mt * 16 + g + half * 8) * LDY + nt * 8 + t * 2;
            if constexpr (F32)
              *reinterpret_cast<float2*>(y) = make_float2(acc[mt][nt][half * 2], acc[mt][nt][half * 2 + 1]);
            else
              *reinterpret_cast<int2*>(y) = make_int2(acc[mt][nt][half * 2], acc[mt][nt][half * 2 + 1]);
          }
    }
    __syncthreads();
#pragma unroll 1
    for (int r = tid / QR; r < 64 && o0 < a.O; r += 128 / QR) {
      const int mm = m0 + h * 64 + r;
      if (mm >= a.M) break;
      Acc v[4];
      if constexpr (F32) {
        const float4 p = *reinterpret_cast<const float4*>(Ys + r * LDY + o0 - n0);
        v[0] = p.x, v[1] = p.y, v[2] = p.z, v[3] = p.w;
      } else {
        const int4 p = *reinterpret_cast<const int4*>(Ys + r * LDY + o0 - n0);
        v[0] = p.x, v[1] = p.y, v[2] = p.z, v[3] = p.w;
      }
      if (quads && o0 + 3 < a.O) {
        int x[4] = {0, 0, 0, 0};
        float w[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) w[q] = convValue(a, lut, auxLut, value(q, v[q]), &x[q]);
        const int at = mm * a.out.C + a.out.off + o0;
        if (a.e.int8Out) {
          *reinterpret_cast<char4*>(static_cast<int8_t*>(a.out.p) + at) =
              make_char4(static_cast<signed char>(w[0]), static_cast<signed char>(w[1]), static_cast<signed char>(w[2]),
                         static_cast<signed char>(w[3]));
        } else {
          *reinterpret_cast<float4*>(static_cast<float*>(a.out.p) + at) = make_float4(w[0], w[1], w[2], w[3]);
        }
        if (a.aux.p)
          *reinterpret_cast<char4*>(static_cast<int8_t*>(a.aux.p) + mm * a.aux.C + a.aux.off + o0) =
              make_char4(x[0], x[1], x[2], x[3]);
        continue;
      }
#pragma unroll 1
      for (int q = 0; q < 4 && o0 + q < a.O;
           ++q) {  // the loaded bias and multiplier are not indexed at run time here (no stack)
        const Acc vq = q == 0 ? v[0] : q == 1 ? v[1] : q == 2 ? v[2] : v[3];
        float y;
        if constexpr (F32)
          y = __fadd_rn(vq, a.biasf ? __ldg(a.biasf + o0 + q) : 0.f);
        else
          y = convAccValue(a, o0 + q, vq);
        convStore(a, lut, auxLut, mm, o0 + q, y);
      }
    }
    __syncthreads();
  }
#else
  __trap();  // never launched: the host picks dp4a where this architecture's code lacks mma
#endif
}

// Where float K index k reads: channel c of tap (ky, kx), in the float sum's K order (blocks of
// sumBlock channels, taps, the block's channels; only the last block may be short, and then

}  // namespace

bool convMmaCompiled() {
  cudaFuncAttributes attr{};
  const bool mmaCode =
      cudaFuncGetAttributes(&attr, convMmaKernel<64, 3, false, 2>) == cudaSuccess && attr.binaryVersion >= 80;
  cudaGetLastError();
  return mmaCode;
}

cudaError_t cudaConvMmaInt8(const ConvArgs& a, int bm, int bn, int splits, cudaStream_t st, int priority) {
  cudaError_t first = cudaSuccess;  // the first failed call; the rest are still issued
  auto check = [&](cudaError_t r) {
    if (first == cudaSuccess) first = r;
  };
  if (splits > 1) check(cudaMemsetAsync(a.partial, 0, static_cast<size_t>(a.M) * a.O * sizeof(int32_t), st));
  const unsigned gx = static_cast<unsigned>((a.M + bm - 1) / bm), gy = static_cast<unsigned>((a.O + bn - 1) / bn);
  const dim3 grid(gx, gy, splits);
  const bool longK = a.chunksPerSplit > 8;
  auto launch = [&](auto kernel) { check(launchKernel(kernel, grid, 128, st, priority, a)); };
  if (bm == 64) {
    if (bn == 32)
      longK ? launch(convMmaKernel<32, 3, false, 1>) : launch(convMmaKernel<32, 2, false, 1>);
    else
      longK ? launch(convMmaKernel<64, 3, false, 1>) : launch(convMmaKernel<64, 2, false, 1>);
  } else {
    if (bn == 32)
      longK ? launch(convMmaKernel<32, 3, false, 2>) : launch(convMmaKernel<32, 2, false, 2>);
    else
      longK ? launch(convMmaKernel<64, 3, false, 2>) : launch(convMmaKernel<64, 2, false, 2>);
  }
  constexpr int T = 256;
  if (splits > 1) check(launchKernel(convEpilogueKernel, gridFor(static_cast<long>(a.M) * a.O, T), T, st, priority, a));
  return first;
}

cudaError_t cudaConvMmaTf32(const ConvArgs& a, int bn, cudaStream_t st, int priority) {
  const dim3 grid((a.M + kMmaBM - 1) / kMmaBM, (a.O + bn - 1) / bn, 1);
  return bn == 64 ? launchKernel(convMmaKernel<64, 2, true, 2>, grid, 128, st, priority, a)
                  : launchKernel(convMmaKernel<32, 3, true, 2>, grid, 128, st, priority, a);
}

}  // namespace int8k
}  // namespace vigil
