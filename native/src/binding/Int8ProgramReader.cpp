#include "binding/Int8ProgramReader.h"

#include <cstdint>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "binding/Convert.h"

namespace vigil {

namespace {

// The program contract, written once: each JS object readProgram takes and its fields, true
// where readProgram reads it, false where it is JS's own and ignored. A reader asks only for
// fields listed here (else it throws: a reader changed without its contract fails the tests).
struct ContractObject {
  const char* name;
  std::vector<std::pair<const char*, bool>> fields;
};
const ContractObject kProgramObj{
    "program", {{"inputSize", true}, {"buffers", true}, {"ops", true}, {"outputs", true}, {"tensors", false}}};
const ContractObject kBufferObj{
    "buffer", {{"name", true}, {"int8", true}, {"scale", true}, {"H", true}, {"W", true}, {"C", true}}};
const ContractObject kViewObj{"view", {{"buffer", true}, {"offset", true}}};
const ContractObject kOpObj{
    "op",
    {{"kind", true},    {"space", true},    {"in", true},      {"in2", true},   {"out", true},   {"channels", true},
     {"O", true},       {"C", true},        {"kh", true},      {"kw", true},    {"sh", true},    {"sw", true},
     {"pt", true},      {"pl", true},       {"w8", true},      {"wf", true},    {"bias8", true}, {"biasf", true},
     {"mult", true},    {"epilogue", true}, {"int8Out", true}, {"aux", true},   {"auxAt", true}, {"pool", true},
     {"inScale", true}, {"scaleY", true},   {"scaleX", true},  {"value", true}, {"act", true},   {"alpha", true},
     {"step", false}}};
const ContractObject kPoolObj{"pool",
                              {{"kh", true}, {"kw", true}, {"sh", true}, {"sw", true}, {"pt", true}, {"pl", true}}};
const ContractObject kEpilogueObj{"epilogue", {{"op", true}, {"arg", true}}};
const ContractObject kOutputObj{"output", {{"name", true}, {"buffer", true}}};
const ContractObject* const kContract[] = {&kProgramObj, &kViewObj,     &kBufferObj, &kOpObj,
                                           &kPoolObj,    &kEpilogueObj, &kOutputObj};

// One JS object of the contract, read field by field; `path` names it in errors.
class ContractReader {
 public:
  ContractReader(Napi::Env env, const Napi::Value& v, const ContractObject& c, std::string path)
      : env_(env), c_(c), path_(std::move(path)) {
    if (!v.IsObject() || v.IsArray()) throw invalidParameter(env, "an object", path_, v);
    o_ = v.As<Napi::Object>();
    Napi::Array keys = o_.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).ToString().Utf8Value();
      if (!listed(key.c_str()))
        throw invalidParameter(env_, std::string("no such field of a program ") + c_.name + " (the engine reads none)",
                               path_ + "." + key, o_.Get(key));
    }
  }
  const std::string& path() const { return path_; }
  std::string at(const char* key) const { return path_ + "." + key; }

