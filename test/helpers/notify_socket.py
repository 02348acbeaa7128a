"""A service manager's notification socket (sd_notify(3)), for tests: binds an AF_UNIX datagram
socket at argv[1] and prints each notification as a JSON line with the wall-clock time it came.
With --probe URL, on READY=1 it requests URL at once and records the HTTP status it got (0: no
answer): whether the daemon was serving when it said it was ready."""
import json
import socket
import sys
import time
import urllib.error
import urllib.request

path = sys.argv[1]
probe = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--probe" else None
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
print(json.dumps({"listening": path}), flush=True)
while True:
    data = sock.recv(65536).decode("utf-8", "replace")
    at = time.time() * 1000
    out = {"at": at, "state": data}
    if probe and "READY=1" in data.split("\n"):
        try:
            with urllib.request.urlopen(probe, timeout=2) as r:
                out["probe"] = r.status
        except urllib.error.HTTPError as e:
            out["probe"] = e.code
        except Exception:  # refused, reset, timeout: not serving
            out["probe"] = 0
    print(json.dumps(out), flush=True)
