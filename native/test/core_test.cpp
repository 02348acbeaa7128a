// C++ tests of the media core (no N-API, no GPU): built with -DVIGIL_NATIVE_TESTS=ON and run
// by test/native/build.test.ts. Exit code 0 = all passed.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/FramePool.h"
#include "core/Libav.h"

extern "C" {
#include <libavutil/log.h>
}
#include "core/Status.h"
#include "decode/FrameConverter.h"
#include "encode/JpegEncoder.h"

using namespace vigil;

static int failures = 0;
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                                   \
    }                                                                               \
  } while (0)

static FrameInfo info(uint64_t seq) {
  FrameInfo i;
  i.seq = seq;
  i.width = 64;
  i.height = 48;
  return i;
}

static void poolPublishesTheNewestFrame() {
  FramePool pool(3);
  CHECK(!pool.latest());
  int a = pool.acquire(64, 48);
  CHECK(a >= 0);
  CHECK(pool.writable(a)->width == 64 && pool.writable(a)->format == AV_PIX_FMT_YUV420P);
  pool.publish(a, info(1));
  int b = pool.acquire(64, 48);
  CHECK(b >= 0 && b != a);  // the latest frame is not handed out for writing
  pool.publish(b, info(2));
  FrameLease l = pool.latest();
  CHECK(l && l.info().seq == 2);
}

static void leasedSlotsAreNeverRewritten() {
  FramePool pool(2);
  int a = pool.acquire(64, 48);
  pool.publish(a, info(1));
  FrameLease held = pool.latest();  // a reader holds slot a
  int b = pool.acquire(64, 48);
  CHECK(b >= 0 && b != a);
  pool.publish(b, info(2));
  // Slot a is leased and slot b is the latest: nothing free, the writer must drop.
  CHECK(pool.acquire(64, 48) == -1);
  held.reset();
  int c = pool.acquire(64, 48);
  CHECK(c == a);
  pool.abandon(c);
  CHECK(!held);
}

static void buffersAreAllocatedPerSizeNotPerFrame() {
  FramePool pool(3);
  for (int i = 0; i < 100; ++i) {
    int s = pool.acquire(64, 48);
    CHECK(s >= 0);
    pool.publish(s, info(i));
  }
  uint64_t steady = pool.allocations();
  CHECK(steady >= 2 && steady <= 3);  // at most once per slot for 100 frames
  int s = pool.acquire(128, 96);      // a new stream size after a reconnect
  CHECK(pool.writable(s)->width == 128);
  pool.publish(s, info(101));
  CHECK(pool.allocations() == steady + 1);
}

static void concurrentReadersAndWriter() {
  FramePool pool(4);
  std::thread writer([&] {
    for (uint64_t i = 1; i <= 20000; ++i) {
      int s = pool.acquire(64, 48);
      if (s < 0) continue;
      pool.writable(s)->data[0][0] = static_cast<uint8_t>(i);
      pool.publish(s, info(i));
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      for (int i = 0; i < 20000; ++i) {
        FrameLease l = pool.latest();
        if (!l) continue;
        CHECK(l.info().seq >= last);                                         // never goes back in time
        CHECK(l.frame()->data[0][0] == static_cast<uint8_t>(l.info().seq));  // not torn
        last = l.info().seq;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
}

static void jpegOfAFrame() {
  FramePool pool(2);
  int s = pool.acquire(64, 48);
  AVFrame* f = pool.writable(s);
  for (int p = 0; p < 3; ++p) {
    int h = p == 0 ? 48 : 24;
    for (int y = 0; y < h; ++y)
      std::fill(f->data[p] + y * f->linesize[p], f->data[p] + y * f->linesize[p] + (p == 0 ? 64 : 32), 128);
  }
  pool.publish(s, info(1));
  FrameLease l = pool.latest();
  std::vector<uint8_t> jpeg;
  std::string err;
  CHECK(encodeJpeg(l.frame(), 80, jpeg, err));
  CHECK(jpeg.size() > 100 && jpeg[0] == 0xff && jpeg[1] == 0xd8 && jpeg[jpeg.size() - 1] == 0xd9);
}

// Full-range decoder output (yuvj420p, common on IP cameras) lands in the slot as limited
// range, so every consumer (JPEG, later the detector) can assume one range.
static void fullRangeIsCompressedToLimited() {
  FramePtr src(av_frame_alloc());
  src->format = AV_PIX_FMT_YUVJ420P;
  src->width = 64;
  src->height = 48;
  CHECK(av_frame_get_buffer(src.get(), 0) == 0);
  for (int y = 0; y < 48; ++y) {
    std::fill(src->data[0] + y * src->linesize[0], src->data[0] + y * src->linesize[0] + 32, 0);
    std::fill(src->data[0] + y * src->linesize[0] + 32, src->data[0] + y * src->linesize[0] + 64, 255);
  }
  for (int p = 1; p < 3; ++p)
    for (int y = 0; y < 24; ++y)
      std::fill(src->data[p] + y * src->linesize[p], src->data[p] + y * src->linesize[p] + 32, 128);
  FramePool pool(2);
  int s = pool.acquire(64, 48);
  FrameConverter conv;
  CHECK(conv.convert(src.get(), pool.writable(s)));
  const AVFrame* dst = pool.writable(s);
  int black = dst->data[0][24 * dst->linesize[0] + 8];
  int white = dst->data[0][24 * dst->linesize[0] + 56];
  CHECK(black >= 15 && black <= 17);
  CHECK(white >= 234 && white <= 236);
  // limited-range input is copied as it is
  src->format = AV_PIX_FMT_YUV420P;
  CHECK(conv.convert(src.get(), pool.writable(s)));
  CHECK(dst->data[0][24 * dst->linesize[0] + 8] == 0 && dst->data[0][24 * dst->linesize[0] + 56] == 255);
  pool.abandon(s);
}

int main() {
  av_log_set_level(AV_LOG_ERROR);  // swscale's yuvj notices are expected here
  fullRangeIsCompressedToLimited();
  poolPublishesTheNewestFrame();
  leasedSlotsAreNeverRewritten();
  buffersAreAllocatedPerSizeNotPerFrame();
  concurrentReadersAndWriter();
  jpegOfAFrame();
  CHECK(std::string(statusName(Status::Timeout)) == "timeout");
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("core tests passed\n");
  return 0;
}
