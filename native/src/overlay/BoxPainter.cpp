#include "overlay/BoxPainter.h"

#include <algorithm>
#include <cmath>

namespace vigil {

namespace {
struct Yuv {
  uint8_t y, u, v;
};

// The browser overlay's palette (#4f4 #4cf #fc4 #f6c #f84 #8ff) in BT.601 limited range.
Yuv colorOf(int classId) {
  static const uint8_t rgb[6][3] = {{68, 255, 68},   {68, 204, 255}, {255, 204, 68},
                                    {255, 102, 204}, {255, 136, 68}, {136, 255, 255}};
  const uint8_t* c = rgb[((classId % 6) + 6) % 6];
  const double r = c[0], g = c[1], b = c[2];
  auto clamp = [](double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 16L, 240L)); };
  return {clamp(16 + 0.257 * r + 0.504 * g + 0.098 * b), clamp(128 - 0.148 * r - 0.291 * g + 0.439 * b),
          clamp(128 + 0.439 * r - 0.368 * g - 0.071 * b)};
}

// Clipped to the picture; nothing when empty.
void addRect(std::vector<PaintRect>& out, int w, int h, int x0, int y0, int x1, int y1, const Yuv& c) {
  x0 = std::max(0, x0);
  y0 = std::max(0, y0);
  x1 = std::min(w, x1);
  y1 = std::min(h, y1);
  if (x0 >= x1 || y0 >= y1) return;
  out.push_back({x0, y0, x1, y1, c.y, c.u, c.v, 0});
}
}  // namespace

std::vector<PaintRect> boxRects(const std::vector<DetectionRecord>& boxes, int thickness, int width, int height) {
  std::vector<PaintRect> rects;
  rects.reserve(boxes.size() * 4);
  for (const DetectionRecord& b : boxes) {
    if (!(b.x2 > b.x1 && b.y2 > b.y1)) continue;  // NaN or empty: nothing to draw
    const Yuv c = colorOf(b.classId);
    const int x1 = static_cast<int>(std::lround(b.x1)), y1 = static_cast<int>(std::lround(b.y1));
    const int x2 = static_cast<int>(std::lround(b.x2)), y2 = static_cast<int>(std::lround(b.y2));
    addRect(rects, width, height, x1, y1, x2, y1 + thickness, c);  // top
    addRect(rects, width, height, x1, y2 - thickness, x2, y2, c);  // bottom
    addRect(rects, width, height, x1, y1, x1 + thickness, y2, c);  // left
    addRect(rects, width, height, x2 - thickness, y1, x2, y2, c);  // right
  }
  return rects;
}

void paintRects(AVFrame* f, const std::vector<PaintRect>& rects) {
  for (const PaintRect& r : rects) {
    for (int y = r.y0; y < r.y1; ++y) std::fill_n(f->data[0] + y * f->linesize[0] + r.x0, r.x1 - r.x0, r.y);
    // Chroma at half resolution: every 2x2 block the rectangle touches.
    for (int y = r.y0 / 2; y < (r.y1 + 1) / 2; ++y) {
      std::fill_n(f->data[1] + y * f->linesize[1] + r.x0 / 2, (r.x1 + 1) / 2 - r.x0 / 2, r.u);
      std::fill_n(f->data[2] + y * f->linesize[2] + r.x0 / 2, (r.x1 + 1) / 2 - r.x0 / 2, r.v);
    }
  }
}

void paintBoxes(AVFrame* frame, const std::vector<DetectionRecord>& boxes, int thickness) {
  paintRects(frame, boxRects(boxes, thickness, frame->width, frame->height));
}

}  // namespace vigil
