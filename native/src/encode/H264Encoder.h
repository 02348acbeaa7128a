#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/Libav.h"
#include "core/Status.h"

namespace vigil {

// Decoded frames (YUV420P, limited range) → H.264 for browsers, where the camera's own stream
// cannot pass through (HEVC and others). Low-latency settings: no B-frames, no lookahead, a
// keyframe every `gopFrames`. Picks NVENC (h264_nvenc) when the GPU has one, else libx264;
// name() says which. Used by one thread (the camera thread).
class H264Encoder {
 public:
  // Opens an encoder for frames of this size; `why` says why none could be opened.
  Status open(int width, int height, double fps, int gopFrames, std::string& why);
  // One frame in (ptsUs on the session timeline); the packets it completes out (usually one:
  // no B-frames, no lookahead, so nothing waits for later frames), pts/dts in µs. The encoder
  // is done with `frame` when this returns (it copies what it keeps).
  // `forceKey`: make this frame a keyframe (a viewer dropped fragments and waits for one).
  Status encode(const AVFrame* frame, int64_t ptsUs, bool forceKey, std::vector<PacketPtr>& out, std::string& err);
  // Stream parameters for the muxer (codec, size, SPS/PPS in extradata). Valid after open().
  const AVCodecParameters* codecpar() const { return par_.get(); }
  const std::string& name() const { return name_; }

 private:
  struct ParDeleter { void operator()(AVCodecParameters* p) const { avcodec_parameters_free(&p); } };
  CodecContextPtr ctx_;
  std::unique_ptr<AVCodecParameters, ParDeleter> par_;
  FramePtr frame_;  // a reference to the caller's frame, with our pts
  PacketPtr pkt_;
  std::string name_;
};

}  // namespace vigil
