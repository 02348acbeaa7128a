#include "pipeline/Probe.h"

#include <algorithm>
#include <memory>

#include "core/Clock.h"
#include "core/Libav.h"
#include "decode/Decoder.h"

namespace vigil {

ProbeResult probeSource(const SourceOptions& opts) {
  ProbeResult r;
  SourceOptions o = opts;
  o.realtime = false;
  Source src(o);
  int64_t t0 = monoNowUs();
  Status st = src.open(r.error);
  if (st != Status::Ok) {
    r.status = statusName(st);
    return r;
  }
  r.openMs = (monoNowUs() - t0) / 1000.0;
  const AVCodecParameters* par = src.codecpar();
  r.format = src.formatName();
  r.codec = avcodec_get_name(par->codec_id);
  const char* profile = avcodec_profile_name(par->codec_id, par->profile);
  r.profile = profile ? profile : "";
  r.width = par->width;
  r.height = par->height;
  r.fps = src.fps();
  r.bitRate = par->bit_rate;

  auto dec = createDecoder(par, DecoderOptions{}, r.error);
  if (!dec) {
    r.status = statusName(Status::Error);
    return r;
  }
  r.decoder = dec->describe();
  PacketPtr pkt(av_packet_alloc());
  FramePtr frame(av_frame_alloc());
  std::string derr;
  // Packets that never decode (bad parameter sets, wrong codec) must not keep a probe forever.
  const int64_t limitUs = std::max<int64_t>(opts.timeoutUs, 10000000);
  for (;;) {
    if (monoNowUs() - t0 > limitUs) {
      r.error = "no frame decoded within " + std::to_string(limitUs / 1000000) + " s";
      r.status = statusName(Status::Timeout);
      return r;
    }
    st = src.read(pkt.get(), r.error);
    if (st == Status::Eos) {
      dec->send(nullptr, derr);
    } else if (st != Status::Ok) {
      r.status = statusName(st);
      return r;
    } else {
      dec->send(pkt.get(), derr);  // a corrupt packet is not fatal here: keep reading
    }
    if (dec->receive(frame.get(), derr) == Status::Ok) break;
    if (st == Status::Eos) {
      r.error = "the stream ended before a frame could be decoded";
      r.status = statusName(Status::Eos);
      return r;
    }
  }
  r.firstFrameMs = (monoNowUs() - t0) / 1000.0;
  r.width = frame->width;
  r.height = frame->height;
  r.ok = true;
  r.status = statusName(Status::Ok);
  r.error.clear();
  return r;
}

}  // namespace vigil
