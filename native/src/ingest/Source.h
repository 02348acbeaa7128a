#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/Status.h"

extern "C" {
#include <libavformat/avformat.h>
}

namespace vigil {

struct SourceOptions {
  std::string url;                    // rtsp://user:pass@host/path, or a file path
  std::string rtspTransport = "tcp";  // "tcp" or "udp"
  int64_t timeoutUs = 5000000;        // open, and every read: no data for this long = Timeout
  bool realtime = false;              // files: deliver packets at the stream's pace
  // Protocols beyond the URL's own (rtsp → rtsp,rtp,udp,tcp; rtsps → + tls; a file → file) that
  // libavformat may open for this source: its scheme when not rtsp/file, what a playlist names.
  std::vector<std::string> protocols;
};

// Whether `name` is a protocol a source may be allowed (protocolWhitelist() knows what it needs).
bool knownProtocol(const std::string& name);
// libavformat's protocol_whitelist for a source: what its URL needs plus `opts.protocols`
// (each with the protocols it runs over), nothing else.
std::string protocolWhitelist(const SourceOptions& opts);

// One input (libavformat) with one video stream selected. Used by exactly one thread; the
// owner stops it from another thread through the `stop` flag, which aborts blocking I/O.
class Source {
 public:
  // `stop` (optional, owned by the caller, outlives the Source): when set, every blocking call
  // returns Stopped. Lets an owner stop a session before or while the Source exists.
  explicit Source(SourceOptions opts, const std::atomic<bool>* stop = nullptr);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // Opens the input and finds its best video stream. Error/Timeout/Stopped fill `err`.
  Status open(std::string& err);
  // Next packet of the video stream into `pkt` (caller owns it; unref'd here first).
  // Ok, Eos, Timeout, Stopped, or Error with `err` filled.
  Status read(AVPacket* pkt, std::string& err);
  // Files only: back to the start; later pts continue after the previous pass.
  Status rewind(std::string& err);
  bool stopRequested() const { return extStop_ && extStop_->load(); }

  bool isNetwork() const { return network_; }
  const AVCodecParameters* codecpar() const;
  AVRational timeBase() const;
  double fps() const;  // from the container/stream; 0 when unknown
  std::string formatName() const;
  // pts in microseconds on this session's continuous timeline (loop passes included).
  int64_t toUs(int64_t pts) const;

 private:
  static int interruptCb(void* self);
  void armDeadline() { deadlineUs_ = nowPlusTimeout(); }
  int64_t nowPlusTimeout() const;
  void pace(const AVPacket* pkt);

  SourceOptions opts_;
  AVFormatContext* ctx_ = nullptr;
  int stream_ = -1;
  bool network_ = false;
  const std::atomic<bool>* extStop_ = nullptr;
  std::atomic<int64_t> deadlineUs_{0};
  // Loop bookkeeping (files): offset added to every pts, and the furthest end seen this pass.
  int64_t loopOffset_ = 0;
  int64_t passEnd_ = 0;
  int64_t passFirst_ = AV_NOPTS_VALUE;  // smallest raw pts read in this pass
  // Real-time pacing: wall clock and stream time of the first paced packet.
  int64_t paceWall0_ = -1;
  int64_t paceStream0_ = 0;
};

}  // namespace vigil
