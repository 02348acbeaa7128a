#pragma once
#include <cstdint>
#include <string>

#include "ingest/Source.h"

namespace vigil {

struct ProbeResult {
  bool ok = false;
  std::string error;   // why it failed, when !ok
  std::string status;  // statusName() of the failing step, "ok" otherwise
  std::string format;
  std::string codec;
  std::string profile;
  std::string decoder;
  int width = 0;
  int height = 0;
  double fps = 0;
  int64_t bitRate = 0;      // bits/s as the container states it, 0 when unknown
  double openMs = 0;        // connect + stream info
  double firstFrameMs = 0;  // from the start of open() to the first decoded frame
};

// Opens `opts.url`, decodes until the first frame, and reports what it found. Blocking:
// call it on a worker thread. Never throws; failures come back in the result.
ProbeResult probeSource(const SourceOptions& opts);

}  // namespace vigil
