#include "binding/checks/PaintCheckWorker.h"

#include <algorithm>
#include <vector>

#include "binding/CameraWrap.h"
#include "binding/Convert.h"
#include "core/Libav.h"
#include "decode/HostFrame.h"
#include "overlay/BoxPainter.h"

#if VIGIL_WITH_CUDA
#include "cuda/PaintNv12.h"
#endif

#include "core/HwFrames.h"

namespace vigil {

PaintCheckWorker::PaintCheckWorker(Napi::Env env, std::shared_ptr<FramePool> pool, uint64_t seq,
                                   std::vector<DetectionRecord> boxes)
    : PromiseWorker(env, "vigil.paintCheck"), pool_(std::move(pool)), seq_(seq), boxes_(std::move(boxes)) {}

Napi::Value PaintCheckWorker::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CameraWrap* camera = CameraWrap::of(info[0]);
  if (!camera) throw invalidParameter(env, "a Camera", "camera", info[0]);
  if (camera->closed()) throw invalidState(env, "Camera is closed");
  std::vector<DetectionRecord> boxes;
  const uint64_t seq = readSeqAndRecords(env, info[1], info[2], boxes);
  return PromiseWorker::Start(new PaintCheckWorker(env, camera->pool(), seq, std::move(boxes)));
}

namespace {
// The Y, U, V planes of a YUV420P frame, row by row, without padding.
std::vector<uint8_t> planes(const AVFrame* f) {
  std::vector<uint8_t> out;
  for (int p = 0; p < 3; ++p) {
    const int w = p ? (f->width + 1) / 2 : f->width, h = p ? (f->height + 1) / 2 : f->height;
    for (int y = 0; y < h; ++y)
      out.insert(out.end(), f->data[p] + y * f->linesize[p], f->data[p] + y * f->linesize[p] + w);
  }
  return out;
}
}  // namespace

void PaintCheckWorker::Execute() {
#if VIGIL_WITH_CUDA
  FrameLease lease = pool_->bySeq(seq_);
  if (!lease) {
    empty_ = true;
    return;
  }
  const AVFrame* frame = lease.frame();
  if (frame->format != AV_PIX_FMT_CUDA) {
    SetError("paintCheck: frame " + std::to_string(seq_) + " is not in GPU memory");
    return;
  }
  width_ = frame->width;
  height_ = frame->height;
  const std::vector<PaintRect> rects = boxRects(boxes_, std::max(2, width_ / 320), width_, height_);
  std::string err;
  HostFrame host;  // one at a time: each result is copied out before the next call
  bool copied = false;
  // CPU: the original comes down, then is painted.
  const AVFrame* original = host.of(frame, copied, err);
  if (!original) return SetError(err);
  const std::vector<uint8_t> before = planes(original);
  FramePtr cpu(av_frame_clone(original));
  if (!cpu || av_frame_make_writable(cpu.get()) < 0) return SetError("out of memory for the CPU picture");
  paintRects(cpu.get(), rects);
  const std::vector<uint8_t> cpuBytes = planes(cpu.get());
  // GPU: a surface on the frame's device (not from NVDEC's fixed pool) is painted, then comes down.
  int rc = 0;
  AVBufferRef* frames = nv12FramesOn(cudaDeviceOf(frame), width_, height_, rc);
  FramePtr surface(av_frame_alloc());
  if (frames) rc = surface ? av_hwframe_get_buffer(frames, surface.get(), 0) : AVERROR(ENOMEM);
  av_buffer_unref(&frames);  // the surface keeps its context alive
  if (rc < 0) return SetError("no GPU surface for the check: " + avErrorText(rc));
  GpuPainter painter;
  if (!painter.paint(frame, surface.get(), rects, err)) return SetError(err);
  const AVFrame* gpu = host.of(surface.get(), copied, err);
  if (!gpu) return SetError(err);
  const std::vector<uint8_t> gpuBytes = planes(gpu);
  bytes_ = static_cast<double>(gpuBytes.size());
  for (size_t i = 0; i < gpuBytes.size(); ++i) {
    painted_ += cpuBytes[i] != before[i];
    mismatched_ += gpuBytes[i] != cpuBytes[i];
  }
#else
  SetError("paintCheck: this addon was built without CUDA");
#endif
}

Napi::Value PaintCheckWorker::Result() {
  Napi::Env env = Env();
  if (empty_) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("width", width_);
  o.Set("height", height_);
  o.Set("bytes", bytes_);
  o.Set("painted", painted_);
  o.Set("mismatched", mismatched_);
  return o;
}

}  // namespace vigil
