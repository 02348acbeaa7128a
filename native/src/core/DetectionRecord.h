#pragma once
#include <cstddef>
#include <cstdint>

namespace vigil {

// One detected object as every stage passes it on: the GPU post-processing writes these, the
// overlay painter reads them, and the live WebSocket sends them unchanged. Little-endian, 24
// bytes; src/protocol/binary.ts (DETECTION_RECORD_BYTES, the record offsets) mirrors this
// layout, and a test compares the two through detectionRecordLayout().
struct DetectionRecord {
  float x1, y1, x2, y2;  // frame pixels
  float score;           // 0..1
  uint16_t classId;      // COCO-80
  uint16_t trackId;      // the object's track on its camera (1..65535, wrapping), 0 = none
};

static_assert(sizeof(DetectionRecord) == 24, "DetectionRecord is 24 bytes on the wire");
static_assert(offsetof(DetectionRecord, score) == 16 && offsetof(DetectionRecord, classId) == 20 &&
                  offsetof(DetectionRecord, trackId) == 22,
              "DetectionRecord field offsets are part of the protocol");

}  // namespace vigil
