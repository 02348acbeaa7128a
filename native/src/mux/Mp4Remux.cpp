#include "mux/Mp4Remux.h"

#include <algorithm>
#include <cstdio>

#include "core/Libav.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>
}

namespace vigil {

namespace {

constexpr AVRational kUs{1, 1000000};

struct InputDeleter {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct OutputDeleter {
  void operator()(AVFormatContext* c) const {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};

}  // namespace

Status remuxToMp4(const std::string& input, const std::string& output, RemuxResult& result, std::string& err) {
  result = RemuxResult{};
  std::unique_ptr<AVFormatContext, OutputDeleter> out;
  // Closes the output (if any) before removing its file, and says why.
  auto fail = [&](const std::string&, std::string& e, const std::string& what, int rc) {
    e = what + (rc < 0 ? ": " + avErrorText(rc) : std::string());
    out.reset();
    std::remove(output.c_str());
    return Status::Error;
  };
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, input.c_str(), nullptr, nullptr);
  if (rc < 0) return fail(output, err, "cannot open " + input, rc);
  std::unique_ptr<AVFormatContext, InputDeleter> in(raw);
  int video = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (video < 0) return fail(output, err, input + " has no video stream", video);
  const AVStream* is = in->streams[video];

  raw = nullptr;
  rc = avformat_alloc_output_context2(&raw, nullptr, "mp4", output.c_str());
  if (rc < 0 || !raw) return fail(output, err, "no mp4 muxer", rc);
  out.reset(raw);
  AVStream* os = avformat_new_stream(out.get(), nullptr);
  if (!os) return fail(output, err, "out of memory for the output stream", 0);
  rc = avcodec_parameters_copy(os->codecpar, is->codecpar);
  if (rc < 0) return fail(output, err, "cannot copy the stream parameters", rc);
  os->codecpar->codec_tag = 0;
  os->time_base = is->time_base;
  rc = avio_open(&out->pb, output.c_str(), AVIO_FLAG_WRITE);
  if (rc < 0) return fail(output, err, "cannot create " + output, rc);
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "+faststart", 0);
  rc = avformat_write_header(out.get(), &opts);
  av_dict_free(&opts);
  if (rc < 0) return fail(output, err, "cannot write the mp4 header", rc);

  PacketPtr pkt(av_packet_alloc());
  if (!pkt) return fail(output, err, "out of memory for a packet", 0);
  int64_t origin = AV_NOPTS_VALUE;  // input time base: the first packet's decode time
  int64_t lastDts = AV_NOPTS_VALUE;
  int64_t endTs = 0;  // input time base, from origin: the last packet's end
  while ((rc = av_read_frame(in.get(), pkt.get())) >= 0) {
    if (pkt->stream_index != video) {
      av_packet_unref(pkt.get());
      continue;
    }
    int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    if (dts == AV_NOPTS_VALUE || (lastDts != AV_NOPTS_VALUE && dts <= lastDts)) {
      ++result.skipped;
      av_packet_unref(pkt.get());
      continue;
    }
    if (origin == AV_NOPTS_VALUE) {
      origin = dts;
      result.startUs = av_rescale_q(origin, is->time_base, kUs);
    }
    lastDts = dts;
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : dts;
    endTs = std::max(endTs, pts - origin + std::max<int64_t>(pkt->duration, 0));
    pkt->dts = dts - origin;
    pkt->pts = pts - origin;
    pkt->stream_index = 0;
    pkt->pos = -1;
    av_packet_rescale_ts(pkt.get(), is->time_base, os->time_base);
    rc = av_interleaved_write_frame(out.get(), pkt.get());  // takes the packet's reference
    if (rc < 0) return fail(output, err, "cannot write a packet", rc);
    ++result.packets;
  }
  if (rc != AVERROR_EOF) return fail(output, err, "cannot read " + input, rc);
  if (result.packets == 0) return fail(output, err, input + " holds no video packets", 0);
  rc = av_write_trailer(out.get());
  if (rc < 0) return fail(output, err, "cannot finish " + output, rc);
  rc = avio_closep(&out->pb);
  if (rc < 0) return fail(output, err, "cannot close " + output, rc);
  result.durationUs = av_rescale_q(endTs, is->time_base, kUs);
  return Status::Ok;
}

}  // namespace vigil
