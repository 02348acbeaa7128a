#pragma once
#include <napi.h>

#include "int8/Int8Program.h"

namespace vigil {

// The program src/model/int8/program.ts lowers, as JS hands it to openInt8Engine (copied: JS may
// drop it). Every object may carry only the fields the contract below lists; a field or code
// out of place throws a TypeError naming it (program.ops[3].kh). JS thread; no GPU involved.
Int8Program readProgram(Napi::Env env, const Napi::Object& program);

// The contract readProgram holds JS to, for the test that holds program.ts to it
// (test/model/int8program.test.ts): { opKinds, acts, epilogueOps: { name: code },
// maxEpilogue, fields: { program, buffer, view, op, pool, epilogue, output: { field: true (read)
// | false (JS's own, ignored) } } }.
Napi::Object int8ProgramContract(Napi::Env env);

}  // namespace vigil
