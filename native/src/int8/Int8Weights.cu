#include "int8/Int8Weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vigil {
namespace int8k {

// The float sum's order for a float convolution, as src/model/int8/plan.ts (ortFloatSum) gives
// it for the step, from what the op carries (program.ts checks the two agree): ONNX Runtime's
// MLAS order on AVX-512. An int8 input means a DequantizeLinear → Conv (MlasConv: im2col, channel
// then tap, slices of 128); a float one an NCHWc convolution with 16-channel blocks (fewer than
// 16 channels: one channel a call; 1×1 unpadded: 128 channels a call), or MlasConv where the
// channels are not a multiple of 16.
std::pair<int, int> floatSumOf(const ProgramOp& op, bool int8In) {
  const int taps = op.kh * op.kw;
  if (int8In || (op.C > 16 && op.C % 16 != 0)) return {1, std::min(op.C * taps, 128)};
  if (op.C < 16) return {1, taps};
  if (taps == 1 && op.pt == 0 && op.pl == 0) return {128, 128};
  return {16, 16 * taps};
}

// Whether op k's result, and everything computed from it, stays float: no int8 code depends on
// it. Only such convolutions may sum in another order than ONNX Runtime's: NanoDet's INT8 layers
// carry a one-step difference far (bench/int8Cascade.ts measures how far), so a layer whose
// result is requantized must sum in ONNX Runtime's order for the codes to stay the reference's.
bool floatOnlyDownstream(const Int8Program& p, size_t k) {
  // An op that makes int8 codes: an int8 output, an aux output, or a requantize in its epilogue
  // (whose code the float output after it carries).
  auto quantizes = [&](const ProgramOp& op) {
    if (p.buffers[op.out.buffer].int8 || op.aux.buffer >= 0) return true;
    for (int i = 0; i < op.epilogue.n; ++i)
      if (op.epilogue.op[i] == EpilogueOp::Requantize) return true;
    return false;
  };
  std::vector<bool> reached(p.buffers.size(), false);
  if (quantizes(p.ops[k])) return false;
  reached[p.ops[k].out.buffer] = true;
  for (size_t j = k + 1; j < p.ops.size(); ++j) {
    const ProgramOp& op = p.ops[j];
    const bool reads = (op.in.buffer >= 0 && reached[op.in.buffer]) || (op.in2.buffer >= 0 && reached[op.in2.buffer]);
    if (!reads) continue;
    if (quantizes(op)) return false;
    reached[op.out.buffer] = true;
  }
  return true;
}

// A float's TF32 part as the device's cvt.rna.tf32.f32 takes it: the 10-bit mantissa rounded to
// nearest, ties away from zero (infinities and NaN as they are).
float tf32Part(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}

std::vector<int8_t> packInt8Weights(const ProgramOp& op, int Cs, int Kpad) {
  const int taps = op.kh * op.kw;
  std::vector<int8_t> packed(static_cast<size_t>(op.O) * Kpad, 0);
  for (int o = 0; o < op.O; ++o)
    for (int c = 0; c < op.C; ++c)
      for (int t = 0; t < taps; ++t)
        packed[static_cast<size_t>(o) * Kpad + t * Cs + c] = op.w8[(static_cast<size_t>(o) * op.C + c) * taps + t];
  return packed;
}

std::vector<float> floatWeightsInSumOrder(const ProgramOp& op, int sumBlock) {
  const int taps = op.kh * op.kw;
  std::vector<float> t(op.wf.size());
  size_t row = 0;  // K index in the sum's order
  for (int c0 = 0; c0 < op.C; c0 += sumBlock)
    for (int j = 0; j < taps; ++j)
      for (int c = c0; c < std::min(c0 + sumBlock, op.C); ++c, ++row)
        for (int o = 0; o < op.O; ++o) t[row * op.O + o] = op.wf[(static_cast<size_t>(o) * op.C + c) * taps + j];
  return t;
}

std::vector<float> tf32SplitWeights(const ProgramOp& op, int KpadT) {
  const int taps = op.kh * op.kw;
  std::vector<float> split(2 * static_cast<size_t>(op.O) * KpadT, 0.f);
  for (int o = 0; o < op.O; ++o)
    for (int c = 0; c < op.C; ++c)
      for (int j = 0; j < taps; ++j) {
        const float w = op.wf[(static_cast<size_t>(o) * op.C + c) * taps + j];
        const float hi = tf32Part(w);
        split[static_cast<size_t>(o) * KpadT + j * op.C + c] = hi;
        split[(static_cast<size_t>(op.O) + o) * KpadT + j * op.C + c] = tf32Part(w - hi);
      }
  return split;
}

bool epilogueTables(const Int8Program& p, const ProgramOp& op, EpilogueTables& t) {
  const Int8ConvEpilogue& e = op.epilogue;
  int at = -1;
  for (int i = 0; i < e.n && at < 0; ++i)
    if (e.op[i] == EpilogueOp::Requantize) at = i;
  bool tabulable = at >= 0 && at < e.n - 1;
  for (int i = at + 1; i < e.n && tabulable; ++i)
    tabulable = e.op[i] != EpilogueOp::Sigmoid;  // expf differs host/device
  const bool aux = op.aux.buffer >= 0;
  if (aux && op.auxAt <= at) tabulable = false;  // the aux value comes before the code the table is indexed by
  if (!tabulable) return false;
  const float auxScale = aux ? p.buffers[op.aux.buffer].scale : 1.f;
  auto quantize = [](float y, float s) {
    return static_cast<int>(std::fmin(127.f, std::fmax(-128.f, std::nearbyint(y / s))));
  };
  float* table = t.table;
  float* auxTable = t.auxTable;
  for (int q = -128; q < 128; ++q) {
    float y = static_cast<float>(q) * e.arg[at];
    int code = q;
    for (int i = at + 1; i <= e.n; ++i) {
      if (aux && i == op.auxAt) auxTable[q + 128] = static_cast<float>(quantize(y, auxScale));
      if (i == e.n) break;
      switch (e.op[i]) {
        case EpilogueOp::Requantize:
          code = quantize(y, e.arg[i]);
          y = static_cast<float>(code) * e.arg[i];
          break;
        case EpilogueOp::LeakyRelu:
          y = y < 0.f ? y * e.arg[i] : y;
          break;
        case EpilogueOp::Relu:
          y = std::fmax(0.f, y);
          break;
        case EpilogueOp::Sigmoid:
          break;
      }
    }
    table[q + 128] = e.int8Out ? static_cast<float>(code) : y;
  }
  t.at = at;
  t.aux = aux;
  return true;
}

}  // namespace int8k
}  // namespace vigil
