#pragma once
#include <memory>
#include <string>

extern "C" {
#include <libavutil/frame.h>
}

struct SwsContext;

namespace vigil {

// How pixels become model input: out = (px - mean[c]) / std[c] per output channel, with the
// channels in RGB or BGR order.
struct InputNorm {
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  bool bgr = false;
};

// Where the frame landed inside the square input (to map boxes back).
struct LetterboxInfo {
  float scale = 1;
  int padX = 0;
  int padY = 0;
  int width = 0;  // source frame
  int height = 0;
};

class GpuLetterboxer;
class DeviceBatch;

// Scales a frame (aspect kept, centred) into a planar float NCHW [3, size, size] tensor at
// `dst` (host memory), normalised; the border gets the value of a black pixel. A host YUV420P
// frame goes through swscale; an NVDEC frame (NV12 in GPU memory) through the CUDA kernel,
// and only the tensor leaves the GPU. One per thread (cached scaler, scratch buffers, the GPU
// path's device buffer and stream). dst must hold 3·size·size floats.
class Letterboxer {
 public:
  Letterboxer();
  ~Letterboxer();
  // Whether this build can letterbox `frame` where it is (host frames always; GPU frames
  // with the CUDA build and an NV12 surface).
  static bool canRun(const AVFrame* frame);
  bool run(const AVFrame* frame, int size, const InputNorm& norm, float* dst, LetterboxInfo& info, std::string& err);
  // Into slot `slot` of a GPU input batch (its size): an NVDEC frame by the CUDA kernel, in
  // place; a host frame letterboxed on the CPU, then its tensor uploaded.
  bool runInto(const AVFrame* frame, DeviceBatch& batch, int slot, const InputNorm& norm, LetterboxInfo& info,
               std::string& err);

 private:
  // The picture lands as a w×h region at (info.padX, info.padY) of the size×size input.
  bool runGpu(const AVFrame* frame, int size, int w, int h, const InputNorm& norm, float* dst, bool dstOnDevice,
              const LetterboxInfo& info, std::string& err);
  static LetterboxInfo geometry(const AVFrame* frame, int size, int& w, int& h);
  std::unique_ptr<float[]> staging_;  // a host frame's tensor on its way to a device batch
  size_t stagingFloats_ = 0;
  std::unique_ptr<GpuLetterboxer> gpu_;
  SwsContext* sws_ = nullptr;
  uint8_t* rgb_ = nullptr;
  size_t rgbBytes_ = 0;
};

}  // namespace vigil
