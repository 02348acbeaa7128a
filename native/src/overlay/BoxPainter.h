#pragma once
#include <cstdint>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

namespace vigil {

// A detection box in frame pixels and its COCO class (colour).
struct PaintBox {
  float x1, y1, x2, y2;
  int classId;
};

// Draws box outlines into a YUV420P frame in place (limited range), `thickness` pixels wide,
// one colour per class (the same palette as the browser overlay). Any thread; touches only `frame`.
void paintBoxes(AVFrame* frame, const std::vector<PaintBox>& boxes, int thickness);

}  // namespace vigil
