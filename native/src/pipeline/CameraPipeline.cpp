#include "pipeline/CameraPipeline.h"

#include <algorithm>
#include <cmath>

#include "core/Clock.h"
#include "core/Libav.h"
#include "decode/HostFrame.h"

namespace vigil {

CameraPipeline::CameraPipeline(CameraOptions opts, PipelineSink* sink)
    : opts_(std::move(opts)), sink_(sink), pool_(std::make_shared<FramePool>(opts_.poolSlots)) {}

CameraPipeline::~CameraPipeline() { stop(); }

uint64_t CameraPipeline::start() {
  if (thread_.joinable()) thread_.join();  // a finished session not yet joined
  uint64_t session = ++sessionCount_;
  stopRequested_.store(false);
  finished_.store(false);
  thread_ = std::thread([this, session] { run(session); });
  return session;
}

void CameraPipeline::stop() {
  stopRequested_.store(true);
  if (thread_.joinable()) thread_.join();
}

void CameraPipeline::run(uint64_t session) {
  std::string err;
  Status end;
  try {
    end = this->session(session, err);
  } catch (const std::exception& e) {  // bad_alloc and the like end the session, not the process
    end = Status::Error;
    err = std::string("internal error: ") + e.what();
  }
  finished_.store(true);
  sink_->onEnded(session, end, err);
}

Status CameraPipeline::session(uint64_t session, std::string& err) {
  // Locals unwind in reverse: ~Source (RTSP TEARDOWN) runs last and stop() interrupts it too.
  Source src(opts_.source, &stopRequested_);
  int64_t t0 = monoNowUs();
  Status st = src.open(err);
  if (st != Status::Ok) return st;
  std::unique_ptr<Decoder> dec = createDecoder(src.codecpar(), opts_.decoder, err);
  if (!dec) return Status::Error;

  StreamInfo info;
  const AVCodecParameters* par = src.codecpar();
  info.codec = avcodec_get_name(par->codec_id);
  info.decoder = dec->describe();
  info.hardware = dec->hardware();
  info.format = src.formatName();
  info.width = par->width;
  info.height = par->height;
  info.fps = src.fps();
  info.openUs = monoNowUs() - t0;
  VideoOut video;
  video_ = nullptr;
  {
    std::lock_guard<std::mutex> lock(nameMutex_);
    encoderName_.clear();
  }
  if (opts_.video) {
    std::string why;
    const int64_t frameDurUs = info.fps > 0 ? static_cast<int64_t>(1e6 / info.fps) : 40000;
    if (Fmp4Muxer::supports(par, why)) {
      if (video.mux.open(par, frameDurUs, why) == Status::Ok) video_ = &video;
      info.video = video_ ? "passthrough" : why;
    } else {
      auto enc = std::make_unique<H264Encoder>();
      std::string ewhy;
      const int gop =
          info.fps > 0 ? std::max(1, static_cast<int>(std::lround(info.fps * 2))) : 50;  // a keyframe every ~2 s
      if (par->width <= 0 || par->height <= 0) {
        ewhy = "the stream does not give its picture size";
      } else if (enc->open(par->width, par->height, info.fps, gop, dec->hwDevice(), ewhy) == Status::Ok &&
                 video.mux.open(enc->codecpar(), frameDurUs, ewhy) == Status::Ok) {
        info.video = "transcode (" + enc->name() + ")";
        {
          std::lock_guard<std::mutex> lock(nameMutex_);
          encoderName_ = enc->describe();
        }
        video.encoder = std::move(enc);
        video_ = &video;
      }
      if (!video_) info.video = why + "; " + ewhy;
    }
    videoWaitKey_ = false;
    videoForceKey_ = false;
  }
  {
    std::lock_guard<std::mutex> lock(nameMutex_);
    decoderName_ = info.decoder;
  }
  damaged_ = false;
  errorsAtFrame_ = errorsAtKey_ = 0;  // a new decoder counts from 0
  sink_->onOpened(session, info);
  st = stream(session, src, *dec, err);
  video_ = nullptr;  // `video` dies with this frame
  return st;
}

Status CameraPipeline::stream(uint64_t session, Source& src, Decoder& dec, std::string& err) {
  PacketPtr pkt(av_packet_alloc());
  FramePtr frame(av_frame_alloc());
  if (!pkt || !frame) {
    err = "out of memory for packet/frame";
    return Status::Error;
  }
  FrameConverter converter;

  for (;;) {
    Status st = src.read(pkt.get(), err);
    if (st == Status::Ok) {
      ++packets_;
      bytes_ += static_cast<uint64_t>(pkt->size);
      int64_t key = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      recvPts_[recvHead_] = key;
      recvUs_[recvHead_] = monoNowUs();
      if (video_ && !video_->encoder) remux(session, src, pkt.get(), recvUs_[recvHead_]);
      recvHead_ = (recvHead_ + 1) % kRecvRing;
      // Damage is counted per packet: an error return, or errors the decoder only logged.
      const uint64_t errorsBefore = dec.errors();
      if (pkt->flags & AV_PKT_FLAG_KEY) errorsAtKey_ = errorsBefore;
      std::string derr;
      Status s = dec.send(pkt.get(), derr);
      if (s == Status::Again) {  // decoder full: take its frames, then the packet fits
        drain(session, src, dec, converter, frame.get());
        s = dec.send(pkt.get(), derr);
      }
      drain(session, src, dec, converter, frame.get());
      if (dec.errors() != errorsBefore) reportDecodeError(session, derr.empty() ? dec.lastError() : derr);
      continue;
    }
    if (st != Status::Eos) return st;
    // End of input: take what the decoder still holds.
    const uint64_t errorsBefore = dec.errors();
    std::string derr;
    dec.send(nullptr, derr);
    drain(session, src, dec, converter, frame.get());
    if (dec.errors() != errorsBefore) reportDecodeError(session, dec.lastError());
    if (!opts_.loop || src.isNetwork()) return Status::Eos;
    if (src.rewind(err) != Status::Ok) return Status::Error;
    dec.flush();
    damaged_ = false;  // the next pass starts at a keyframe
    ++loops_;
  }
}

void CameraPipeline::drain(uint64_t session, Source& src, Decoder& dec, FrameConverter& conv, AVFrame* frame) {
  std::string derr;
  // A frame-threaded decoder can report an error for one frame and still hold others (the
  // decoder counts the error; the packet's check in stream() reports it).
  for (int errors = 0; errors < 8;) {
    Status r = dec.receive(frame, derr);
    if (r == Status::Ok) {
      deliver(session, src, dec, conv, frame);
    } else if (r == Status::Error) {
      ++errors;
    } else {
      return;  // Again or Eos
    }
  }
}

void CameraPipeline::deliver(uint64_t session, Source& src, Decoder& dec, FrameConverter& converter,
                             const AVFrame* frame) {
  int64_t decodedUs = monoNowUs();
  ++framesDecoded_;
  // A frame is damaged when the decoder flags it (H.264's concealment) or met errors since the
  // previous frame (HEVC only logs them); the damage lasts, through references, until a
  // keyframe decodes with no error since its packet was sent.
  const uint64_t errors = dec.errors();
  if (frame->key_frame) {
    damaged_ = errors != errorsAtKey_;
  } else if (errors != errorsAtFrame_) {
    damaged_ = true;
  }
  errorsAtFrame_ = errors;
  if (damaged_ || frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT)) {
    ++corruptFrames_;
    reportError(session, "frame decoded with errors (damaged input)");
  }

