#pragma once
#include <string>
#include <vector>

namespace vigil {

// What the GPU detector (GpuDetector: head decode + NMS where the outputs lie) needs of an
// inference engine: a batch of letterboxed [3, S, S] float frames in device memory in, named
// float outputs [batch, rows, cols] in device memory out, run asynchronously on a CUDA stream.
// Two implementations: TensorRT (TrtEngine) and Vigil's own INT8 engine (Int8Engine).
class GpuEngine {
 public:
  virtual ~GpuEngine() = default;
  // Device buffers: the input [maxBatch, 3, S, S] and each output, in outputNames() order.
  virtual float* input() const = 0;
  virtual const std::vector<float*>& outputs() const = 0;
  virtual const std::vector<std::string>& outputNames() const = 0;
  virtual int maxBatch() const = 0;
  virtual const std::string& cacheKey() const = 0;
  virtual bool builtNow() const = 0;
  // Enqueues inference of `batch` frames on `stream` (a cudaStream_t). `input`: device memory
  // holding the batch (a DeviceBatch the letterbox wrote), else input().
  virtual bool enqueue(int batch, void* stream, std::string& err, const float* input = nullptr) = 0;
};

}  // namespace vigil
