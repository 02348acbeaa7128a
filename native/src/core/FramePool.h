#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

namespace vigil {

// What travels with a decoded frame. Stamps are monotonic microseconds (see Clock.h).
struct FrameInfo {
  uint64_t seq = 0;       // per camera, +1 for every frame published into the pool
  int64_t pts = 0;        // stream pts in the stream's time base (AV_NOPTS_VALUE if unknown)
  int64_t ptsUs = 0;      // pts in microseconds, loop offset included (monotonic per session)
  int64_t recvUs = 0;     // when the first packet of this frame was received
  int64_t decodedUs = 0;  // when the decoder returned it
  int width = 0;
  int height = 0;
  bool keyframe = false;
};

class FramePool;

// A reader's hold on one published frame: the slot is not rewritten until the lease ends.
// Move-only; release happens in the destructor, on whichever thread holds it.
class FrameLease {
 public:
  FrameLease() = default;
  FrameLease(FramePool* pool, int slot) : pool_(pool), slot_(slot) {}
  FrameLease(FrameLease&& o) noexcept : pool_(o.pool_), slot_(o.slot_) { o.pool_ = nullptr; }
  FrameLease& operator=(FrameLease&& o) noexcept;
  FrameLease(const FrameLease&) = delete;
  FrameLease& operator=(const FrameLease&) = delete;
  ~FrameLease() { reset(); }

  explicit operator bool() const { return pool_ != nullptr; }
  // Host YUV420P, or AV_PIX_FMT_CUDA (an NVDEC surface in GPU memory); owned by the pool.
  const AVFrame* frame() const;
  const FrameInfo& info() const;
  void reset();

 private:
  FramePool* pool_ = nullptr;
  int slot_ = -1;
};

// Why a GPU frame's pixels were copied to host memory (the GPU path's frames otherwise stay there).
enum class HostCopy { Letterbox, Snapshot, Annotate, Encode, Count };

// A fixed set of frame slots: host YUV420P frames allocated once per frame size (a new size
// after a reconnect reallocates a slot the next time it is written, never per frame), or
// references to NVDEC surfaces (GPU memory, from the decoder's fixed surface pool: no copy).
// One writer (the camera thread) and any number of readers (snapshot workers, later the
// detector) on any thread. The pool owns every buffer; it must outlive its leases.
class FramePool {
 public:
  explicit FramePool(int slots);
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // Writer: a slot ready to be written, sized w×h; -1 when every slot is leased (drop the frame).
  int acquire(int width, int height);
  // Writer: a slot that now references the GPU frame `hw` (its surface stays the decoder's
  // until the slot is rewritten); -1 when every slot is leased. At most `maxShared` slots hold
  // surfaces (the decoder's pool is fixed): older free slots let theirs go. Publish or abandon it after.
  int acquireShared(const AVFrame* hw, int maxShared);
  AVFrame* writable(int slot);
  // Writer: the written slot becomes the latest frame.
  void publish(int slot, const FrameInfo& info);
  // Writer: give back a slot that was acquired but not written.
  void abandon(int slot);

  // Any thread: the newest published frame, or an empty lease when there is none.
  FrameLease latest();
  // Any thread: the published frame with this seq while the pool still holds it, else empty.
  FrameLease bySeq(uint64_t seq);
  int size() const { return static_cast<int>(slots_.size()); }
  // Slot (re)allocations so far: stays at the slot count in steady state.
  uint64_t allocations() const;
  // Any thread: a GPU frame's pixels were copied to the host, and why; the counts so far.
  void countHostCopy(HostCopy why) { hostCopies_[static_cast<int>(why)].fetch_add(1, std::memory_order_relaxed); }
  uint64_t hostCopies(HostCopy why) const { return hostCopies_[static_cast<int>(why)].load(std::memory_order_relaxed); }

 private:
  friend class FrameLease;
  struct Slot {
    AVFrame* frame = nullptr;
    FrameInfo info;
    int readers = 0;
    bool writing = false;
  };
  void release(int slot);

  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
  int latest_ = -1;
  uint64_t allocations_ = 0;
  std::atomic<uint64_t> hostCopies_[static_cast<int>(HostCopy::Count)] = {};
  int pickFree() const;  // under mutex_
};

}  // namespace vigil
