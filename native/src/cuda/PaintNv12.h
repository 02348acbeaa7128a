#pragma once
#include <memory>
#include <string>
#include <vector>

#include "overlay/PaintRect.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace vigil {

// Burns box outlines into NV12 frames that live in GPU memory (AV_PIX_FMT_CUDA: NVDEC's, or
// an encoder's input surfaces): the same rectangles, the same bytes as the CPU painter
// (overlay/BoxPainter) on YUV420P. One per thread; its stream and rectangle buffers are
// allocated on first use and grown, never per frame.
class GpuPainter {
 public:
  GpuPainter();
  ~GpuPainter();
  GpuPainter(const GpuPainter&) = delete;
  GpuPainter& operator=(const GpuPainter&) = delete;

  // Copies `src` into `dst` (both CUDA NV12 frames of one size, device to device) and paints
  // `rects` on `dst`; blocks until done. false with `err` on a CUDA error.
  bool paint(const AVFrame* src, AVFrame* dst, const std::vector<PaintRect>& rects, std::string& err);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
