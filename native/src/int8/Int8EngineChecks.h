#pragma once
// What checks and benches do with an INT8 engine beyond inference (the binding's checks object):
// run it op by op without a graph, time each op, read a buffer back. Not on the frame path. The
// caller serialises calls on an engine, as for enqueue().
#include <cstdint>
#include <string>
#include <vector>

#include "int8/Int8Engine.h"

namespace vigil {

class Int8EngineChecks {
 public:
  // Each op launched on `stream` (a cudaStream_t) from the engine's own input(), no graph.
  static bool enqueueEachOp(Int8Engine& e, int batch, void* stream, std::string& err);
  // Each op launched alone on `stream` from input(), timed with events: milliseconds per op.
  // Blocks until the run is done.
  static bool profile(Int8Engine& e, int batch, void* stream, std::vector<float>& msPerOp, std::string& err);
  // Image `image` of buffer `name` after the last run, as stored (NHWC, C channels), copied to
  // host memory. Blocks.
  static bool readBuffer(Int8Engine& e, const std::string& name, int image, std::vector<uint8_t>& bytes,
                         std::string& err);
  static const Int8Program& program(const Int8Engine& e);
  static const Int8EngineOptions& options(const Int8Engine& e);
};

}  // namespace vigil
