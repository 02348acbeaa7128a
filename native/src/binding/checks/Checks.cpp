#include "binding/checks/Checks.h"

#include "binding/Int8ProgramReader.h"
#include "binding/checks/DeviceBatchChecks.h"
#include "binding/checks/Int8EngineRunChecks.h"
#include "binding/checks/KernelChecks.h"
#include "binding/checks/PaintCheckWorker.h"

namespace vigil {

namespace {
Napi::Value Int8ProgramContractJs(const Napi::CallbackInfo& info) { return int8ProgramContract(info.Env()); }
}  // namespace

Napi::Object makeChecks(Napi::Env env) {
  Napi::Object checks = Napi::Object::New(env);
  checks.Set("nanodetPostGpu", Napi::Function::New(env, NanodetPostGpu, "nanodetPostGpu"));
  checks.Set("int8ConvGpu", Napi::Function::New(env, Int8ConvGpu, "int8ConvGpu"));
  checks.Set("int8EngineRun", Napi::Function::New(env, Int8EngineRun, "int8EngineRun"));
  checks.Set("int8EngineRead", Napi::Function::New(env, Int8EngineRead, "int8EngineRead"));
  checks.Set("int8ProgramContract", Napi::Function::New(env, Int8ProgramContractJs, "int8ProgramContract"));
  checks.Set("deviceBatchRead", Napi::Function::New(env, DeviceBatchRead, "deviceBatchRead"));
  checks.Set("paintCheck", Napi::Function::New(env, PaintCheckWorker::Run, "paintCheck"));
  return checks;
}

}  // namespace vigil
