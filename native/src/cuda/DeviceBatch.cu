#include "cuda/DeviceBatch.h"

#include "cuda/CudaCheck.h"

namespace vigil {

std::shared_ptr<DeviceBatch> DeviceBatch::create(int maxBatch, int size, std::string& err) {
  usePrimaryContextFlags();
  std::shared_ptr<DeviceBatch> b(new DeviceBatch());
  b->maxBatch_ = maxBatch;
  b->size_ = size;
  cudaError_t rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&b->data_), maxBatch * b->slotFloats() * sizeof(float)));
  // Zeroed: a slot no letterbox wrote (a warm-up run, a frame gone from its pool) holds a blank image, not stale bits.
  if (rc == cudaSuccess) rc = CUDA(cudaMemset(b->data_, 0, maxBatch * b->slotFloats() * sizeof(float)));
  if (rc != cudaSuccess) {
    cudaFree(b->data_);
    b->data_ = nullptr;
    err = "cannot allocate the GPU input batch: " + cudaErrorText(rc);
    return nullptr;
  }
  return b;
}

DeviceBatch::~DeviceBatch() { cudaFree(data_); }

// On this thread's own stream, then synchronised: a pageable-memory cudaMemcpy may return before
// the data has landed, and the inference stream is not ordered after the legacy default stream.
bool DeviceBatch::upload(int i, const float* host, std::string& err) {
  cudaError_t rc =
      CUDA(cudaMemcpyAsync(slot(i), host, slotFloats() * sizeof(float), cudaMemcpyHostToDevice, cudaStreamPerThread));
  if (rc == cudaSuccess) rc = CUDA(cudaStreamSynchronize(cudaStreamPerThread));
  if (rc != cudaSuccess) err = "cannot upload to the GPU input batch: " + cudaErrorText(rc);
  return rc == cudaSuccess;
}

bool DeviceBatch::download(int first, int count, float* host, std::string& err) const {
  cudaError_t rc = CUDA(cudaMemcpyAsync(host, slot(first), count * slotFloats() * sizeof(float), cudaMemcpyDeviceToHost,
                                        cudaStreamPerThread));
  if (rc == cudaSuccess) rc = CUDA(cudaStreamSynchronize(cudaStreamPerThread));
  if (rc != cudaSuccess) err = "cannot read the GPU input batch: " + cudaErrorText(rc);
  return rc == cudaSuccess;
}

}  // namespace vigil
