#include "infer/Letterbox.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
}

namespace vigil {

Letterboxer::~Letterboxer() {
  sws_freeContext(sws_);
  av_free(rgb_);
}

bool Letterboxer::run(const AVFrame* frame, int size, const InputNorm& norm, float* dst, LetterboxInfo& info,
                      std::string& err) {
  const int sw = frame->width;
  const int sh = frame->height;
  const float scale = std::min(static_cast<float>(size) / sw, static_cast<float>(size) / sh);
  const int w = std::max(1, static_cast<int>(std::lround(sw * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(sh * scale)));
  info = LetterboxInfo{scale, (size - w) / 2, (size - h) / 2, sw, sh};

  sws_ = sws_getCachedContext(sws_, sw, sh, static_cast<AVPixelFormat>(frame->format), w, h, AV_PIX_FMT_RGB24,
                              SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws_) {
    err = "cannot set up the letterbox scaler";
    return false;
  }
  const size_t need = static_cast<size_t>(w) * h * 3;
  if (need > rgbBytes_) {
    av_free(rgb_);
    rgb_ = static_cast<uint8_t*>(av_malloc(need + 64));
    rgbBytes_ = rgb_ ? need : 0;
    if (!rgb_) {
      err = "out of memory for the letterbox buffer";
      return false;
    }
  }
  uint8_t* planes[1] = {rgb_};
  int strides[1] = {w * 3};
  if (sws_scale(sws_, frame->data, frame->linesize, 0, sh, planes, strides) != h) {
    err = "letterbox scaling failed";
    return false;
  }
  const size_t plane = static_cast<size_t>(size) * size;
  for (int c = 0; c < 3; ++c) {
    // Output channel c takes source channel (bgr ? 2 - c : c).
    const int src = norm.bgr ? 2 - c : c;
    const float mul = 1.0f / norm.std[c];
    const float add = -norm.mean[c] * mul;
    float* out = dst + c * plane;
    std::fill(out, out + plane, add);  // black border
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = rgb_ + static_cast<size_t>(y) * w * 3 + src;
      float* o = out + static_cast<size_t>(y + info.padY) * size + info.padX;
      for (int x = 0; x < w; ++x) o[x] = row[3 * x] * mul + add;
    }
  }
  return true;
}

}  // namespace vigil
