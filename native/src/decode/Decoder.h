#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/Status.h"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace vigil {

// Which decoder a camera asks for. Auto takes NVDEC when this FFmpeg and machine have it
// (frames stay in GPU memory), software otherwise, with the reason in describe(); Nvdec
// requires it (an error saying why when it cannot); Software never tries it.
enum class DecoderPreference { Auto, Software, Nvdec };

struct DecoderOptions {
  DecoderPreference preference = DecoderPreference::Auto;
  int threads = 0;  // software decode threads; 0 = libavcodec chooses (one per core + 1)
  // Each packet's frame out before the next packet: slice threads only (frame threads hold
  // threads−1 frames back: 300 ms at 10 fps with 4 threads). Live cameras want this; bulk
  // decoding of files wants frame threads (throughput).
  bool lowDelay = false;
  // NVDEC: surfaces beyond the decoder's own that Vigil holds at once (the camera's frame pool).
  int extraSurfaces = 4;
};

// One video decoder. Used by exactly one thread (the camera's).
class Decoder {
 public:
  virtual ~Decoder() = default;
  // Feeds one packet (nullptr = drain). Ok, Again (receive first), or Error with `err`:
  // corrupt input is an Error for this packet only; the decoder stays usable.
  virtual Status send(const AVPacket* pkt, std::string& err) = 0;
  // Takes one decoded frame into `out` (unref'd first). Ok, Again (need input), Eos (drained),
  // or Error.
  virtual Status receive(AVFrame* out, std::string& err) = 0;
  // Drops buffered frames: after a seek or loop, before decoding from a new keyframe.
  virtual void flush() = 0;
  // What is decoding, for health: "h264 (software, 3 threads)".
  virtual std::string describe() const = 0;
  virtual bool hardware() const = 0;
  // The CUDA device (AVHWDeviceContext) the frames live on while hardware(), else nullptr:
  // for an encoder that takes them as they are. Owned by the decoder.
  virtual AVBufferRef* hwDevice() const { return nullptr; }
  // Damage the decoder met so far: error returns plus the errors it logged and went on from
  // (HEVC conceals nothing and flags no frame, it only logs). Monotonic; the decoding thread.
  virtual uint64_t errors() const { return 0; }
  // The newest of those as text ("" when none).
  virtual std::string lastError() const { return ""; }
};

// Picks and opens a decoder for the stream; nullptr with `err` when none can decode it.
std::unique_ptr<Decoder> createDecoder(const AVCodecParameters* par, const DecoderOptions& opts, std::string& err);

}  // namespace vigil
