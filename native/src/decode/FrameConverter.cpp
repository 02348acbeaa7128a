#include "decode/FrameConverter.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

namespace vigil {

FrameConverter::~FrameConverter() { sws_freeContext(sws_); }

bool FrameConverter::convert(const AVFrame* src, AVFrame* dst) {
  auto fmt = static_cast<AVPixelFormat>(src->format);
  // Slots hold limited-range YUV420P; full-range (yuvj420p, common on IP cameras) is
  // compressed by swscale so every consumer can assume one range.
  if (fmt == AV_PIX_FMT_YUV420P) {
    av_image_copy(dst->data, dst->linesize, const_cast<const uint8_t**>(src->data), src->linesize, AV_PIX_FMT_YUV420P,
                  src->width, src->height);
    return true;
  }
  sws_ = sws_getCachedContext(sws_, src->width, src->height, fmt, dst->width, dst->height, AV_PIX_FMT_YUV420P,
                              SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws_) return false;
  return sws_scale(sws_, src->data, src->linesize, 0, src->height, dst->data, dst->linesize) > 0;
}

}  // namespace vigil
