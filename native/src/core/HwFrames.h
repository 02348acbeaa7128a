#pragma once
extern "C" {
#include <libavutil/hwcontext.h>
}

namespace vigil {

// A pool of NV12 surfaces of one size on a CUDA device (an AVHWFramesContext): what NVENC and
// the GPU painter take. nullptr on failure, with the libav error code in `rc`.
inline AVBufferRef* nv12FramesOn(AVBufferRef* cudaDevice, int width, int height, int& rc) {
  AVBufferRef* frames = av_hwframe_ctx_alloc(cudaDevice);
  if (!frames) {
    rc = AVERROR(ENOMEM);
    return nullptr;
  }
  auto* fc = reinterpret_cast<AVHWFramesContext*>(frames->data);
  fc->format = AV_PIX_FMT_CUDA;
  fc->sw_format = AV_PIX_FMT_NV12;
  fc->width = width;
  fc->height = height;
  rc = av_hwframe_ctx_init(frames);
  if (rc < 0) av_buffer_unref(&frames);
  return frames;
}

// The CUDA device a GPU frame lives on (not owned).
inline AVBufferRef* cudaDeviceOf(const AVFrame* frame) {
  return reinterpret_cast<AVHWFramesContext*>(frame->hw_frames_ctx->data)->device_ref;
}

}  // namespace vigil
