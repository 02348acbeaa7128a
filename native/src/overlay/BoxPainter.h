#pragma once
#include <cstdint>
#include <vector>

#include "core/DetectionRecord.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace vigil {

// Draws box outlines into a YUV420P frame in place (limited range), `thickness` pixels wide,
// one colour per class (the same palette as the browser overlay). Any thread; touches only `frame`.
void paintBoxes(AVFrame* frame, const std::vector<DetectionRecord>& boxes, int thickness);

}  // namespace vigil
