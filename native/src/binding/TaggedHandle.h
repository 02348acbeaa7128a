#pragma once
#include <napi.h>

#include <memory>

namespace vigil {

// An opaque JS handle to a shared native object: an External holding a shared_ptr<T>, freed
// when collected, and type-tagged so that another External (a different handle kind) is never
// taken for one. `tag` is unique per handle kind.
template <typename T>
Napi::External<std::shared_ptr<T>> newHandle(Napi::Env env, std::shared_ptr<T> object, const napi_type_tag& tag) {
  auto ext = Napi::External<std::shared_ptr<T>>::New(env, new std::shared_ptr<T>(std::move(object)),
                                                     [](Napi::Env, std::shared_ptr<T>* p) { delete p; });
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, ext, &tag), ext);
  return ext;
}

// The object behind a handle made with `tag`, or nullptr when `v` is not one.
template <typename T>
std::shared_ptr<T> handleOf(const Napi::Value& v, const napi_type_tag& tag) {
  bool tagged = false;
  if (!v.IsExternal() || napi_check_object_type_tag(v.Env(), v, &tag, &tagged) != napi_ok || !tagged) return nullptr;
  return *v.As<Napi::External<std::shared_ptr<T>>>().Data();
}

}  // namespace vigil
