#pragma once
// No CUDA here: the option structs of CPU-only builds name this default too.

namespace vigil {

// How long a wait for a stream polls before it blocks (waitStream, CudaCheck.h), in µs. The
// primary context's blocking sync puts a waiting thread to sleep in the OS, and on a VM that
// wake-up grows with the wait; a poll sees the end at once, at the cost of a core polling (and
// yielding to any other runnable thread) while the GPU works. 0: block at once.
constexpr int kDefaultSpinUs = 10000;

}  // namespace vigil
