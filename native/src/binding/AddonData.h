#pragma once
#include <napi.h>

#include <set>

namespace vigil {

class CameraWrap;

// Per-environment state (main thread, worker threads, vitest forks each get their own).
// No mutable globals in the addon: everything lives here.
struct AddonData {
  Napi::FunctionReference cameraCtor;
  std::set<CameraWrap*> cameras;  // live cameras, closed by the environment's cleanup hook
};

}  // namespace vigil
