#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/FramePool.h"
#include "core/Libav.h"
#include "core/Status.h"
#include "decode/HostFrame.h"
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
// detector's rate). A GPU frame (NVDEC) is painted on the GPU (GpuPainter, on a surface of
// the encoder's) and goes to NVENC as it is; where no NVENC opens, the painted surface comes
// down for libx264. Thread-safe (one mutex): annotate calls come from the libuv pool.
class Annotator {
 public:
  Annotator();
  ~Annotator();
  Annotator(const Annotator&) = delete;
  Annotator& operator=(const Annotator&) = delete;

  // Paints `boxes` on a copy of `frame` (the pool's stays untouched) and encodes it.
  // Ok with an empty fragment when the frame is not newer than the last one annotated.
  // `copiedToHost`: set when a GPU frame had to come down (the caller counts it).
  Status annotate(const AVFrame* frame, const FrameInfo& info, const std::vector<DetectionRecord>& boxes,
                  AnnotatedChunk& out, std::string& err, bool* copiedToHost = nullptr);
  // The encoder's describe() ("" before the first frame).
  std::string encoderName() const;

 private:
  struct Gpu;
  Status reopen(const AVFrame* frame, std::string& err);
  std::mutex mutex_;
  mutable std::mutex nameMutex_;
  std::string encoderName_;
  HostFrame host_;            // GPU frames the painter cannot take (P010), brought down
  std::unique_ptr<Gpu> gpu_;  // the GPU painter and its surfaces, for CUDA frames
  std::unique_ptr<H264Encoder> encoder_;
  std::unique_ptr<Fmp4Muxer> mux_;
  FramePtr scratch_;
  PacketPtr pkt_;
  int width_ = 0;
  int height_ = 0;
  bool gpuFrames_ = false;  // the encoder was opened for GPU frames
  int64_t lastPtsUs_ = INT64_MIN;
};

}  // namespace vigil
