#!/bin/sh
# deps.sh - installs the Debian packages mixd needs to build, run and test.
#
# Checks each package with dpkg-query; when something is missing and we are
# root, runs `apt-get update` once and installs it; otherwise prints the exact
# command to run and fails. Used by `make deps` (and so by `make run` and
# `make test`). Node.js and npm are checked by command, since the machine may
# carry them from another source than Debian's packages. chromium is the
# headless browser of the web UI tests (tests/integration/ui.test.js).
set -eu

PKGS="gcc make pkg-config clang libclang-rt-14-dev \
libmicrohttpd-dev protobuf-c-compiler libprotobuf-c-dev liblmdb-dev lmdb-utils \
libjansson-dev libcmocka-dev zlib1g-dev libcurl4-openssl-dev libssl-dev curl ca-certificates prometheus \
chromium"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
else
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root: apt-get update && $cmd" >&2
	exit 1
fi
