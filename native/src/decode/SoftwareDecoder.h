#pragma once
#include "decode/Decoder.h"

namespace vigil {

// libavcodec on the CPU: frame + slice threads, or slice threads only (low delay). Any codec
// libavcodec has (H.264, HEVC, ...).
class SoftwareDecoder final : public Decoder {
 public:
  ~SoftwareDecoder() override;
  bool open(const AVCodecParameters* par, int threads, bool lowDelay, std::string& err);
  Status send(const AVPacket* pkt, std::string& err) override;
  Status receive(AVFrame* out, std::string& err) override;
  void flush() override;
  std::string describe() const override;
  bool hardware() const override { return false; }
  // Appended to describe(): why a hardware decoder is not used.
  void setNote(std::string note) { note_ = std::move(note); }

 private:
  AVCodecContext* ctx_ = nullptr;
  std::string note_;
};

}  // namespace vigil
