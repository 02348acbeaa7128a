#include "binding/Int8EngineOptionsReader.h"

#include <string>

#include "binding/Convert.h"

namespace vigil {

namespace {

// A setting of two values: the default first. `what` says what each means, for the error.
struct Choice {
  const char* field;
  const char* what;
};
const Choice kKernel{"kernel", "'mma' (tensor cores where the GPU has them, the default) or 'dp4a'"};
const Choice kFloat{"float",
                    "'tf32x3' (FP32 layers no int8 code depends on as 3×TF32 on the tensor cores, the default) or "
                    "'exact' (every FP32 layer in ONNX Runtime's order)"};
const Choice kBranches{"branches",
                       "true (independent ops side by side in the graphs, the default) or false (one stream)"};
const Choice kPriority{"priority",
                       "true (the longer remaining path first in the graphs, the default) or false (no priorities)"};

// A whole-number setting: its least value and what it means.
struct Count {
  const char* field;
  int least;
  const char* means;
};
const Count kSmallTiles{"smallTiles", kInt8SmallTilesLeast,
                        "64-row INT8 tiles below this many 128-row blocks an SM (default 2; 0: never)"};
const Count kSplitBlocks{"splitBlocks", kInt8SplitBlocksLeast,
                         "the blocks an SM split-K aims for (default 0: 2 under batch 4, 1 from 4)"};
const Count kMinSplit{"minSplit", kInt8MinSplitLeast, "at least this many K splits a convolution (default 1)"};
const Count kSpinUs{"spinUs", kInt8SpinUsLeast,
                    "µs a wait for the GPU polls before it blocks (default 10000; 0: block at once)"};

std::string fieldOf(const char* f) { return std::string("options.") + f; }

// The string setting `c` (values[0] the default): false for values[0], true for values[1].
bool readChoice(Napi::Env env, const Napi::Object& o, const Choice& c, const char* first, const char* second) {
  Napi::Value v = o.Get(c.field);
  if (v.IsUndefined()) return false;
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (v.IsString() && s == first) return false;
  if (v.IsString() && s == second) return true;
  throw invalidParameter(env, c.what, fieldOf(c.field), v);
}

bool readFlag(Napi::Env env, const Napi::Object& o, const Choice& c, bool fallback) {
  Napi::Value v = o.Get(c.field);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw invalidParameter(env, c.what, fieldOf(c.field), v);
  return v.As<Napi::Boolean>().Value();
}

int readCount(Napi::Env env, const Napi::Object& o, const Count& c, int fallback) {
  Napi::Value v = o.Get(c.field);
  if (v.IsUndefined()) return fallback;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!v.IsNumber() || !(d >= c.least && d <= kInt8SettingMost) || d != static_cast<double>(static_cast<long>(d))) {
    throw invalidParameter(
        env, "a whole number " + std::to_string(c.least) + ".." + std::to_string(kInt8SettingMost) + ", " + c.means,
        fieldOf(c.field), v);
  }
  return static_cast<int>(d);
}

}  // namespace

Int8EngineOptions readInt8EngineOptions(Napi::Env env, const Napi::Value& v) {
  Int8EngineOptions opts;
  if (v.IsUndefined()) return opts;
  if (!v.IsObject() || v.IsArray())
    throw invalidParameter(env, "an object of INT8 engine settings (or nothing: the defaults)", "options", v);
  Napi::Object o = v.As<Napi::Object>();
  const char* known[] = {kKernel.field,     kFloat.field,       kBranches.field, kPriority.field,
                         kSmallTiles.field, kSplitBlocks.field, kMinSplit.field, kSpinUs.field};
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok)
      throw invalidParameter(env,
                             "no such setting (kernel, float, branches, priority, smallTiles, splitBlocks, minSplit "
                             "or spinUs)",
                             fieldOf(key.c_str()), o.Get(key));
  }
  opts.kernel = readChoice(env, o, kKernel, "mma", "dp4a") ? Int8KernelFamily::Dp4a : Int8KernelFamily::Mma;
  opts.floatMode = readChoice(env, o, kFloat, "tf32x3", "exact") ? Int8FloatMode::Exact : Int8FloatMode::Tf32x3;
  opts.branches = readFlag(env, o, kBranches, opts.branches);
  opts.priorities = readFlag(env, o, kPriority, opts.priorities);
  opts.smallTiles = readCount(env, o, kSmallTiles, opts.smallTiles);
  opts.splitBlocks = readCount(env, o, kSplitBlocks, opts.splitBlocks);
  opts.minSplit = readCount(env, o, kMinSplit, opts.minSplit);
  opts.spinUs = readCount(env, o, kSpinUs, opts.spinUs);
  return opts;
}

}  // namespace vigil
