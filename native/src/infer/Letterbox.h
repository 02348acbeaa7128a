#pragma once
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
  int width = 0;   // source frame
  int height = 0;
};

// Scales a YUV420P frame (aspect kept, centred) into a planar float NCHW [3, size, size]
// tensor at `dst`, normalised; the border gets the value of a black pixel. One per thread
// (holds a cached swscale context and a scratch RGB buffer). dst must hold 3·size·size floats.
class Letterboxer {
 public:
  ~Letterboxer();
  bool run(const AVFrame* frame, int size, const InputNorm& norm, float* dst, LetterboxInfo& info, std::string& err);

 private:
  SwsContext* sws_ = nullptr;
  uint8_t* rgb_ = nullptr;
  size_t rgbBytes_ = 0;
};

}  // namespace vigil
