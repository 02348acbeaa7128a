#pragma once
// The service manager's notification protocol (sd_notify(3)): one datagram of newline-separated
// KEY=VALUE assignments to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for the
// abstract namespace). systemd documents it as a stable interface to reimplement; this is that,
// without a libsystemd dependency.
#include <string>

namespace vigil {

// Sends `state` (e.g. "READY=1\nSTATUS=…"). Returns false and says why in `err` when it could
// not be sent; `sent` is false (and no error) when there is no $NOTIFY_SOCKET (not under a
// service manager).
bool sdNotify(const std::string& state, bool& sent, std::string& err);

}  // namespace vigil