  const bool gpu = frame->format == AV_PIX_FMT_CUDA;  // NVDEC: the surface is referenced, never copied
  int slot =
      gpu ? pool_->acquireShared(frame, opts_.decoder.extraSurfaces - 1) : pool_->acquire(frame->width, frame->height);
  if (gpu != gpuFrames_.exchange(gpu)) {
    // The first frame tells whether NVDEC took the stream (it can decline one at its first
    // frame, then libavcodec decodes in software): the name says what really decodes.
    std::lock_guard<std::mutex> lock(nameMutex_);
    decoderName_ = dec.describe();
  }
  if (slot < 0) {
    ++droppedPoolFull_;
    return;
  }
  if (!gpu && !converter.convert(frame, pool_->writable(slot))) {
    pool_->abandon(slot);
    ++decodeErrors_;
    reportError(session, "cannot convert the decoded frame");
    return;
  }
  FrameInfo info;
  info.seq = ++seq_;
  info.pts = frame->best_effort_timestamp;
  info.ptsUs = src.toUs(info.pts);
  info.decodedUs = decodedUs;
  info.recvUs = recvUs_[(recvHead_ + kRecvRing - 1) % kRecvRing];  // newest packet by default
  for (int i = 0; i < kRecvRing; ++i) {
    if (recvPts_[i] == info.pts && recvUs_[i] != 0) {
      info.recvUs = recvUs_[i];
      break;
    }
  }
  info.width = frame->width;
  info.height = frame->height;
  info.keyframe = frame->key_frame != 0;
  pool_->publish(slot, info);
  ++framesPublished_;
  // The slot is not rewritten before this thread acquires it again: safe to encode from.
  if (video_ && video_->encoder) transcode(session, pool_->writable(slot), info);
  if (!sink_->onFrame(session, info)) ++droppedQueueFull_;
}

