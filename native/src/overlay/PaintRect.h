#pragma once
#include <cstdint>

namespace vigil {

// One filled rectangle of a box outline, in luma pixels [x0, x1) × [y0, y1), clipped to the
// picture and not empty, with its colour (BT.601 limited range). Chroma (4:2:0) is painted on
// every 2×2 block the rectangle touches. The CPU painter (YUV420P) and the CUDA painter
// (NV12) draw the same list, so their pictures are the same bytes.
struct PaintRect {
  int x0, y0, x1, y1;
  uint8_t y, u, v, pad;
};

}  // namespace vigil
