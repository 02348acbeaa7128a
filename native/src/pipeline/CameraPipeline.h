#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/FramePool.h"
#include "core/Status.h"
#include "decode/Decoder.h"
#include "decode/FrameConverter.h"
#include "ingest/Source.h"
#include "encode/H264Encoder.h"
#include "mux/Fmp4Muxer.h"

namespace vigil {

struct CameraOptions {
  SourceOptions source;
  DecoderOptions decoder;
  bool loop = false;  // files: start again at the end
  int poolSlots = 4;
  // Video for browsers (onVideo): H.264 packets remuxed into fMP4 fragments; other codecs
  // decoded frames re-encoded to H.264 (NVENC, else libx264) first.
  bool video = false;
};

// What a session found when it opened the stream.
struct StreamInfo {
  std::string codec;    // "h264", "hevc", ...
  std::string decoder;  // Decoder::describe()
  bool hardware = false;
  std::string format;  // container/protocol ("rtsp", "matroska,webm", ...)
  int width = 0;
  int height = 0;
  double fps = 0;      // 0 when the stream does not say
  int64_t openUs = 0;  // time spent opening (connect, DESCRIBE/SETUP/PLAY, probing)
  // With CameraOptions::video: "passthrough" (H.264 remuxed to fMP4), "transcode (libx264)"
  // (or h264_nvenc), or why there is no video.
  std::string video;
};

// One fMP4 piece for browsers: the init segment (first chunk of a session, and again if the
// stream's parameters change) and/or one packet's fragment. Moved to the sink, which owns it.
struct VideoChunk {
  std::vector<uint8_t> init;
  std::string mime;  // with init: the MSE type, e.g. video/mp4; codecs="avc1.640028"
  std::vector<uint8_t> fragment;
  bool keyframe = false;
  int64_t ptsUs = 0;   // the session timeline, as FrameInfo::ptsUs
  int64_t recvUs = 0;  // when the packet was received (monotonic)
};

// Counters since the camera was created (all sessions). Read from any thread.
struct CameraCounters {
  uint64_t sessions = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t framesDecoded = 0;
  uint64_t framesPublished = 0;   // written to the pool and posted to JS
  uint64_t decodeErrors = 0;      // packets the decoder rejected or met errors in (any codec)
  uint64_t corruptFrames = 0;     // frames flagged damaged, or decoded from damaged input until a clean keyframe
  uint64_t droppedPoolFull = 0;   // every pool slot was leased by a reader
  uint64_t droppedQueueFull = 0;  // the JS event queue was full
  uint64_t loops = 0;             // file sources that started over
  uint64_t videoFragments = 0;    // fMP4 fragments posted (CameraOptions::video)
  uint64_t videoDropped = 0;      // packets not sent: queue full, skipped to the next keyframe
  uint64_t videoEncoded = 0;      // frames re-encoded for browsers (streams that cannot pass through)
  uint64_t poolAllocations = 0;
  bool gpuFrames = false;  // the session's frames stay in GPU memory (NVDEC)
  // GPU frames copied to host memory, by consumer: the GPU path's letterbox never copies a
  // frame (only the model input tensor leaves the GPU, for a host detector).
  uint64_t hostCopiesLetterbox = 0, hostCopiesSnapshot = 0, hostCopiesAnnotate = 0, hostCopiesEncode = 0;
};

// Where a pipeline reports. Called on the camera thread; implementations must not block it
// (the binding posts to a bounded ThreadSafeFunction queue).
class PipelineSink {
 public:
  virtual ~PipelineSink() = default;
  virtual void onOpened(uint64_t session, const StreamInfo& info) = 0;
  // false = the event was dropped (queue full); the frame stays the pool's latest.
  virtual bool onFrame(uint64_t session, const FrameInfo& info) = 0;
  // One remuxed packet (CameraOptions::video). false = dropped (queue full): the pipeline
  // then skips to the next keyframe so the viewer's stream stays decodable.
  virtual bool onVideo(uint64_t session, VideoChunk&& chunk) = 0;
  // A failure that did not end the session (decode errors, rate-limited with a count).
  virtual void onError(uint64_t session, const char* stage, const std::string& message, uint64_t count) = 0;
  // The session is over: Eos, Timeout, Error or Stopped. Always the last call of a session.
  virtual void onEnded(uint64_t session, Status reason, const std::string& message) = 0;
};

// One camera: a preallocated frame pool that lives as long as the camera, and at most one
// session (a thread: open the source, demux, decode into the pool) at a time. The owner
// (the binding, on the JS thread) calls start/stop; reconnect policy lives in the daemon.
class CameraPipeline {
 public:
  CameraPipeline(CameraOptions opts, PipelineSink* sink);
  ~CameraPipeline();
  CameraPipeline(const CameraPipeline&) = delete;
  CameraPipeline& operator=(const CameraPipeline&) = delete;

