#include "decode/NvdecDecoder.h"

#include "core/Libav.h"

extern "C" {
#include <libavutil/hwcontext.h>
}

namespace vigil {

namespace {
bool hasCudaConfig(const AVCodec* codec) {
  for (int i = 0;; ++i) {
    const AVCodecHWConfig* cfg = avcodec_get_hw_config(codec, i);
    if (!cfg) return false;
    if ((cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && cfg->device_type == AV_HWDEVICE_TYPE_CUDA)
      return true;
  }
}
}  // namespace

bool nvdecSupports(AVCodecID id) {
  const AVCodec* codec = avcodec_find_decoder(id);
  return codec && hasCudaConfig(codec);
}

NvdecDecoder::~NvdecDecoder() {
  avcodec_free_context(&ctx_);  // before the device it references
  av_buffer_unref(&device_);
}

AVPixelFormat NvdecDecoder::pickFormat(AVCodecContext* ctx, const AVPixelFormat* formats) {
  auto* self = static_cast<NvdecDecoder*>(static_cast<LibavDecoder*>(DecoderLogTally::from(ctx->opaque)->owner()));
  for (const AVPixelFormat* f = formats; *f != AV_PIX_FMT_NONE; ++f) {
    if (*f == AV_PIX_FMT_CUDA) {
      self->softwareFallback_ = false;
      return *f;
    }
  }
  // NVDEC declined this stream (profile, chroma format, size, surface count): libavcodec offers
  // software formats; with NVDEC required, nothing is decoded (errors say so).
  self->softwareFallback_ = true;
  return self->required_ ? AV_PIX_FMT_NONE : formats[0];
}

bool NvdecDecoder::open(const AVCodecParameters* par, int extraSurfaces, bool lowDelay, bool required,
                        std::string& err) {
  required_ = required;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) {
    err = std::string("no decoder for codec ") + avcodec_get_name(par->codec_id);
    return false;
  }
  if (!hasCudaConfig(codec)) {
    err = std::string("this FFmpeg has no NVDEC (CUDA hwaccel) for ") + codec->name;
    return false;
  }
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "primary_ctx", "1", 0);  // share the device's primary context (cudart uses it too)
  int rc = av_hwdevice_ctx_create(&device_, AV_HWDEVICE_TYPE_CUDA, nullptr, opts, 0);
  av_dict_free(&opts);
  if (rc < 0) {
    err = "no CUDA device for NVDEC (" + avErrorText(rc) + ")";
    return false;
  }
  ctx_ = avcodec_alloc_context3(codec);
  if (!ctx_ || avcodec_parameters_to_context(ctx_, par) < 0) {
    err = "cannot set up the decoder context";
    return false;
  }
  attachTally();
  ctx_->get_format = &NvdecDecoder::pickFormat;
  ctx_->hw_device_ctx = av_buffer_ref(device_);
  ctx_->extra_hw_frames = extraSurfaces;
  if (lowDelay) ctx_->flags |= AV_CODEC_FLAG_LOW_DELAY;
  rc = avcodec_open2(ctx_, codec, nullptr);
  if (rc < 0) {
    err = std::string("cannot open NVDEC decoder ") + codec->name + ": " + avErrorText(rc);
    return false;
  }
  return true;
}

std::string NvdecDecoder::describe() const {
  if (softwareFallback_) return std::string(ctx_->codec->name) + " (software: NVDEC declined this stream)";
  return std::string(ctx_->codec->name) + " (NVDEC, frames in GPU memory)";
}

}  // namespace vigil