void CameraPipeline::remux(uint64_t session, Source& src, const AVPacket* pkt, int64_t recvUs) {
  const bool key = video_->mux.isKeyframe(pkt);
  if (videoWaitKey_ && !key) {
    ++videoDropped_;
    return;
  }
  int64_t pts = src.toUs(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts);
  int64_t dts = src.toUs(pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts);
  if (pts == AV_NOPTS_VALUE) {
    // RTP streams can start with a packet that has no timestamp yet (often the first IDR):
    // place it one frame after the previous packet, or at 0 on the session's first.
    pts = video_->mux.nextPtsUs();
  }
  if (dts == AV_NOPTS_VALUE) dts = pts;
  postVideo(session, pkt, key, pts, dts, recvUs);
}

void CameraPipeline::transcode(uint64_t session, const AVFrame* frame, const FrameInfo& info) {
  int64_t pts = info.ptsUs;
  if (info.pts == AV_NOPTS_VALUE) pts = video_->mux.nextPtsUs();
  std::vector<PacketPtr> packets;
  std::string err;
  // NVENC opened on the decoder's device takes the surface as it is; libx264 gets it copied down.
  bool copied = false;
  const Status st = video_->encoder->encode(frame, pts, videoForceKey_, packets, err, &copied);
  if (copied) pool_->countHostCopy(HostCopy::Encode);
  if (st != Status::Ok) {
    reportError(session, err);
    return;
  }
  ++videoEncoded_;
  for (const PacketPtr& p : packets) {
    const bool key = (p->flags & AV_PKT_FLAG_KEY) != 0;
    if (key) videoForceKey_ = false;
    if (videoWaitKey_ && !key) {
      ++videoDropped_;
      continue;
    }
    postVideo(session, p.get(), key, p->pts, p->dts != AV_NOPTS_VALUE ? p->dts : p->pts, info.recvUs);
  }
}

void CameraPipeline::postVideo(uint64_t session, const AVPacket* pkt, bool key, int64_t pts, int64_t dts,
                               int64_t recvUs) {
  VideoChunk chunk;
  std::string err;
  if (video_->mux.write(pkt, key, pts, dts, chunk.init, chunk.fragment, err) != Status::Ok) {
    reportError(session, err);
    return;
  }
  if (chunk.fragment.empty()) return;  // waiting for the first keyframe / parameter sets
  if (!chunk.init.empty()) chunk.mime = video_->mux.mime();
  chunk.keyframe = key;
  chunk.ptsUs = pts;
  chunk.recvUs = recvUs;
  if (sink_->onVideo(session, std::move(chunk))) {
    ++videoFragments_;
    videoWaitKey_ = false;
  } else {
    ++videoDropped_;
    videoWaitKey_ = true;
    videoForceKey_ = true;  // an encoder need not wait out its GOP
  }
}

void CameraPipeline::reportDecodeError(uint64_t session, const std::string& err) {
  ++decodeErrors_;
  reportError(session, err);
}

void CameraPipeline::reportError(uint64_t session, const std::string& err) {
  ++errorsSinceReport_;
  int64_t now = monoNowUs();
  if (now - lastErrorReportUs_ < 1000000) return;
  sink_->onError(session, "decode", err, errorsSinceReport_);
  lastErrorReportUs_ = now;
  errorsSinceReport_ = 0;
}

CameraCounters CameraPipeline::counters() const {
  CameraCounters c;
  c.sessions = sessionCount_;
  c.packets = packets_.load();
  c.bytes = bytes_.load();
  c.framesDecoded = framesDecoded_.load();
  c.framesPublished = framesPublished_.load();
  c.decodeErrors = decodeErrors_.load();
  c.corruptFrames = corruptFrames_.load();
  c.droppedPoolFull = droppedPoolFull_.load();
  c.droppedQueueFull = droppedQueueFull_.load();
  c.loops = loops_.load();
  c.videoFragments = videoFragments_.load();
  c.videoDropped = videoDropped_.load();
  c.videoEncoded = videoEncoded_.load();
  c.poolAllocations = pool_->allocations();
  c.gpuFrames = gpuFrames_.load();
  c.hostCopiesLetterbox = pool_->hostCopies(HostCopy::Letterbox);
  c.hostCopiesSnapshot = pool_->hostCopies(HostCopy::Snapshot);
  c.hostCopiesAnnotate = pool_->hostCopies(HostCopy::Annotate);
  c.hostCopiesEncode = pool_->hostCopies(HostCopy::Encode);
  return c;
}

std::string CameraPipeline::decoderName() const {
  std::lock_guard<std::mutex> lock(nameMutex_);
  return decoderName_;
}

std::string CameraPipeline::encoderName() const {
  std::lock_guard<std::mutex> lock(nameMutex_);
  return encoderName_;
}

}  // namespace vigil
