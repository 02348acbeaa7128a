#include "int8/Int8EngineChecks.h"

#include "cuda/CudaCheck.h"
#include "int8/Int8EngineImpl.h"

namespace vigil {

namespace {
bool batchOk(int maxBatch, int batch, std::string& err) {
  if (batch >= 1 && batch <= maxBatch) return true;
  err = "Expected a batch of 1.." + std::to_string(maxBatch) + " frames but received " + std::to_string(batch);
  return false;
}
}  // namespace

bool Int8EngineChecks::enqueueEachOp(Int8Engine& e, int batch, void* stream, std::string& err) {
  Int8Engine::Impl& m = *e.impl_;
  if (!batchOk(m.maxBatch, batch, err)) return false;
  return m.launchAll(batch, m.input, static_cast<cudaStream_t>(stream), err);
}

bool Int8EngineChecks::profile(Int8Engine& e, int batch, void* stream, std::vector<float>& msPerOp, std::string& err) {
  Int8Engine::Impl& m = *e.impl_;
  if (!batchOk(m.maxBatch, batch, err)) return false;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  std::vector<cudaEvent_t> ev(m.prog.ops.size() + 1);
  for (cudaEvent_t& x : ev) cudaEventCreate(&x);
  cudaEventRecord(ev[0], st);
  const bool ok = m.launchAll(batch, m.input, st, err, [&](size_t k) { cudaEventRecord(ev[k + 1], st); });
  if (ok && CUDA(cudaStreamSynchronize(st)) == cudaSuccess) {
    msPerOp.assign(m.prog.ops.size(), 0.f);
    for (size_t k = 0; k < m.prog.ops.size(); ++k) cudaEventElapsedTime(&msPerOp[k], ev[k], ev[k + 1]);
  } else if (ok) {
    err = "INT8 engine: profiling run failed";
  }
  for (cudaEvent_t& x : ev) cudaEventDestroy(x);
  return ok && err.empty();
}

bool Int8EngineChecks::readBuffer(Int8Engine& e, const std::string& name, int image, std::vector<uint8_t>& bytes,
                                  std::string& err) {
  Int8Engine::Impl& m = *e.impl_;
  for (size_t i = 0; i < m.prog.buffers.size(); ++i) {
    if (m.prog.buffers[i].name != name) continue;
    if (image < 0 || image >= m.maxBatch) {
      err = "image " + std::to_string(image) + " is outside the batch";
      return false;
    }
    const size_t per = m.bytesPerImage(m.prog.buffers[i]);
    bytes.resize(per);
    const cudaError_t rc =
        CUDA(cudaMemcpy(bytes.data(), static_cast<uint8_t*>(m.buffers[i]) + per * image, per, cudaMemcpyDeviceToHost));
    if (rc != cudaSuccess) err = "reading buffer " + name + ": " + cudaErrorText(rc);
    return rc == cudaSuccess;
  }
  err = "the INT8 program has no buffer " + name;
  return false;
}

const Int8Program& Int8EngineChecks::program(const Int8Engine& e) { return e.impl_->prog; }
const Int8EngineOptions& Int8EngineChecks::options(const Int8Engine& e) { return e.impl_->opts; }

}  // namespace vigil
