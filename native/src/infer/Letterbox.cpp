#include "infer/Letterbox.h"

#include <algorithm>
#include <cmath>

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
}

#if VIGIL_WITH_CUDA
#include "cuda/DeviceBatch.h"
#include "cuda/GpuLetterboxer.h"
#else
namespace vigil {
class GpuLetterboxer {};  // never made without CUDA; complete for the unique_ptr
}  // namespace vigil
#endif

namespace vigil {

Letterboxer::Letterboxer() = default;

Letterboxer::~Letterboxer() {
  sws_freeContext(sws_);
  av_free(rgb_);
}

bool Letterboxer::canRun(const AVFrame* frame) {
  if (frame->format != AV_PIX_FMT_CUDA) return true;
#if VIGIL_WITH_CUDA
  const auto* frames =
      frame->hw_frames_ctx ? reinterpret_cast<const AVHWFramesContext*>(frame->hw_frames_ctx->data) : nullptr;
  return frames && frames->sw_format == AV_PIX_FMT_NV12;
#else
  return false;
#endif
}

bool Letterboxer::runGpu(const AVFrame* frame, int size, int w, int h, const InputNorm& norm, float* dst,
                         bool dstOnDevice, const LetterboxInfo& info, std::string& err) {
#if VIGIL_WITH_CUDA
  if (!gpu_) gpu_ = std::make_unique<GpuLetterboxer>();
  Nv12Surface src;
  src.y = frame->data[0];
  src.uv = frame->data[1];
  src.pitchY = frame->linesize[0];
  src.pitchUV = frame->linesize[1];
  src.width = frame->width;
  src.height = frame->height;
  src.fullRange = frame->color_range == AVCOL_RANGE_JPEG;
  LetterboxRegion region{size, w, h, info.padX, info.padY};
  ChannelNorm cn;
  for (int c = 0; c < 3; ++c) {
    cn.src[c] = norm.bgr ? 2 - c : c;
    cn.mul[c] = 1.0f / norm.std[c];
    cn.add[c] = -norm.mean[c] * cn.mul[c];
  }
  return gpu_->run(src, region, cn, dst, dstOnDevice, err);
#else
  err = "this addon was built without CUDA: a GPU frame cannot be letterboxed on the GPU";
  return false;
#endif
}

LetterboxInfo Letterboxer::geometry(const AVFrame* frame, int size, int& w, int& h) {
  const int sw = frame->width;
  const int sh = frame->height;
  const float scale = std::min(static_cast<float>(size) / sw, static_cast<float>(size) / sh);
  w = std::max(1, static_cast<int>(std::lround(sw * scale)));
  h = std::max(1, static_cast<int>(std::lround(sh * scale)));
  return LetterboxInfo{scale, (size - w) / 2, (size - h) / 2, sw, sh};
}

bool Letterboxer::runInto(const AVFrame* frame, DeviceBatch& batch, int slot, const InputNorm& norm,
                          LetterboxInfo& info, std::string& err) {
#if VIGIL_WITH_CUDA
  if (slot < 0 || slot >= batch.maxBatch()) {
    err =
        "Expected a batch slot of 0.." + std::to_string(batch.maxBatch() - 1) + " but received " + std::to_string(slot);
    return false;
  }
  if (frame->format == AV_PIX_FMT_CUDA) {
    int w = 0, h = 0;
    info = geometry(frame, batch.size(), w, h);
    return runGpu(frame, batch.size(), w, h, norm, batch.slot(slot), true, info, err);
  }
  if (stagingFloats_ < batch.slotFloats()) {
    staging_ = std::make_unique<float[]>(batch.slotFloats());
    stagingFloats_ = batch.slotFloats();
  }
  return run(frame, batch.size(), norm, staging_.get(), info, err) && batch.upload(slot, staging_.get(), err);
#else
  (void)frame, (void)batch, (void)slot, (void)norm, (void)info;
  err = "this addon was built without CUDA: no GPU input batch";
  return false;
#endif
}

bool Letterboxer::run(const AVFrame* frame, int size, const InputNorm& norm, float* dst, LetterboxInfo& info,
                      std::string& err) {
  const int sw = frame->width;
  const int sh = frame->height;
  int w = 0, h = 0;
  info = geometry(frame, size, w, h);
  if (frame->format == AV_PIX_FMT_CUDA) return runGpu(frame, size, w, h, norm, dst, false, info, err);

  sws_ = sws_getCachedContext(sws_, sw, sh, static_cast<AVPixelFormat>(frame->format), w, h, AV_PIX_FMT_RGB24,
                              SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws_) {
    err = "cannot set up the letterbox scaler";
    return false;
  }
  const size_t need = static_cast<size_t>(w) * h * 3;
  if (need > rgbBytes_) {
    av_free(rgb_);
    rgb_ = static_cast<uint8_t*>(av_malloc(need + 64));
    rgbBytes_ = rgb_ ? need : 0;
    if (!rgb_) {
      err = "out of memory for the letterbox buffer";
      return false;
    }
  }
  uint8_t* planes[1] = {rgb_};
  int strides[1] = {w * 3};
  if (sws_scale(sws_, frame->data, frame->linesize, 0, sh, planes, strides) != h) {
    err = "letterbox scaling failed";
    return false;
  }
  const size_t plane = static_cast<size_t>(size) * size;
  for (int c = 0; c < 3; ++c) {
    // Output channel c takes source channel (bgr ? 2 - c : c).
    const int src = norm.bgr ? 2 - c : c;
    const float mul = 1.0f / norm.std[c];
    const float add = -norm.mean[c] * mul;
    float* out = dst + c * plane;
    std::fill(out, out + plane, add);  // black border
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = rgb_ + static_cast<size_t>(y) * w * 3 + src;
      float* o = out + static_cast<size_t>(y + info.padY) * size + info.padX;
      for (int x = 0; x < w; ++x) o[x] = row[3 * x] * mul + add;
    }
  }
  return true;
}

}  // namespace vigil
