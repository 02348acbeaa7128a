#include "ingest/Source.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "core/Clock.h"
#include "core/Libav.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/opt.h>
}

namespace vigil {

namespace {

bool isNetworkUrl(const std::string& url) {
  for (const char* scheme : {"rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://"}) {
    if (url.rfind(scheme, 0) == 0) return true;
  }
  return false;
}

bool startsWithNoCase(const std::string& s, const char* prefix) {
  for (size_t i = 0; prefix[i] != 0; ++i) {
    if (i >= s.size() || std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// The URL's scheme, lower case: letters, digits, + - . before the first ':' (as libavformat
// finds it); "" for a plain path, which the file protocol opens.
std::string schemeOf(const std::string& url) {
  const size_t colon = url.find(':');
  if (colon == std::string::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(url[0]))) return "";
  std::string out;
  for (size_t i = 0; i < colon; ++i) {
    const char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return "";
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Each protocol a config may allow, with the ones libavformat opens beneath it.
struct ProtocolDeps {
  const char* name;
  const char* needs;
};
constexpr ProtocolDeps kProtocols[] = {
    {"http", "http,tcp"},
    {"https", "https,tls,tcp"},
    {"udp", "udp"},
    {"rtp", "rtp,udp"},
    {"tcp", "tcp"},
    {"tls", "tls,tcp"},
    {"srt", "srt"},
    {"rtmp", "rtmp,tcp"},
    {"rtmps", "rtmps,tls,tcp"},
};

}  // namespace

bool knownProtocol(const std::string& name) {
  for (const ProtocolDeps& p : kProtocols) {
    if (name == p.name) return true;
  }
  return false;
}

std::string protocolWhitelist(const SourceOptions& opts) {
  std::vector<std::string> names;
  auto add = [&names](const std::string& list) {
    size_t at = 0;
    while (at <= list.size()) {
      size_t comma = list.find(',', at);
      std::string one = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      if (!one.empty() && std::find(names.begin(), names.end(), one) == names.end()) names.push_back(one);
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  };
  const std::string& url = opts.url;
  if (startsWithNoCase(url, "rtsps://")) {
    add("rtsp,rtsps,rtp,udp,tcp,tls");
  } else if (startsWithNoCase(url, "rtsp://")) {
    add("rtsp,rtp,udp,tcp");
  } else {
    const std::string scheme = schemeOf(url);
    if (scheme.empty() || scheme == "file") add("file");
  }
  for (const std::string& extra : opts.protocols) {
    for (const ProtocolDeps& p : kProtocols) {
      if (extra == p.name) add(p.needs);
    }
  }
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

Source::Source(SourceOptions opts, const std::atomic<bool>* stop)
    : opts_(std::move(opts)), network_(isNetworkUrl(opts_.url)), extStop_(stop) {}

Source::~Source() {
  if (ctx_) avformat_close_input(&ctx_);
}

int64_t Source::nowPlusTimeout() const { return monoNowUs() + opts_.timeoutUs; }

int Source::interruptCb(void* self) {
  auto* s = static_cast<Source*>(self);
  if (s->stopRequested()) return 1;
  return monoNowUs() > s->deadlineUs_.load() ? 1 : 0;
}

Status Source::open(std::string& err) {
  ctx_ = avformat_alloc_context();
  if (!ctx_) {
    err = "out of memory allocating the input context";
    return Status::Error;
  }
  ctx_->interrupt_callback.callback = &Source::interruptCb;
  ctx_->interrupt_callback.opaque = this;

  AVDictionary* opts = nullptr;
  if (opts_.url.rfind("rtsp", 0) == 0) {
    av_dict_set(&opts, "rtsp_transport", opts_.rtspTransport.c_str(), 0);
    // Socket I/O timeout (µs): a silent server fails the read instead of hanging.
    av_dict_set_int(&opts, "timeout", opts_.timeoutUs, 0);
  } else if (network_) {
    av_dict_set_int(&opts, "rw_timeout", opts_.timeoutUs, 0);
  }
  // Only the protocols this source needs (and the config allowed): an HLS playlist, a concat
  // list or a redirect cannot make the daemon open anything else. "none" when nothing fits.
  const std::string whitelist = protocolWhitelist(opts_);
  const std::string scheme = schemeOf(opts_.url);
  if (!scheme.empty() && ("," + whitelist + ",").find("," + scheme + ",") == std::string::npos) {
    av_dict_free(&opts);
    avformat_free_context(ctx_);
    ctx_ = nullptr;
    err = "the " + scheme + " protocol is not allowed for this source (name it in the camera's allowed_protocols)";
    return Status::Error;
  }
  av_dict_set(&opts, "protocol_whitelist", whitelist.empty() ? "none" : whitelist.c_str(), 0);
  // Keep probing short (time to first frame): cameras send SPS/PPS with the first keyframe,
  // and half a second of frames is enough to see the frame rate.
  av_dict_set_int(&opts, "analyzeduration", 500000, 0);
  av_dict_set_int(&opts, "probesize", 2 * 1024 * 1024, 0);

  armDeadline();
  int rc = avformat_open_input(&ctx_, opts_.url.c_str(), nullptr, &opts);
  av_dict_free(&opts);
  if (rc < 0) {  // avformat_open_input frees ctx_ on failure
    ctx_ = nullptr;
    if (stopRequested()) return Status::Stopped;
    err = "cannot open input: " + avErrorText(rc);
    return rc == AVERROR_EXIT ? Status::Timeout : Status::Error;
  }
  armDeadline();
  rc = avformat_find_stream_info(ctx_, nullptr);
  if (rc < 0) {
    if (stopRequested()) return Status::Stopped;
    err = "cannot read stream info: " + avErrorText(rc);
    return rc == AVERROR_EXIT ? Status::Timeout : Status::Error;
  }
  stream_ = av_find_best_stream(ctx_, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (stream_ < 0) {
    err = "input has no video stream";
    return Status::Error;
  }
  for (unsigned i = 0; i < ctx_->nb_streams; ++i) {
    if (static_cast<int>(i) != stream_) ctx_->streams[i]->discard = AVDISCARD_ALL;
  }
  return Status::Ok;
}

Status Source::read(AVPacket* pkt, std::string& err) {
  // One deadline for the whole call: packets of other streams (RTSP ignores discard flags)
  // must not keep a silent video stream from timing out.
  armDeadline();
  for (;;) {
    av_packet_unref(pkt);
    int rc = av_read_frame(ctx_, pkt);
    if (stopRequested()) return Status::Stopped;
    if (rc == AVERROR_EOF) return Status::Eos;
    if (rc == AVERROR_EXIT) {
      err = "no data from the source for " + std::to_string(opts_.timeoutUs / 1000) + " ms";
      return Status::Timeout;
    }
    if (rc == AVERROR(EAGAIN)) continue;
    if (rc < 0) {
      // A network peer that goes away shows as EOF or an I/O error; both end the session.
      if (ctx_->pb && avio_feof(ctx_->pb) && !network_) return Status::Eos;
      err = "read failed: " + avErrorText(rc);
      return Status::Error;
    }
    if (pkt->stream_index != stream_) continue;

    const AVStream* st = ctx_->streams[stream_];
    int64_t raw = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (raw != AV_NOPTS_VALUE && (passFirst_ == AV_NOPTS_VALUE || raw < passFirst_)) passFirst_ = raw;
    if (loopOffset_ != 0) {
      if (pkt->pts != AV_NOPTS_VALUE) pkt->pts += loopOffset_;
      if (pkt->dts != AV_NOPTS_VALUE) pkt->dts += loopOffset_;
    }
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts != AV_NOPTS_VALUE) {
      int64_t dur = pkt->duration > 0 ? pkt->duration : 0;
      if (dur == 0 && st->avg_frame_rate.num > 0) {
        dur = av_rescale_q(1, av_inv_q(st->avg_frame_rate), st->time_base);
      }
      if (ts + dur > passEnd_) passEnd_ = ts + dur;
    }
    if (opts_.realtime && !network_) pace(pkt);
    return Status::Ok;
  }
}

void Source::pace(const AVPacket* pkt) {
  int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
  if (ts == AV_NOPTS_VALUE) return;
  int64_t streamUs = toUs(ts);
  if (paceWall0_ < 0) {
    paceWall0_ = monoNowUs();
    paceStream0_ = streamUs;
    return;
  }
  int64_t due = paceWall0_ + (streamUs - paceStream0_);
  int64_t now = monoNowUs();
  // A timestamp jump (damaged file) or a long hiccup: restart the pace from this packet
  // instead of sleeping for the jump or bursting to catch up.
  if (due - now > 1000000 || now - due > 1000000) {
    paceWall0_ = now;
    paceStream0_ = streamUs;
    return;
  }
  // Sleep in short steps so a stop request is honoured promptly.
  for (; now < due && !stopRequested(); now = monoNowUs()) {
    std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(due - now, 20000)));
  }
}

Status Source::rewind(std::string& err) {
  if (network_) {
    err = "cannot rewind a network source";
    return Status::Error;
  }
  int rc = av_seek_frame(ctx_, stream_, 0, AVSEEK_FLAG_BACKWARD);
  if (rc < 0) rc = avformat_seek_file(ctx_, -1, INT64_MIN, 0, 0, 0);
  if (rc < 0) {
    err = "cannot seek to the start: " + avErrorText(rc);
    return Status::Error;
  }
  // The next pass starts where this one ended on the continuous timeline. (The first pts
  // actually read, not the container's start_time, which short probing can get wrong.)
  loopOffset_ = passEnd_ - (passFirst_ == AV_NOPTS_VALUE ? 0 : passFirst_);
  passFirst_ = AV_NOPTS_VALUE;
  return Status::Ok;
}

const AVCodecParameters* Source::codecpar() const { return ctx_->streams[stream_]->codecpar; }
AVRational Source::timeBase() const { return ctx_->streams[stream_]->time_base; }

double Source::fps() const {
  const AVStream* st = ctx_->streams[stream_];
  AVRational r = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  return r.num > 0 && r.den > 0 ? av_q2d(r) : 0.0;
}

std::string Source::formatName() const { return ctx_ && ctx_->iformat ? ctx_->iformat->name : ""; }

int64_t Source::toUs(int64_t pts) const {
  if (pts == AV_NOPTS_VALUE) return AV_NOPTS_VALUE;
  return av_rescale_q(pts, timeBase(), AVRational{1, 1000000});
}

}  // namespace vigil
