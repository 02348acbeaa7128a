#pragma once
#include <memory>
#include <string>

#include "cuda/LetterboxNv12.h"

namespace vigil {

// Letterboxes NV12 surfaces that live in GPU memory (NVDEC frames) into a model input tensor:
// the kernel writes a preallocated device buffer on this object's own stream, then the tensor
// (not the frame) is copied to `hostDst` for a host-side detector. One per thread; the device
// buffer is allocated once per input size.
class GpuLetterboxer {
 public:
  GpuLetterboxer();
  ~GpuLetterboxer();
  GpuLetterboxer(const GpuLetterboxer&) = delete;
  GpuLetterboxer& operator=(const GpuLetterboxer&) = delete;

  // Blocks until the tensor is in `dst` (3·size·size floats, caller's): host memory, or with
  // `dstOnDevice` device memory (a slot of a DeviceBatch), written by the kernel, no copy.
  bool run(const Nv12Surface& src, const LetterboxRegion& region, const ChannelNorm& norm, float* dst, bool dstOnDevice,
           std::string& err);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
