#include "core/FramePool.h"

#include <stdexcept>

namespace vigil {

FrameLease& FrameLease::operator=(FrameLease&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = o.pool_;
    slot_ = o.slot_;
    o.pool_ = nullptr;
  }
  return *this;
}

const AVFrame* FrameLease::frame() const { return pool_->slots_[slot_].frame; }
const FrameInfo& FrameLease::info() const { return pool_->slots_[slot_].info; }

void FrameLease::reset() {
  if (pool_) pool_->release(slot_);
  pool_ = nullptr;
  slot_ = -1;
}

FramePool::FramePool(int slots) : slots_(static_cast<size_t>(slots)) {
  if (slots < 2) throw std::invalid_argument("FramePool needs at least 2 slots");
  for (auto& s : slots_) {
    s.frame = av_frame_alloc();
    if (!s.frame) throw std::bad_alloc();
  }
}

FramePool::~FramePool() {
  for (auto& s : slots_) av_frame_free(&s.frame);
}

int FramePool::pickFree() const {
  // The oldest free slot other than the latest: readers can still lease the newest frame, and
  // recent frames stay findable by seq (bySeq) for as long as the pool allows.
  int chosen = -1;
  for (int i = 0; i < size(); ++i) {
    const Slot& s = slots_[i];
    if (s.readers == 0 && !s.writing && i != latest_ && (chosen < 0 || s.info.seq < slots_[chosen].info.seq))
      chosen = i;
  }
  return chosen;
}

int FramePool::acquireShared(const AVFrame* hw, int maxShared) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int chosen = pickFree();
  if (chosen < 0) return -1;
  // The decoder's surface pool is fixed: free slots give their surfaces back (oldest first)
  // so that at most maxShared are held, including the one taken now.
  for (;;) {
    int held = 0;
    int oldest = -1;
    for (int i = 0; i < size(); ++i) {
      const Slot& o = slots_[i];
      if (!o.frame->hw_frames_ctx) continue;
      ++held;
      if (i != chosen && i != latest_ && o.readers == 0 && !o.writing &&
          (oldest < 0 || o.info.seq < slots_[oldest].info.seq))
        oldest = i;
    }
    if (slots_[chosen].frame->hw_frames_ctx) --held;  // rewritten below
    if (held < maxShared || oldest < 0) break;
    av_frame_unref(slots_[oldest].frame);
    slots_[oldest].info = FrameInfo{};  // seq 0: never found by bySeq
  }
  Slot& s = slots_[chosen];
  av_frame_unref(s.frame);  // a host slot's buffers, or the previous surface, go back
  if (av_frame_ref(s.frame, hw) < 0) return -1;
  s.writing = true;
  return chosen;
}

int FramePool::acquire(int width, int height) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int chosen = pickFree();
  if (chosen < 0) return -1;
  Slot& s = slots_[chosen];
  if (s.frame->format != AV_PIX_FMT_YUV420P || s.frame->hw_frames_ctx || s.frame->width != width ||
      s.frame->height != height || !s.frame->data[0]) {
    av_frame_unref(s.frame);
    s.frame->format = AV_PIX_FMT_YUV420P;
    s.frame->width = width;
    s.frame->height = height;
    if (av_frame_get_buffer(s.frame, 0) < 0) return -1;
    ++allocations_;
  }
  s.writing = true;
  return chosen;
}

AVFrame* FramePool::writable(int slot) { return slots_[slot].frame; }

void FramePool::publish(int slot, const FrameInfo& info) {
  std::lock_guard<std::mutex> lock(mutex_);
  slots_[slot].info = info;
  slots_[slot].writing = false;
  latest_ = slot;
}

void FramePool::abandon(int slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  slots_[slot].writing = false;
}

FrameLease FramePool::latest() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (latest_ < 0) return FrameLease();
  ++slots_[latest_].readers;
  return FrameLease(this, latest_);
}

FrameLease FramePool::bySeq(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
    Slot& s = slots_[i];
    if (seq != 0 && s.frame && !s.writing && s.info.seq == seq) {
      ++s.readers;
      return FrameLease(this, i);
    }
  }
  return FrameLease();
}

uint64_t FramePool::allocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return allocations_;
}

void FramePool::release(int slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  --slots_[slot].readers;
}

}  // namespace vigil
