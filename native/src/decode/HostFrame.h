#pragma once
#include <string>

#include "core/FramePool.h"
#include "decode/FrameConverter.h"

namespace vigil {

// The pixels of a decoded frame in host memory as YUV420P, for the consumers that work on the
// CPU (JPEG snapshots, the box painter, libx264). A host frame passes through untouched; a
// CUDA frame (NVDEC) is copied down (av_hwframe_transfer_data) and converted. One per thread;
// the buffers are reused, and the returned frame stays valid until the next call.
class HostFrame {
 public:
  HostFrame();
  ~HostFrame();
  HostFrame(const HostFrame&) = delete;
  HostFrame& operator=(const HostFrame&) = delete;

  // nullptr with `err` on failure. `copied` says whether a GPU frame was copied to the host.
  const AVFrame* of(const AVFrame* src, bool& copied, std::string& err);

 private:
  AVFrame* nv12_ = nullptr;
  AVFrame* out_ = nullptr;
  FrameConverter converter_;
};

// `frame` (a pool frame) in host memory, through this thread's HostFrame; a GPU frame's copy is
// counted in `pool` under `why`. Valid until the next call on this thread; nullptr with `err`.
const AVFrame* hostPixels(FramePool& pool, const AVFrame* frame, HostCopy why, std::string& err);

}  // namespace vigil
