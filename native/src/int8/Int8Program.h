#pragma once
// The program Vigil's INT8 engine runs: what src/model/int8/program.ts lowers from a QDQ ONNX
// plan (src/model/int8/plan.ts), as native/src/binding/Int8ProgramReader.cpp copies it from JS.
// Plain C++ (no CUDA): the binding reads and checks a program in any build.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

namespace vigil {

// A convolution's epilogue: the ops after its sum, in order.
enum class EpilogueOp : int { Requantize = 0, LeakyRelu = 1, Relu = 2, Sigmoid = 3 };

constexpr int kMaxEpilogue = 8;

struct Int8ConvEpilogue {
  int n = 0;
  EpilogueOp op[kMaxEpilogue];
  float arg[kMaxEpilogue];  // requantize: scale; leaky: alpha
  float inv[kMaxEpilogue];  // requantize: 1/scale (the fast path of Int8Engine's requantize; checked against the
                            // division)
  bool int8Out = false;     // the last op is a requantize: write its codes
};

// An activation buffer: per image H×W pixels of C (stored) channels, int8 (value = q·scale) or float.
struct ProgramBuffer {
  std::string name;
  bool int8 = false;
  float scale = 0;
  int H = 0, W = 0, C = 0;
};

// A channel range of a buffer that an op reads or writes.
struct BufferView {
  int buffer = -1;
  int offset = 0;  // first channel
};

enum class ProgramOpKind : int {
  QuantizeInput = 0,  // the engine input, float NCHW [3, S, S] → int8 NHWC
  ConvInt8 = 1,
  ConvFloat = 2,  // summed in float in ONNX Runtime's order: FP32 layers, and int8 ones whose output stays float (int8
                  // input read dequantized)
  MaxPool = 3,
  Unary = 4,  // per element: read (dequantize), activation, write (requantize): concat parts and quantizes not folded
              // into a convolution, sigmoid, copies
  Add = 5,
  Resize = 6,  // bilinear, half_pixel
  Pad = 7,
  Stem = 8,  // QuantizeInput → a 3×3 stride-2 ConvFloat of 3 → 32 channels → 3×3 stride-2 MaxPool in one kernel (the
             // convolution's output is never stored)
};

enum class UnaryAct : int { None = 0, LeakyRelu = 1, Relu = 2, Sigmoid = 3 };

// The codes above by the names program.ts gives them (OpKind, Act, its epilogue codes): the one
// table the binding's reader takes its ranges from and its contract export lists. A new enum value
// goes here too; test/model/int8program.test.ts holds program.ts to this table.
struct ProgramCode {
  const char* name;
  int value;
};
constexpr ProgramCode kProgramOpKinds[] = {
    {"quantizeInput", static_cast<int>(ProgramOpKind::QuantizeInput)},
    {"convInt8", static_cast<int>(ProgramOpKind::ConvInt8)},
    {"convFloat", static_cast<int>(ProgramOpKind::ConvFloat)},
    {"maxPool", static_cast<int>(ProgramOpKind::MaxPool)},
    {"unary", static_cast<int>(ProgramOpKind::Unary)},
    {"add", static_cast<int>(ProgramOpKind::Add)},
    {"resize", static_cast<int>(ProgramOpKind::Resize)},
    {"pad", static_cast<int>(ProgramOpKind::Pad)},
    {"stem", static_cast<int>(ProgramOpKind::Stem)},
};
constexpr ProgramCode kProgramActs[] = {
    {"none", static_cast<int>(UnaryAct::None)},
    {"leakyRelu", static_cast<int>(UnaryAct::LeakyRelu)},
    {"relu", static_cast<int>(UnaryAct::Relu)},
    {"sigmoid", static_cast<int>(UnaryAct::Sigmoid)},
};
constexpr ProgramCode kProgramEpilogueOps[] = {
    {"requantize", static_cast<int>(EpilogueOp::Requantize)},
    {"leaky_relu", static_cast<int>(EpilogueOp::LeakyRelu)},
    {"relu", static_cast<int>(EpilogueOp::Relu)},
    {"sigmoid", static_cast<int>(EpilogueOp::Sigmoid)},
};

// A table lists every value 0..N-1 in order (the readers take a code as an index into it).
template <size_t N>
constexpr bool denseCodes(const ProgramCode (&t)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (t[i].value != static_cast<int>(i)) return false;
  return true;
}
static_assert(denseCodes(kProgramOpKinds) && std::size(kProgramOpKinds) == static_cast<int>(ProgramOpKind::Stem) + 1,
              "kProgramOpKinds lists every ProgramOpKind in order");
static_assert(denseCodes(kProgramActs) && std::size(kProgramActs) == static_cast<int>(UnaryAct::Sigmoid) + 1,
              "kProgramActs lists every UnaryAct in order");
static_assert(denseCodes(kProgramEpilogueOps) &&
                  std::size(kProgramEpilogueOps) == static_cast<int>(EpilogueOp::Sigmoid) + 1,
              "kProgramEpilogueOps lists every EpilogueOp in order");

struct ProgramOp {
  ProgramOpKind kind = ProgramOpKind::Unary;
  BufferView in, in2, out;
  int channels = 0;  // channels read (Unary, Add, MaxPool, Resize, Pad, QuantizeInput)
  int space = 1;     // QuantizeInput: 2 = space to depth (each output pixel a 2×2 block)
  // Convolutions: O output channels, C input channels (real, not stored), OIHW weights.
  int O = 0, C = 0, kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0;
  std::vector<int8_t> w8;  // ConvInt8: [O, C, kh, kw]
  std::vector<float> wf;   // ConvFloat: [O, C, kh, kw]
  std::vector<int32_t> bias8;
  std::vector<float> biasf;
  std::vector<float> mult;  // ConvInt8: s_in·s_w[o]
  Int8ConvEpilogue epilogue;
  // Convolutions: a second int8 output where aux.buffer ≥ 0 (a concat part or a quantize folded
  // in): the value after the first auxAt epilogue ops, requantized to that buffer's scale.
  BufferView aux;
  int auxAt = 0;
  // Stem: the max-pool after the convolution (kernel, stride, top/left pads).
  int pkh = 1, pkw = 1, psh = 1, psw = 1, ppt = 0, ppl = 0;
  float inScale = 0;  // Stem: the input's quantize scale
  // MaxPool: kernel kh×kw, stride sh×sw, pads pt/pl. Resize: scale factors. Pad: value.
  float scaleY = 1, scaleX = 1, value = 0;
  UnaryAct act = UnaryAct::None;
  float alpha = 0;
};

struct ProgramOutput {
  std::string name;
  int buffer = -1;  // a float buffer whose per-image data is this output's [rows, cols]
};

struct Int8Program {
  int inputSize = 416;
  std::vector<ProgramBuffer> buffers;
  std::vector<ProgramOp> ops;
  std::vector<ProgramOutput> outputs;
};

}  // namespace vigil
