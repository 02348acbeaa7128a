#pragma once
#include <string>

namespace vigil {

// Number of CUDA devices usable now; 0 with `reason` filled when there is no driver or GPU.
// Host code only; safe on any thread.
int cudaDeviceCountOrReason(std::string& reason);

}  // namespace vigil
