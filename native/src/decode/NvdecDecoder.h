#pragma once
#include "decode/LibavDecoder.h"

extern "C" {
#include <libavutil/buffer.h>
}

namespace vigil {

// NVDEC through libavcodec's CUDA hwaccel: frames come out as AV_PIX_FMT_CUDA (NV12 surfaces in
// GPU memory) from a fixed surface pool that libavcodec allocates once (its own needs plus
// `extraSurfaces`, the frames Vigil holds: the camera's frame pool). The device's primary CUDA
// context is shared with the rest of the addon. Used by exactly one thread (the camera's).
class NvdecDecoder final : public LibavDecoder {
 public:
  ~NvdecDecoder() override;
  // false with `err` saying why NVDEC cannot decode this stream here (no GPU or driver, codec
  // without NVDEC support in this FFmpeg, open failure): the caller falls back to software.
  // `required`: a stream NVDEC declines fails to decode instead of going to software.
  bool open(const AVCodecParameters* par, int extraSurfaces, bool lowDelay, bool required, std::string& err);
  std::string describe() const override;
  // True while frames come out in GPU memory (libavcodec may fall back to software for a
  // stream NVDEC refuses, e.g. an unsupported profile: then false, and describe() says so).
  bool hardware() const override { return !softwareFallback_; }
  AVBufferRef* hwDevice() const override { return softwareFallback_ ? nullptr : device_; }

 private:
  static AVPixelFormat pickFormat(AVCodecContext* ctx, const AVPixelFormat* formats);
  AVBufferRef* device_ = nullptr;
  bool softwareFallback_ = false;
  bool required_ = false;
};

// Whether this FFmpeg build can decode `codec` with NVDEC (CUDA hwaccel): any thread.
bool nvdecSupports(AVCodecID codec);

}  // namespace vigil
