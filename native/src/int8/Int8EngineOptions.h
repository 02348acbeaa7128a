#pragma once
// The INT8 engine's settings, passed by whoever opens it (the binding from JS: the daemon with the
// defaults, benches with the variants they compare). No CUDA: the binding checks them in any build.
#include <string>

#include "cuda/SpinWait.h"

namespace vigil {

// The INT8 convolutions' kernels: mma (tensor cores, mma.sync m16n8k32, where the GPU and this
// build have them, else dp4a) or dp4a everywhere.
enum class Int8KernelFamily : int { Mma = 0, Dp4a = 1 };

// Float convolutions with a float input whose result no int8 code depends on: Tf32x3 (3×TF32 on
// the tensor cores where mma runs) or Exact (all on the CUDA cores in ONNX Runtime's order, every
// value the reference's). Int8 codes are the reference's either way.
enum class Int8FloatMode : int { Tf32x3 = 0, Exact = 1 };

struct Int8EngineOptions {
  Int8KernelFamily kernel = Int8KernelFamily::Mma;
  Int8FloatMode floatMode = Int8FloatMode::Tf32x3;
  // Independent ops side by side in the graphs (side streams), or all on one stream.
  bool branches = true;
  // Critical-path stream priorities in the branch graphs (the longer remaining path first).
  bool priorities = true;
  // 64-row INT8 tiles where 128-row tiles are fewer than this many blocks an SM; 0: never.
  int smallTiles = 2;
  // Blocks an SM that split-K aims for where the tiles alone are fewer; 0: 2 under batch 4, 1 from 4.
  int splitBlocks = 0;
  // At least this many K splits a convolution (1 or more; benches comparing the mma kernel's own
  // epilogue with the separate one).
  int minSplit = 1;
  // Polling before a wait for the GPU blocks, µs (kDefaultSpinUs; 0: block at once).
  int spinUs = kDefaultSpinUs;
};

// The whole-number settings' ranges (the binding names them in its errors; open() checks them).
constexpr int kInt8SettingMost = 1000000;
constexpr int kInt8SmallTilesLeast = 0, kInt8SplitBlocksLeast = 0, kInt8MinSplitLeast = 1, kInt8SpinUsLeast = 0;

// False with `err` naming the first setting out of its range.
inline bool checkInt8EngineOptions(const Int8EngineOptions& o, std::string& err) {
  struct Range {
    const char* name;
    int value, least;
  };
  const Range ranges[] = {{"smallTiles", o.smallTiles, kInt8SmallTilesLeast},
                          {"splitBlocks", o.splitBlocks, kInt8SplitBlocksLeast},
                          {"minSplit", o.minSplit, kInt8MinSplitLeast},
                          {"spinUs", o.spinUs, kInt8SpinUsLeast}};
  for (const Range& r : ranges) {
    if (r.value < r.least || r.value > kInt8SettingMost) {
      err = std::string("INT8 engine option ") + r.name + " is " + std::to_string(r.value) + ": use " +
            std::to_string(r.least) + ".." + std::to_string(kInt8SettingMost);
      return false;
    }
  }
  return true;
}

}  // namespace vigil
