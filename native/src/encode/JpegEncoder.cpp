#include "encode/JpegEncoder.h"

#include <algorithm>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
}

#include "core/Libav.h"

namespace vigil {

namespace {
struct SwsDel {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
}  // namespace

bool encodeJpeg(const AVFrame* frame, int quality, std::vector<uint8_t>& out, std::string& err) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!codec) {
    err = "this FFmpeg has no mjpeg encoder";
    return false;
  }
  FramePtr full(av_frame_alloc());
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  PacketPtr pkt(av_packet_alloc());
  if (!full || !ctx || !pkt) {
    err = "out of memory for the JPEG encoder";
    return false;
  }
  full->format = AV_PIX_FMT_YUVJ420P;
  full->width = frame->width;
  full->height = frame->height;
  if (av_frame_get_buffer(full.get(), 0) < 0) {
    err = "out of memory for the JPEG frame";
    return false;
  }
  // Limited → full range: yuv420p in, yuvj420p out makes swscale expand the levels.
  std::unique_ptr<SwsContext, SwsDel> sws(
      sws_getContext(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), frame->width,
                     frame->height, AV_PIX_FMT_YUVJ420P, SWS_POINT, nullptr, nullptr, nullptr));
  if (!sws) {
    err = "cannot convert the frame for JPEG";
    return false;
  }
  if (sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, full->data, full->linesize) <= 0) {
    err = "cannot convert the frame for JPEG";
    return false;
  }

  ctx->width = frame->width;
  ctx->height = frame->height;
  ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
  ctx->color_range = AVCOL_RANGE_JPEG;
  ctx->time_base = AVRational{1, 25};
  ctx->flags |= AV_CODEC_FLAG_QSCALE;
  // Map 1..100 onto mjpeg's qscale 31..2 (lower qscale = better).
  int q = std::clamp(quality, 1, 100);
  int qscale = 2 + (100 - q) * 29 / 99;
  ctx->global_quality = FF_QP2LAMBDA * qscale;
  full->quality = ctx->global_quality;
  if (avcodec_open2(ctx.get(), codec, nullptr) < 0) {
    err = "cannot open the mjpeg encoder";
    return false;
  }
  if (avcodec_send_frame(ctx.get(), full.get()) < 0 || avcodec_receive_packet(ctx.get(), pkt.get()) < 0) {
    err = "JPEG encoding failed";
    return false;
  }
  out.assign(pkt->data, pkt->data + pkt->size);
  return true;
}

}  // namespace vigil
