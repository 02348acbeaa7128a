#pragma once
extern "C" {
#include <libavutil/frame.h>
}
struct SwsContext;

namespace vigil {

// Copies a decoded frame into a pool slot (limited-range YUV420P, same size): a plane copy when
// the format already matches, swscale otherwise (full range, 10-bit HEVC, 4:2:2...).
// One per camera thread.
class FrameConverter {
 public:
  ~FrameConverter();
  bool convert(const AVFrame* src, AVFrame* dst);

 private:
  SwsContext* sws_ = nullptr;
};

}  // namespace vigil