  // Starts a new session thread; returns its session number. Must not be running.
  uint64_t start();
  // Aborts the running session (blocking I/O included) and joins it. Idempotent.
  void stop();
  bool running() const { return thread_.joinable() && !finished_.load(); }

  CameraCounters counters() const;
  std::string decoderName() const;
  // The live-view encoder of this session when it transcodes, with why not NVENC
  // ("libx264 (h264_nvenc: …)", "h264_nvenc (CUDA frames)"); "" when it does not.
  std::string encoderName() const;
  std::shared_ptr<FramePool> pool() const { return pool_; }

 private:
  void run(uint64_t session);
  Status session(uint64_t session, std::string& err);
  Status stream(uint64_t session, Source& src, Decoder& dec, std::string& err);
  void drain(uint64_t session, Source& src, Decoder& dec, FrameConverter& conv, AVFrame* frame);
  void deliver(uint64_t session, Source& src, Decoder& dec, FrameConverter& conv, const AVFrame* frame);
  // Live-view video: a source packet passed through, or a decoded frame re-encoded; both end
  // in postVideo (mux to fMP4, hand to the sink, skip to a keyframe after a drop).
  void remux(uint64_t session, Source& src, const AVPacket* pkt, int64_t recvUs);
  void transcode(uint64_t session, const AVFrame* frame, const FrameInfo& info);
  void postVideo(uint64_t session, const AVPacket* pkt, bool key, int64_t ptsUs, int64_t dtsUs, int64_t recvUs);
  void reportDecodeError(uint64_t session, const std::string& err);  // counts, then reportError
  // Decode-stage trouble to JS: at most one event a second, with the count since the last.
  void reportError(uint64_t session, const std::string& err);

  const CameraOptions opts_;
  PipelineSink* const sink_;
  std::shared_ptr<FramePool> pool_;
  std::thread thread_;
  std::atomic<bool> finished_{true};
  // Set by stop() (any time, even before the session built its Source); read by the Source's
  // interrupt callback, so opening, reading, pacing and teardown all return promptly.
  std::atomic<bool> stopRequested_{false};
  uint64_t sessionCount_ = 0;
  uint64_t seq_ = 0;  // camera thread only

  mutable std::mutex nameMutex_;
  std::string decoderName_;
  std::string encoderName_;

  std::atomic<uint64_t> packets_{0}, bytes_{0}, framesDecoded_{0}, framesPublished_{0}, decodeErrors_{0},
      corruptFrames_{0}, droppedPoolFull_{0}, droppedQueueFull_{0}, loops_{0}, videoFragments_{0}, videoDropped_{0},
      videoEncoded_{0};
  // The running session's live-view video (camera thread only; null when off or unavailable):
  // the muxer, and the encoder when the stream cannot pass through.
  struct VideoOut {
    Fmp4Muxer mux;
    std::unique_ptr<H264Encoder> encoder;
  };
  VideoOut* video_ = nullptr;
  std::atomic<bool> gpuFrames_{false};
  bool videoForceKey_ = false;  // the encoder's next frame is a keyframe (after a drop)
  // Live-view video state (camera thread): skipping to a keyframe after a drop.
  bool videoWaitKey_ = false;
  // Damage tracking (camera thread): Decoder::errors() at the last frame and at the last
  // keyframe packet sent, and whether frames since the damage still show it.
  uint64_t errorsAtFrame_ = 0;
  uint64_t errorsAtKey_ = 0;
  bool damaged_ = false;
  int64_t lastErrorReportUs_ = 0;
  uint64_t errorsSinceReport_ = 0;
  // Packet receive stamps keyed by pts, so a reordered frame finds its own packet's stamp.
  static constexpr int kRecvRing = 64;
  int64_t recvPts_[kRecvRing] = {};
  int64_t recvUs_[kRecvRing] = {};
  int recvHead_ = 0;
};

}  // namespace vigil
