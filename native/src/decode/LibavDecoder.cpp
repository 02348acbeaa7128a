#include "decode/LibavDecoder.h"

#include "core/Libav.h"

namespace vigil {

LibavDecoder::~LibavDecoder() { avcodec_free_context(&ctx_); }

Status LibavDecoder::send(const AVPacket* pkt, std::string& err) {
  int rc = avcodec_send_packet(ctx_, pkt);
  if (rc == 0) return Status::Ok;
  if (rc == AVERROR(EAGAIN)) return Status::Again;
  if (rc == AVERROR_EOF) return Status::Eos;
  err = "decode failed: " + avErrorText(rc);
  tally_.add(err);
  return Status::Error;
}

Status LibavDecoder::receive(AVFrame* out, std::string& err) {
  av_frame_unref(out);
  int rc = avcodec_receive_frame(ctx_, out);
  if (rc == 0) return Status::Ok;
  if (rc == AVERROR(EAGAIN)) return Status::Again;
  if (rc == AVERROR_EOF) return Status::Eos;
  err = "decode failed: " + avErrorText(rc);
  tally_.add(err);
  return Status::Error;
}

void LibavDecoder::flush() { avcodec_flush_buffers(ctx_); }

}  // namespace vigil
