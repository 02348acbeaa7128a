#include "decode/Decoder.h"

#include "decode/SoftwareDecoder.h"

namespace vigil {

std::unique_ptr<Decoder> createDecoder(const AVCodecParameters* par, const DecoderOptions& opts,
                                       std::string& err) {
  // Only software decoding exists in this build; Auto resolves to it.
  auto dec = std::make_unique<SoftwareDecoder>();
  if (!dec->open(par, opts.threads, opts.lowDelay, err)) return nullptr;
  return dec;
}

}  // namespace vigil
