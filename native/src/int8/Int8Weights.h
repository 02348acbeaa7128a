#pragma once
// The INT8 engine's host-side preparation of a program's constants (no CUDA calls): weights in the
// layouts the kernels read, the float sums' order, and the epilogue tables. Everything returned is
// host memory the caller uploads.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "int8/Int8Program.h"

namespace vigil {
namespace int8k {

// The float sum's order for a float convolution (block of channels, restart): ONNX Runtime's.
std::pair<int, int> floatSumOf(const ProgramOp& op, bool int8In);

// Whether op k's result, and everything computed from it, stays float (no int8 code depends on it).
bool floatOnlyDownstream(const Int8Program& p, size_t k);

// A float's TF32 part as the device's cvt.rna.tf32.f32 takes it.
float tf32Part(float x);

// INT8 weights packed [O, Kpad] with k = tap·Cs + c (zeros for padded channels and the K tail).
std::vector<int8_t> packInt8Weights(const ProgramOp& op, int Cs, int Kpad);

// Float weights transposed to [K, O] in the order the float sum runs (blocks of sumBlock channels).
std::vector<float> floatWeightsInSumOrder(const ProgramOp& op, int sumBlock);

// 3×TF32 weights: [2][O, KpadT] with k = tap·C + c, each weight's TF32 part, then the TF32 part
// of what it leaves (zeros past K).
std::vector<float> tf32SplitWeights(const ProgramOp& op, int KpadT);

// What follows a convolution's first requantize as a function of its int8 code, computed once per
// code with the same float32 operations the kernels use. `at`: that requantize (-1: no table).
struct EpilogueTables {
  int at = -1;
  bool aux = false;  // auxTable holds the aux output's code for each code at `at`
  float table[256];
  float auxTable[256];
};
// False where the op's epilogue cannot be a table (no requantize before its last op, a sigmoid
// after it, or an aux output taken before it).
bool epilogueTables(const Int8Program& p, const ProgramOp& op, EpilogueTables& t);

}  // namespace int8k
}  // namespace vigil
