#pragma once
#include <cstdint>
#include <vector>

#include "core/DetectionRecord.h"
#include "overlay/PaintRect.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace vigil {

// The rectangles that draw `boxes`' outlines, `thickness` pixels wide, on a width×height
// picture: one colour per class (the same palette as the browser overlay).
std::vector<PaintRect> boxRects(const std::vector<DetectionRecord>& boxes, int thickness, int width, int height);

// Draws the rectangles into a YUV420P frame in place. Any thread; touches only `frame`.
void paintRects(AVFrame* frame, const std::vector<PaintRect>& rects);

// boxRects + paintRects.
void paintBoxes(AVFrame* frame, const std::vector<DetectionRecord>& boxes, int thickness);

}  // namespace vigil
