#pragma once
#include <napi.h>

namespace vigil {

// The addon's `checks` export: what tests, benches and `vigil doctor`-style checks call and the
// frame path never does (src/native/checks.ts types it, apart from the production surface):
// nanodetPostGpu, int8ConvGpu, int8EngineRun, int8EngineRead, int8ProgramContract,
// deviceBatchRead, paintCheck.
Napi::Object makeChecks(Napi::Env env);

}  // namespace vigil
