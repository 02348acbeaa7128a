#pragma once
// An event clip's finishing step: the fragmented MP4 the daemon wrote while the event ran
// (init segment + one fragment per packet, timestamps on the camera's timeline) becomes a plain
// MP4 with its index up front (faststart) and time starting at 0, without re-encoding, so any
// player opens and seeks it.
#include <cstdint>
#include <string>

#include "core/Status.h"

namespace vigil {

struct RemuxResult {
  int64_t packets = 0;
  // Packets left out because their decode time went backwards (a damaged recording).
  int64_t skipped = 0;
  int64_t durationUs = 0;
  // The first packet's time on the input's timeline (what became 0).
  int64_t startUs = 0;
};

// Copies the first video stream of `input` into an MP4 at `output`. On failure `output` is
// removed and `err` says why.
Status remuxToMp4(const std::string& input, const std::string& output, RemuxResult& result, std::string& err);

}  // namespace vigil
