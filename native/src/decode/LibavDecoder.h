#pragma once
#include "core/LibavLog.h"
#include "decode/Decoder.h"

namespace vigil {

// What every libavcodec-backed decoder shares: the codec context and the send/receive/flush
// calls on it. Subclasses open ctx_ (software threads, or the CUDA hwaccel).
class LibavDecoder : public Decoder {
 public:
  ~LibavDecoder() override;
  Status send(const AVPacket* pkt, std::string& err) override;
  Status receive(AVFrame* out, std::string& err) override;
  void flush() override;
  uint64_t errors() const override { return tally_.errors(); }
  std::string lastError() const override { return tally_.last(); }

 protected:
  // Subclasses call this right after allocating ctx_: its opaque becomes the tally.
  void attachTally() { ctx_->opaque = &tally_; }

  // ctx_'s opaque; outlives it (the destructors free ctx_ and its threads, then members go).
  DecoderLogTally tally_{static_cast<LibavDecoder*>(this)};
  AVCodecContext* ctx_ = nullptr;
};

}  // namespace vigil
