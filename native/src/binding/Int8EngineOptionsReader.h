#pragma once
#include <napi.h>

#include "int8/Int8EngineOptions.h"

namespace vigil {

// openInt8Engine's `options` (undefined: every default) as Int8EngineOptions: { kernel: 'mma' |
// 'dp4a', float: 'tf32x3' | 'exact', branches, priority: booleans, smallTiles, splitBlocks,
// minSplit, spinUs: whole numbers }. Throws a TypeError naming the field, its allowed values and
// what each means for anything else (an unknown field too). JS thread; no GPU involved.
Int8EngineOptions readInt8EngineOptions(Napi::Env env, const Napi::Value& v);

}  // namespace vigil
