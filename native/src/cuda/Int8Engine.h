#pragma once
// Vigil's own INT8 inference engine: runs the program src/model/int8/program.ts lowers from a
// QDQ ONNX plan (src/model/int8/plan.ts) on any NVIDIA GPU from sm_75, no TensorRT. Every
// activation is NHWC ([batch, H, W, C], C padded to a multiple of 16 for int8), in buffers
// allocated once for the largest batch; INT8 convolutions are implicit GEMMs on the tensor
// cores (mma.sync m16n8k32, sm_80+) or dp4a (sm_75, or VIGIL_INT8_KERNEL=dp4a); each batch
// size runs as one CUDA graph, captured on its first use. The arithmetic is the reference's
// (src/model/int8/reference.ts): float32 with round-half-to-even requantization.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cuda/Int8Conv.h"
#include "infer/GpuEngine.h"

namespace vigil {

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

class Int8Engine final : public GpuEngine {
 public:
  // nullptr with `err` when there is no usable GPU, the program is inconsistent, or memory runs out.
  static std::unique_ptr<Int8Engine> open(Int8Program program, int maxBatch, std::string& err);
  ~Int8Engine() override;
  Int8Engine(const Int8Engine&) = delete;
  Int8Engine& operator=(const Int8Engine&) = delete;

  float* input() const override;
  const std::vector<float*>& outputs() const override;
  const std::vector<std::string>& outputNames() const override;
  int maxBatch() const override;
  const std::string& cacheKey() const override;  // the kernel family: "vigil-int8 mma sm_90" or "… dp4a …"
  bool builtNow() const override { return false; }
  bool enqueue(int batch, void* stream, std::string& err, const float* input = nullptr) override;

  // Checks and benches: runs without a graph (each op launched) when `graphs` is false.
  void useGraphs(bool graphs);
  // Each op launched alone on `stream` (no graph, input()), timed with events: milliseconds per op.
  bool profile(int batch, void* stream, std::vector<float>& msPerOp, std::string& err);
  // Image `image` of buffer `name` after the last run, as stored (NHWC, C channels), to the host.
  bool readBuffer(const std::string& name, int image, std::vector<uint8_t>& bytes, std::string& err);
  const Int8Program& program() const;

 private:
  Int8Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
