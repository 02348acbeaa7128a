#include "cuda/DeviceQuery.h"

#include <cuda_runtime.h>

namespace vigil {

int cudaDeviceCountOrReason(std::string& reason) {
  int count = 0;
  cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc != cudaSuccess) {
    reason = std::string(cudaGetErrorName(rc)) + ": " + cudaGetErrorString(rc);
    return 0;
  }
  if (count == 0) reason = "no CUDA device";
  return count;
}

}  // namespace vigil