  Napi::Value get(const char* key) const {
    if (!listed(key, true))
      throw Napi::Error::New(env_, std::string("readProgram reads ") + at(key) + ", which its contract does not list");
    return o_.Get(key);
  }
  double number(const char* key, double fallback, double lo, double hi) const {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return fallback;
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
    if (!v.IsNumber() || !(d >= lo && d <= hi)) {
      throw invalidParameter(env_,
                             "a number between " + std::to_string(static_cast<long long>(lo)) + " and " +
                                 std::to_string(static_cast<long long>(hi)),
                             at(key), v);
    }
    return d;
  }
  int integer(const char* key, int fallback, double lo, double hi) const {
    return static_cast<int>(number(key, fallback, lo, hi));
  }
  float real(const char* key, double fallback, double lo, double hi) const {
    return static_cast<float>(number(key, fallback, lo, hi));
  }
  bool boolean(const char* key, bool fallback) const {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsBoolean()) throw invalidParameter(env_, "a boolean", at(key), v);
    return v.As<Napi::Boolean>().Value();
  }
  std::string string(const char* key, const std::string& fallback) const {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return fallback;
    if (!v.IsString()) throw invalidParameter(env_, "a string", at(key), v);
    return v.As<Napi::String>().Utf8Value();
  }
  Napi::Array array(const char* key) const {
    Napi::Value v = get(key);
    if (!v.IsArray()) throw invalidParameter(env_, "an array", at(key), v);
    return v.As<Napi::Array>();
  }
  // A typed array of `type` copied into `dst` (undefined or null: left empty).
  template <typename Vec>
  void copy(const char* key, napi_typedarray_type type, Vec& dst) const {
    Napi::Value v = get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      throw invalidParameter(env_, "a typed array of the op's type", at(key), v);
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    using T = typename std::decay_t<Vec>::value_type;
    const T* data = reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
    dst.assign(data, data + a.ElementLength());
  }

 private:
  bool listed(const char* key, bool mustRead = false) const {
    for (const auto& [name, read] : c_.fields)
      if (std::string(name) == key) return read || !mustRead;
    return false;
  }
  Napi::Env env_;
  const ContractObject& c_;
  std::string path_;
  Napi::Object o_;
};

template <size_t N>
int mostCode(const ProgramCode (&)[N]) {
  return static_cast<int>(N) - 1;
}

BufferView viewOf(Napi::Env env, const ContractReader& op, const char* key, double buffers) {
  BufferView v;
  Napi::Value x = op.get(key);
  if (x.IsUndefined()) return v;
  ContractReader r(env, x, kViewObj, op.at(key));
  v.buffer = r.integer("buffer", -1, 0, buffers - 1);
  v.offset = r.integer("offset", 0, 0, 1 << 16);
  return v;
}

// A kernel window: size, stride and top/left pads (a convolution's or max-pool's, a stem's pool).
void window(const ContractReader& q, int& kh, int& kw, int& sh, int& sw, int& pt, int& pl) {
  kh = q.integer("kh", 1, 1, 64);
  kw = q.integer("kw", 1, 1, 64);
  sh = q.integer("sh", 1, 1, 64);
  sw = q.integer("sw", 1, 1, 64);
  pt = q.integer("pt", 0, 0, 64);
  pl = q.integer("pl", 0, 0, 64);
}

ProgramOp readOp(Napi::Env env, const ContractReader& x, double buffers) {
  ProgramOp op;
  op.kind = static_cast<ProgramOpKind>(x.integer("kind", -1, 0, mostCode(kProgramOpKinds)));
  op.in = viewOf(env, x, "in", buffers);
  op.in2 = viewOf(env, x, "in2", buffers);
  op.out = viewOf(env, x, "out", buffers);
  op.aux = viewOf(env, x, "aux", buffers);
  op.auxAt = x.integer("auxAt", 0, 0, kMaxEpilogue);
  Napi::Value pool = x.get("pool");
  if (!pool.IsUndefined()) {
    ContractReader p(env, pool, kPoolObj, x.at("pool"));
    window(p, op.pkh, op.pkw, op.psh, op.psw, op.ppt, op.ppl);
  }
  op.channels = x.integer("channels", 0, 0, 1 << 16);
  op.space = x.integer("space", 1, 1, 2);
  op.O = x.integer("O", 0, 0, 1 << 16);
  op.C = x.integer("C", 0, 0, 1 << 16);
  window(x, op.kh, op.kw, op.sh, op.sw, op.pt, op.pl);
  op.scaleY = x.real("scaleY", 1, 1e-6, 1e6);
  op.scaleX = x.real("scaleX", 1, 1e-6, 1e6);
  op.value = x.real("value", 0, -1e30, 1e30);
  op.act = static_cast<UnaryAct>(x.integer("act", 0, 0, mostCode(kProgramActs)));
  op.alpha = x.real("alpha", 0, -1e30, 1e30);
  op.inScale = x.real("inScale", 0, 0, 1e30);
  x.copy("w8", napi_int8_array, op.w8);
  x.copy("wf", napi_float32_array, op.wf);
  x.copy("bias8", napi_int32_array, op.bias8);
  x.copy("biasf", napi_float32_array, op.biasf);
  x.copy("mult", napi_float32_array, op.mult);
  Napi::Value ev = x.get("epilogue");
  if (!ev.IsUndefined()) {
    if (!ev.IsArray() || ev.As<Napi::Array>().Length() > kMaxEpilogue)
      throw invalidParameter(env, "an array of at most " + std::to_string(kMaxEpilogue) + " { op, arg }",
                             x.at("epilogue"), ev);
    Napi::Array ea = ev.As<Napi::Array>();
    op.epilogue.n = static_cast<int>(ea.Length());
    for (int k = 0; k < op.epilogue.n; ++k) {
      ContractReader step(env, ea.Get(k), kEpilogueObj, x.at("epilogue") + "[" + std::to_string(k) + "]");
      op.epilogue.op[k] = static_cast<EpilogueOp>(step.integer("op", 0, 0, mostCode(kProgramEpilogueOps)));
      op.epilogue.arg[k] = step.real("arg", 0, -1e30, 1e30);
    }
  }
  op.epilogue.int8Out = x.boolean("int8Out", false);
  if (op.epilogue.int8Out && (op.epilogue.n == 0 || op.epilogue.op[op.epilogue.n - 1] != EpilogueOp::Requantize))
    throw invalidParameter(env, "a requantize last for an int8 output", x.at("epilogue"), ev);
  return op;
}

