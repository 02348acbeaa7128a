#pragma once
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

 protected:
  AVCodecContext* ctx_ = nullptr;
};

}  // namespace vigil
