#include "core/Status.h"

namespace vigil {

const char* statusName(Status s) {
  switch (s) {
    case Status::Ok:
      return "ok";
    case Status::Again:
      return "again";
    case Status::Timeout:
      return "timeout";
    case Status::Eos:
      return "eos";
    case Status::Stopped:
      return "stopped";
    case Status::Error:
      return "error";
  }
  return "unknown";
}

}  // namespace vigil