template <size_t N>
Napi::Object codesOf(Napi::Env env, const ProgramCode (&t)[N]) {
  Napi::Object o = Napi::Object::New(env);
  for (const ProgramCode& c : t) o.Set(c.name, c.value);
  return o;
}

}  // namespace

Int8Program readProgram(Napi::Env env, const Napi::Object& o) {
  ContractReader r(env, o, kProgramObj, "program");
  Int8Program p;
  p.inputSize = r.integer("inputSize", 416, 32, 4096);
  Napi::Array buffers = r.array("buffers");
  for (uint32_t i = 0; i < buffers.Length(); ++i) {
    ContractReader b(env, buffers.Get(i), kBufferObj, "program.buffers[" + std::to_string(i) + "]");
    ProgramBuffer pb;
    pb.name = b.string("name", "");
    pb.int8 = b.boolean("int8", false);
    pb.scale = b.real("scale", 0, 0, 1e30);
    pb.H = b.integer("H", 1, 1, 1 << 16);
    pb.W = b.integer("W", 1, 1, 1 << 16);
    pb.C = b.integer("C", 1, 1, 1 << 16);
    if (pb.int8 && !(pb.scale > 0))
      throw invalidParameter(env, "a positive scale for an int8 buffer", b.at("scale"), b.get("scale"));
    p.buffers.push_back(pb);
  }
  const double nb = static_cast<double>(p.buffers.size());
  Napi::Array ops = r.array("ops");
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    ContractReader x(env, ops.Get(i), kOpObj, "program.ops[" + std::to_string(i) + "]");
    p.ops.push_back(readOp(env, x, nb));
  }
  Napi::Array outputs = r.array("outputs");
  for (uint32_t i = 0; i < outputs.Length(); ++i) {
    ContractReader x(env, outputs.Get(i), kOutputObj, "program.outputs[" + std::to_string(i) + "]");
    p.outputs.push_back({x.string("name", ""), x.integer("buffer", -1, 0, nb - 1)});
  }
  return p;
}

Napi::Object int8ProgramContract(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("opKinds", codesOf(env, kProgramOpKinds));
  o.Set("acts", codesOf(env, kProgramActs));
  o.Set("epilogueOps", codesOf(env, kProgramEpilogueOps));
  o.Set("maxEpilogue", kMaxEpilogue);
  Napi::Object fields = Napi::Object::New(env);
  for (const ContractObject* c : kContract) {
    Napi::Object f = Napi::Object::New(env);
    for (const auto& [name, read] : c->fields) f.Set(name, read);
    fields.Set(c->name, f);
  }
  o.Set("fields", fields);
  return o;
}

}  // namespace vigil
