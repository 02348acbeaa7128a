#!/bin/sh
# PID 1 of a private PID + mount namespace (test/helpers/systemdNamespace.ts): lays the staged
# tree over /etc, /opt/vigil and /var/lib (inside this namespace only), then becomes a real
# systemd that knows only the staged units.
set -e
S="$1"
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -p /run/lock
mount --bind "$S/root/etc" /etc
mount -t tmpfs tmpfs /opt
mkdir /opt/vigil
mount --bind "$S/root/opt/vigil" /opt/vigil
mount --bind "$S/root/var/lib" /var/lib
: > "$S/console.log"
mount --bind "$S/console.log" /dev/console
export SYSTEMD_UNIT_PATH="$S/units"
export container=vigil-test
exec /lib/systemd/systemd --system --unit=test.target --log-target=console --log-level=info --show-status=no
