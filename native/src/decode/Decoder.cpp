#include "decode/Decoder.h"

#include "decode/NvdecDecoder.h"
#include "decode/SoftwareDecoder.h"

namespace vigil {

std::unique_ptr<Decoder> createDecoder(const AVCodecParameters* par, const DecoderOptions& opts, std::string& err) {
  std::string whyNot;
  if (opts.preference != DecoderPreference::Software) {
    auto hw = std::make_unique<NvdecDecoder>();
    if (hw->open(par, opts.extraSurfaces, opts.lowDelay, opts.preference == DecoderPreference::Nvdec, whyNot))
      return hw;
    if (opts.preference == DecoderPreference::Nvdec) {
      err = "NVDEC unavailable: " + whyNot;
      return nullptr;
    }
  }
  auto dec = std::make_unique<SoftwareDecoder>();
  if (!dec->open(par, opts.threads, opts.lowDelay, err)) return nullptr;
  if (!whyNot.empty()) dec->setNote("NVDEC unavailable: " + whyNot);
  return dec;
}

}  // namespace vigil
