#!/bin/sh
# run.sh - runs the integration tests (Node's built-in test runner, the stock
# OpenTelemetry JS clients, the real mixd binary named by MIXD_BIN and the
# libmixd CLI named by MIXD_REPORT_BIN, by default mixd-report next to mixd).
# Installs the pinned npm packages from package-lock.json when node_modules
# is missing or older than the lock file. Exits with the test runner's status.
set -eu

if [ -z "${MIXD_BIN:-}" ]; then
	echo "run.sh: MIXD_BIN must name the mixd binary" >&2
	exit 2
fi
case "$MIXD_BIN" in
/*) ;;
*) MIXD_BIN="$(pwd)/$MIXD_BIN" ;;
esac
export MIXD_BIN
if [ ! -x "$MIXD_BIN" ]; then
	echo "run.sh: $MIXD_BIN is not an executable" >&2
	exit 2
fi

# the libmixd CLI that the report tests drive; default: next to mixd
MIXD_REPORT_BIN="${MIXD_REPORT_BIN:-$(dirname "$MIXD_BIN")/mixd-report}"
case "$MIXD_REPORT_BIN" in
/*) ;;
*) MIXD_REPORT_BIN="$(pwd)/$MIXD_REPORT_BIN" ;;
esac
export MIXD_REPORT_BIN
if [ ! -x "$MIXD_REPORT_BIN" ]; then
	echo "run.sh: $MIXD_REPORT_BIN is not an executable (set MIXD_REPORT_BIN)" >&2
	exit 2
fi

cd "$(dirname "$0")"

# npm ci writes node_modules/.package-lock.json; compare against it
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund
fi

status=0
node --test --test-concurrency=1 ./*.test.js || status=$?
exit "$status"
