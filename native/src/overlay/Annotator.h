#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/FramePool.h"
#include "core/Libav.h"
#include "core/Status.h"
#include "encode/H264Encoder.h"
#include "mux/Fmp4Muxer.h"
#include "overlay/BoxPainter.h"

namespace vigil {

// One piece of the annotated stream, owned by the caller.
struct AnnotatedChunk {
  std::vector<uint8_t> init;  // on the first frame (and after a size change)
  std::string mime;           // with init
  std::vector<uint8_t> fragment;
  bool keyframe = false;
  int64_t ptsUs = 0;
};

// A camera's annotated stream: detected frames with their boxes burned in, re-encoded to H.264
// (NVENC, else libx264) and cut into fMP4 fragments, one per detected frame (so it runs at the
// detector's rate). Thread-safe (one mutex): annotate calls come from the libuv pool.
class Annotator {
 public:
  // Paints `boxes` on a copy of `frame` (the pool's stays untouched) and encodes it.
  // Ok with an empty fragment when the frame is not newer than the last one annotated.
  Status annotate(const AVFrame* frame, const FrameInfo& info, const std::vector<DetectionRecord>& boxes,
                  AnnotatedChunk& out, std::string& err);

 private:
  std::mutex mutex_;
  std::unique_ptr<H264Encoder> encoder_;
  std::unique_ptr<Fmp4Muxer> mux_;
  FramePtr scratch_;
  PacketPtr pkt_;
  int width_ = 0;
  int height_ = 0;
  int64_t lastPtsUs_ = INT64_MIN;
};

}  // namespace vigil
