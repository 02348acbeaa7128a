#pragma once
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

namespace vigil {

// Encodes one YUV420P frame (limited range, as decoders produce) to a baseline JPEG with
// libavcodec's mjpeg encoder, converting to full range first so viewers show true levels.
// Stateless between calls; safe on any thread (each call has its own contexts).
// quality: 1 (worst) .. 100 (best). Returns false with `err` on failure.
bool encodeJpeg(const AVFrame* frame, int quality, std::vector<uint8_t>& out, std::string& err);

}  // namespace vigil
