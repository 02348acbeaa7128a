#include "cuda/GpuLetterboxer.h"

#include "cuda/CudaCheck.h"

namespace vigil {

struct GpuLetterboxer::Impl {
  cudaStream_t stream = nullptr;
  DeviceBuffer<float> tensor;
};

GpuLetterboxer::GpuLetterboxer() : impl_(std::make_unique<Impl>()) {}

GpuLetterboxer::~GpuLetterboxer() {
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
}

bool GpuLetterboxer::run(const Nv12Surface& src, const LetterboxRegion& region, const ChannelNorm& norm, float* dst,
                         bool dstOnDevice, std::string& err) {
  cudaError_t rc = cudaSuccess;
  usePrimaryContextFlags();
  if (!impl_->stream) rc = CUDA(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  const size_t count = 3 * static_cast<size_t>(region.size) * region.size;
  if (dstOnDevice) {
    if (rc == cudaSuccess) rc = CUDA(cudaLetterboxNv12(src, region, norm, dst, impl_->stream));
  } else {
    if (rc == cudaSuccess) rc = CUDA(impl_->tensor.reserve(count));
    if (rc == cudaSuccess) rc = CUDA(cudaLetterboxNv12(src, region, norm, impl_->tensor.get(), impl_->stream));
    if (rc == cudaSuccess)
      rc =
          CUDA(cudaMemcpyAsync(dst, impl_->tensor.get(), count * sizeof(float), cudaMemcpyDeviceToHost, impl_->stream));
  }
  if (rc == cudaSuccess) rc = CUDA(cudaStreamSynchronize(impl_->stream));
  if (rc != cudaSuccess) {
    err = "GPU letterbox failed: " + cudaErrorText(rc);
    return false;
  }
  return true;
}

}  // namespace vigil
