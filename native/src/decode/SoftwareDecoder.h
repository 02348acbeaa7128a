#pragma once
#include "decode/LibavDecoder.h"

namespace vigil {

// libavcodec on the CPU: frame + slice threads, or slice threads only (low delay). Any codec
// libavcodec has (H.264, HEVC, ...).
class SoftwareDecoder final : public LibavDecoder {
 public:
  bool open(const AVCodecParameters* par, int threads, bool lowDelay, std::string& err);
  std::string describe() const override;
  bool hardware() const override { return false; }
  // Appended to describe(): why a hardware decoder is not used.
  void setNote(std::string note) { note_ = std::move(note); }

 private:
  std::string note_;
};

}  // namespace vigil
