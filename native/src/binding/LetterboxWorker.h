#pragma once
#include <napi.h>

#include <memory>

#include "binding/PromiseWorker.h"
#include "core/FramePool.h"
#include "infer/Letterbox.h"

namespace vigil {

class DeviceBatch;

// camera.letterbox(dst, size, {mean, std, bgr}): on a worker thread, leases the newest frame
// and writes it letterboxed and normalised into dst: a Float32Array (the model's input tensor,
// owned by JS and held by a reference for the duration), or { batch, slot }, a slot of a GPU
// input batch (createDeviceBatch: an NVDEC frame is written there by the kernel, in place). Resolves { seq, ptsUs,
// decodedUs, width, height, scale, padX, padY, startUs, doneUs }, or null before the first frame.
class LetterboxWorker : public PromiseWorker {
 public:
  LetterboxWorker(Napi::Env env, std::shared_ptr<FramePool> pool, Napi::Float32Array dst, int size, InputNorm norm,
                  uint64_t minSeq, bool exact);
  LetterboxWorker(Napi::Env env, std::shared_ptr<FramePool> pool, std::shared_ptr<DeviceBatch> batch, int slot,
                  InputNorm norm, uint64_t minSeq, bool exact);

 protected:
  void Execute() override;
  Napi::Value Result() override;

 private:
  std::shared_ptr<FramePool> pool_;
  Napi::Reference<Napi::Float32Array> dstRef_;
  float* dst_ = nullptr;
  std::shared_ptr<DeviceBatch> batch_;  // instead of dst_
  int slot_ = 0;
  int size_;
  InputNorm norm_;
  uint64_t minSeq_;
  bool exact_;  // the frame with seq == minSeq (while the pool holds it), not the newest
  bool empty_ = false;
  FrameInfo frame_;
  LetterboxInfo box_;
  int64_t startUs_ = 0;
  int64_t doneUs_ = 0;
};

}  // namespace vigil
