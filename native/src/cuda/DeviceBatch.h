#pragma once
#include <memory>
#include <string>

namespace vigil {

// The model input of a cross-camera batch in GPU memory: [maxBatch, 3, size, size] floats,
// allocated once. Each camera's letterbox writes its slot straight in (the CUDA kernel for an
// NVDEC frame; a host frame's tensor is uploaded), and a GPU backend reads the whole batch
// where it lies. Slots are written by different threads at once; a batch is read when all
// its slots are written (the caller orders that).
class DeviceBatch {
 public:
  // nullptr with `err` without CUDA or GPU memory.
  static std::shared_ptr<DeviceBatch> create(int maxBatch, int size, std::string& err);
  ~DeviceBatch();
  DeviceBatch(const DeviceBatch&) = delete;
  DeviceBatch& operator=(const DeviceBatch&) = delete;

  int maxBatch() const { return maxBatch_; }
  int size() const { return size_; }
  size_t slotFloats() const { return 3 * static_cast<size_t>(size_) * size_; }
  float* slot(int i) const { return data_ + i * slotFloats(); }  // device memory
  // Copies a tensor (host memory, slotFloats() floats) into slot `i`; blocks until done.
  bool upload(int i, const float* host, std::string& err);
  // Copies slots [first, first + count) to host memory (checks, tools); blocks until done.
  bool download(int first, int count, float* host, std::string& err) const;

 private:
  DeviceBatch() = default;
  float* data_ = nullptr;
  int maxBatch_ = 0;
  int size_ = 0;
};

}  // namespace vigil
