#pragma once
#include <cstdint>

namespace vigil {

// Monotonic microseconds on CLOCK_MONOTONIC: the same clock as libuv's uv_hrtime and Node's
// process.hrtime, so JS can compare stamps with its own readings. Safe on any thread.
int64_t monoNowUs();

}  // namespace vigil
