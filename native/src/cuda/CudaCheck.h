#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "cuda/SpinWait.h"

namespace vigil {

// Logs a failed CUDA runtime call with its text and file:line on stderr; returns the code.
inline cudaError_t cudaCheck(cudaError_t rc, const char* call, const char* file, int line) {
  if (rc != cudaSuccess)
    std::fprintf(stderr, "vigil: CUDA error %s (%s) in %s at %s:%d\n", cudaGetErrorName(rc), cudaGetErrorString(rc),
                 call, file, line);
  return rc;
}

inline std::string cudaErrorText(cudaError_t rc) {
  return std::string(cudaGetErrorName(rc)) + ": " + cudaGetErrorString(rc);
}

// Waits for a stream's work: polls it, yielding the CPU between polls, for up to `spinUs`
// microseconds (kDefaultSpinUs, SpinWait.h, says why), then blocks as cudaStreamSynchronize.
inline cudaError_t waitStream(cudaStream_t st, int spinUs) {
  if (spinUs > 0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spinUs);
    do {
      const cudaError_t rc = cudaStreamQuery(st);
      if (rc != cudaErrorNotReady) return rc;
      std::this_thread::yield();
    } while (std::chrono::steady_clock::now() < until);
  }
  return cudaStreamSynchronize(st);
}

// The addon's CUDA runtime calls and libavcodec's NVDEC share the device's primary context.
// libavcodec wants it with blocking-sync scheduling and refuses one already active with other
// flags ("Primary context already active with incompatible flags"): whoever comes first, the
// context gets those flags. Call before the first runtime call that creates the context.
inline void usePrimaryContextFlags() {
  static std::once_flag once;
  std::call_once(once, [] {
    // cudaErrorSetOnActiveProcess: already active (NVDEC came first and set the same flags).
    if (cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync) != cudaSuccess) cudaGetLastError();
  });
}

// Device memory owned by one object: allocated once (cudaMalloc), freed in the destructor.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  // Grows to at least `count` elements (contents not kept); a no-op when large enough.
  cudaError_t reserve(size_t count) {
    if (count <= count_) return cudaSuccess;
    cudaFree(ptr_);
    ptr_ = nullptr;
    count_ = 0;
    cudaError_t rc = cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(T));
    if (rc == cudaSuccess) count_ = count;
    return rc;
  }
  T* get() const { return ptr_; }
  size_t size() const { return count_; }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

}  // namespace vigil

#define CUDA(call) ::vigil::cudaCheck((call), #call, __FILE__, __LINE__)
