#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/Libav.h"
#include "core/Status.h"
#include "decode/HostFrame.h"

struct SwsContext;

namespace vigil {

// Decoded frames → H.264 for browsers, where the camera's own stream cannot pass through (HEVC
// and others), and for the annotated stream. Low-latency settings: no B-frames, no lookahead,
// a keyframe every `gopFrames`. Picks NVENC (h264_nvenc) when the GPU has one, else libx264;
// describe() says which and why not NVENC. Given a CUDA device, NVENC takes NV12 frames in GPU
// memory as they are (NVDEC's surfaces, the GPU painter's); where no NVENC opens there (the
// H100 has none), libx264 gets host frames: a GPU frame is copied down and the caller told.
// Used by one thread at a time.
class H264Encoder {
 public:
  ~H264Encoder();
  // Opens an encoder for frames of this size; `why` says why none could be opened.
  // `cudaDevice` (an AVHWDeviceContext of type CUDA, or nullptr): frames will come in its memory.
  Status open(int width, int height, double fps, int gopFrames, AVBufferRef* cudaDevice, std::string& why);
  // One frame in (ptsUs on the session timeline); the packets it completes out (one: no
  // B-frames, no lookahead, NVENC's output delay 0), pts/dts in µs. libx264 copies what it
  // keeps; NVENC with CUDA input holds a reference to the surface until its packet is out
  // (within this call), so the surface may be reused once this returns.
  // `forceKey`: make this frame a keyframe (a viewer dropped fragments and waits for one).
  // Either kind of frame: a host frame is uploaded for a CUDA-input NVENC, a GPU frame copied
  // down for libx264 (`copiedToHost` set: the caller counts it).
  Status encode(const AVFrame* frame, int64_t ptsUs, bool forceKey, std::vector<PacketPtr>& out, std::string& err,
                bool* copiedToHost = nullptr);
  // Stream parameters for the muxer (codec, size, SPS/PPS in extradata). Valid after open().
  const AVCodecParameters* codecpar() const { return par_.get(); }
  const std::string& name() const { return name_; }
  // NVENC taking CUDA frames as they are (no copy of a GPU frame).
  bool cudaInput() const { return cudaInput_; }
  // Why the encoders tried before this one did not open ("" when the first one did).
  const std::string& fallback() const { return fallback_; }
  // "h264_nvenc (CUDA frames)", "libx264 (h264_nvenc: …)".
  std::string describe() const;
  // With cudaInput(): the frames context of the encoder's input (NV12 surfaces on its device),
  // to allocate frames it takes as they are. Else nullptr.
  AVBufferRef* hwFrames() const;

 private:
  struct ParDeleter {
    void operator()(AVCodecParameters* p) const { avcodec_parameters_free(&p); }
  };
  CodecContextPtr ctx_;
  std::unique_ptr<AVCodecParameters, ParDeleter> par_;
  const AVFrame* input(const AVFrame* frame, bool* copiedToHost, std::string& err);
  FramePtr frame_;  // a reference to the caller's frame, with our pts
  PacketPtr pkt_;
  std::string name_;
  std::string fallback_;
  bool cudaInput_ = false;
  HostFrame host_;          // GPU frames for libx264
  FramePtr nv12_, upload_;  // host frames for a CUDA-input NVENC: NV12, then in GPU memory
  SwsContext* sws_ = nullptr;
};

}  // namespace vigil
