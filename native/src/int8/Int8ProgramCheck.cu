// What the INT8 engine's kernels can run, checked on a program before anything is allocated.
#include <string>

#include "int8/Int8EngineImpl.h"
#include "int8/Stem.h"

namespace vigil {

using int8k::kStemC;
using int8k::kStemO;
using int8k::stemConvSize;

namespace {

// What is wrong with op `op` of `p` for the kernels, or "" (buffer indices, layouts, weight sizes,
// the stem's fixed shape).
std::string opProblem(const Int8Program& p, const ProgramOp& op) {
  const int nb = static_cast<int>(p.buffers.size());
  const bool needsIn = op.kind != ProgramOpKind::QuantizeInput && op.kind != ProgramOpKind::Stem;
  if (op.out.buffer < 0 || op.out.buffer >= nb || (needsIn && (op.in.buffer < 0 || op.in.buffer >= nb)) ||
      (op.kind == ProgramOpKind::Add && (op.in2.buffer < 0 || op.in2.buffer >= nb))) {
    return "a buffer index is out of range";
  }
  if (op.kind == ProgramOpKind::ConvInt8) {
    const ProgramBuffer& in = p.buffers[op.in.buffer];
    if (!in.int8 || in.C % 16 != 0 || op.in.offset != 0)
      return "an INT8 convolution reads a whole int8 buffer of 16·k channels";
    if (op.kh * op.kw > 32)
      return "an INT8 convolution has at most 32 taps (" + std::to_string(op.kh) + "×" + std::to_string(op.kw) + ")";
    if (op.w8.size() != static_cast<size_t>(op.O) * op.C * op.kh * op.kw ||
        op.mult.size() != static_cast<size_t>(op.O) ||
        (!op.bias8.empty() && op.bias8.size() != static_cast<size_t>(op.O)) || op.C > in.C) {
      return "weights, bias or multipliers do not match the shape";
    }
  }
  if (op.kind == ProgramOpKind::ConvFloat && (op.wf.size() != static_cast<size_t>(op.O) * op.C * op.kh * op.kw ||
                                              (!op.biasf.empty() && op.biasf.size() != static_cast<size_t>(op.O)))) {
    return "weights or bias do not match the shape";
  }
  const bool conv = op.kind == ProgramOpKind::ConvInt8 || op.kind == ProgramOpKind::ConvFloat;
  if (op.epilogue.int8Out != p.buffers[op.out.buffer].int8 && (conv || op.kind == ProgramOpKind::Stem)) {
    return "the epilogue's output type is not its buffer's";
  }
  if (op.aux.buffer >= 0) {
    if (!conv || op.aux.buffer >= nb || !p.buffers[op.aux.buffer].int8 || op.auxAt > op.epilogue.n ||
        op.aux.offset + op.O > p.buffers[op.aux.buffer].C) {
      return "an aux output needs a convolution, an int8 buffer with room for its channels and an epilogue point";
    }
  }
  if (op.kind == ProgramOpKind::Stem) {
    const ProgramBuffer& out = p.buffers[op.out.buffer];
    const int convS = stemConvSize(p, op);
    if (op.C != kStemC || op.O != kStemO || op.kh != 3 || op.kw != 3 || op.sh != 2 || op.sw != 2 || op.pt != 1 ||
        op.pl != 1 || op.pkh != 3 || op.pkw != 3 || op.psh != 2 || op.psw != 2 || op.ppt != 1 || op.ppl != 1 ||
        !(op.inScale > 0) || out.H != (convS + 2 - 3) / 2 + 1 || out.W != out.H || op.out.offset + op.O > out.C ||
        op.wf.size() != static_cast<size_t>(op.O) * op.C * 9 ||
        (!op.biasf.empty() && op.biasf.size() != static_cast<size_t>(op.O))) {
      return "the stem kernel runs a 3×3 stride-2 convolution of 3 → 32 channels (pads 1) and a 3×3 stride-2 "
             "max-pool (pads 1) into a float buffer";
    }
    for (int i = 0; i < op.epilogue.n; ++i)
      if (op.epilogue.op[i] == EpilogueOp::Requantize || op.epilogue.op[i] == EpilogueOp::Sigmoid)
        return "the stem's epilogue is ReLU or LeakyReLU";
  }
  return "";
}

}  // namespace

bool validateInt8Program(const Int8Program& p, int maxBatch, std::string& err) {
  const int nb = static_cast<int>(p.buffers.size());
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const std::string why = opProblem(p, p.ops[k]);
    if (!why.empty()) {
      err = "INT8 program op " + std::to_string(k) + ": " + why;
      return false;
    }
  }
  for (const ProgramBuffer& b : p.buffers) {
    if (static_cast<long>(maxBatch) * b.H * b.W * b.C >= (1L << 31)) {
      err =
          "INT8 program buffer " + b.name + " is too large for batch " + std::to_string(maxBatch) + " (32-bit indices)";
      return false;
    }
  }
  for (const ProgramOutput& o : p.outputs) {
    if (o.buffer < 0 || o.buffer >= nb || p.buffers[o.buffer].int8) {
      err = "INT8 program output " + o.name + " is not a float buffer";
      return false;
    }
  }
  return true;
}

}  // namespace vigil
