#!/usr/bin/python3
"""A real RTSP server for Vigil's tests: gst-rtsp-server serving files on 127.0.0.1.

usage: rtsp_server.py --port N [--auth user:pass] MOUNT=FILE[:codec] ...
Each client gets its own pipeline from the start of the file, paced in real time.
Prints "READY <port>" on stdout once listening. Run with /usr/bin/python3 (Debian's, which has gi).
"""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

DEMUX = {".mkv": "matroskademux", ".mp4": "qtdemux", ".ts": "tsdemux"}
PAY = {"h264": "h264parse ! rtph264pay", "hevc": "h265parse ! rtph265pay"}


def launch_line(path, codec):
    demux = DEMUX.get(os.path.splitext(path)[1])
    if demux is None or codec not in PAY:
        raise SystemExit(f"unsupported fixture {path} ({codec})")
    return f'( filesrc location="{path}" ! {demux} ! {PAY[codec]} name=pay0 pt=96 config-interval=-1 )'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--auth", help="user:pass required by every mount (Basic)")
    ap.add_argument("mounts", nargs="+", help="/path=file[:h264|hevc]")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mounts:
        mount, _, rest = spec.partition("=")
        path, _, codec = rest.partition(":")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(os.path.abspath(path), codec or "h264"))
        factory.set_shared(False)
        if args.auth:
            factory.add_role_from_structure(
                Gst.Structure.from_string("user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0])
        mounts.add_factory(mount, factory)

    if args.auth:
        user, _, password = args.auth.partition(":")
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)

    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{args.port}", flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
