#!/bin/sh
# run.sh BUILD - `make bench`: the ingest and query benchmarks of mixd, end
# to end.
#
# 1. bench_ceilings: what the bare libraries reach on this machine (protobuf-c
#    unpack, mixd's decoders, jansson on OTLP/JSON and on Zipkin JSON, LMDB
#    commits), single thread; bench_thrift: the Jaeger thrift decoders.
# 2. For each sync mode (full, then none): starts $BUILD/mixd on a fresh temp
#    --storage.path with every listener on localhost:0 (or disabled), reads
#    the OTLP and Zipkin ports from its `mixd listening {...}` line (bounded
#    wait), runs bench_ingest with OTLP protobuf, OTLP/JSON and Zipkin v2
#    JSON (when mixd serves Zipkin), records mixd's CPU per thread, then
#    stops mixd with SIGTERM and waits for it. With full sync, also the
#    Jaeger agent UDP ingest: bench_thrift sends emitBatch datagrams (compact,
#    then binary) to the ports of mixd's listen line; committed and dropped
#    spans are the deltas of the `udp` object of mixd's /debug/vars.
# 3. With full sync, profiles mixd with `perf record -g` during one more
#    protobuf run and prints the top of `perf report` (skipped when perf is
#    missing or not permitted).
# 4. bench_query: fills a fresh store with BENCH_QUERY_SPANS spans through the
#    store API and measures trace by id and search latency (p50, p99); then
#    starts mixd on that store and measures GET /api/traces/{id} over HTTP.
# 5. Prints summary tables and the ratios to the ceilings and goals.
#
# Everything runs on loopback; every loop and wait is bounded. Knobs (env):
# BENCH_SECONDS (10), BENCH_REPORT_SECONDS (6), BENCH_WARMUP (1), BENCH_CONNECTIONS (4),
# BENCH_CEIL_SECONDS (2), BENCH_PERF (1; 0 skips perf),
# BENCH_QUERY_SPANS (1000000; 0 skips the query benchmark), TMPDIR.
set -u

BUILD=${1:-build}
SECS=${BENCH_SECONDS:-10}
WARM=${BENCH_WARMUP:-1}
CONNS=${BENCH_CONNECTIONS:-4}
CEIL_SECS=${BENCH_CEIL_SECONDS:-2}
PERF=${BENCH_PERF:-1}
QSPANS=${BENCH_QUERY_SPANS:-1000000}
MIXD=$BUILD/mixd
INGEST=$BUILD/bench/bench_ingest
CEIL=$BUILD/bench/bench_ceilings
QUERY=$BUILD/bench/bench_query
THRIFT=$BUILD/bench/bench_thrift

for b in "$MIXD" "$INGEST" "$CEIL" "$QUERY"; do
	if [ ! -x "$b" ]; then
		echo "bench: $b is missing (make BUILD=$BUILD bench builds it)" >&2
		exit 1
	fi
done

# the other receivers are turned off, those this mixd knows (see --help);
# Zipkin gets a free port (its listen-line entry tells whether it is served)
OFF=""
if "$MIXD" --help 2>&1 | grep -q -- "--zipkin.listen-address "; then
	OFF="--zipkin.listen-address=localhost:0"
fi
for f in jaeger.collector-listen-address report.listen-address; do
	if "$MIXD" --help 2>&1 | grep -q -- "--$f "; then
		OFF="$OFF --$f="
	fi
done
# the Jaeger agent's UDP listeners get free ports (for the UDP ingest run)
for f in jaeger.agent-compact-listen-address jaeger.agent-binary-listen-address; do
	if "$MIXD" --help 2>&1 | grep -q -- "--$f "; then
		OFF="$OFF --$f=localhost:0"
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mixd-bench.XXXXXX") || exit 1
PID=""
RESULTS=$TMP/results
: >"$RESULTS"

stop_mixd() {
	[ -n "$PID" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	i=0
	# bounded: 30 s for the writer to commit what is queued and exit
	while kill -0 "$PID" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$PID" 2>/dev/null; then
		echo "bench: mixd did not exit 30 s after SIGTERM; killing it" >&2
		kill -KILL "$PID" 2>/dev/null
	fi
	wait "$PID" 2>/dev/null
	rc=$?
	[ "$rc" -eq 0 ] || echo "bench: mixd exited with status $rc" >&2
	PID=""
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_mixd
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# listen_port NAME: the 127.0.0.1 port of listener NAME in the listen line
listen_port() {
	sed -n 's/^mixd listening .*"'"$1"'":\["127\.0\.0\.1:\([0-9][0-9]*\)".*/\1/p' \
		"$TMP/mixd.out" | head -1
}

# start_mixd SYNC [NAME]: sets PID, PORT (OTLP), ZPORT (Zipkin, empty when
# not served), QPORT (Jaeger query), WPORT (web: /debug/vars), CPORT and BPORT
# (Jaeger agent UDP compact and binary, empty when not served); the store is $TMP/data-SYNC, emptied
# first, or the existing $TMP/data-NAME when NAME is given
start_mixd() {
	data=$TMP/data-${2:-$1}
	[ $# -ge 2 ] || rm -rf "$data"
	: >"$TMP/mixd.out"
	# shellcheck disable=SC2086 # $OFF holds flags without spaces
	"$MIXD" --storage.path="$data" --storage.sync="$1" \
		--otlp.listen-address=localhost:0 --query.listen-address=localhost:0 \
		--web.listen-address=localhost:0 $OFF \
		--log.level=warn >"$TMP/mixd.out" 2>"$TMP/mixd-$1.err" &
	PID=$!
	PORT=""
	i=0
	while [ $i -lt 200 ]; do # bounded: 20 s
		PORT=$(listen_port otlp)
		[ -n "$PORT" ] && break
		if ! kill -0 "$PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$PORT" ]; then
		echo "bench: mixd did not print its listen line; stderr:" >&2
		tail -20 "$TMP/mixd-$1.err" >&2
		stop_mixd
		return 1
	fi
	ZPORT=$(listen_port zipkin)
	QPORT=$(listen_port query)
	WPORT=$(listen_port web)
	CPORT=$(listen_port jaeger_compact)
	BPORT=$(listen_port jaeger_binary)
	return 0
}

# cpu_snapshot FILE: "tid comm ticks" for every thread of mixd
cpu_snapshot() {
	for t in /proc/"$PID"/task/*; do
		[ -r "$t/stat" ] || continue
		# comm may hold spaces: cut the fields after the closing parenthesis
		awk -v tid="${t##*/}" '{
			s = $0; c = s; sub(/^[^(]*\(/, "", c); sub(/\).*$/, "", c)
			sub(/^.*\) /, "", s); split(s, f, " ")
			gsub(/ /, "_", c); print tid, c, f[12] + f[13] }' "$t/stat" 2>/dev/null
	done >"$1"
	# whole machine: busy ticks (user nice system irq softirq steal)
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat >"$1.sys"
}

# cpu_report BEFORE AFTER WALL: mixd cores used, in all and by thread name
cpu_report() {
	hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
	awk -v hz="$hz" -v wall="$3" '
		NR == FNR { before[$1] = $3; next }
		{ d = $3 - before[$1]; by[$2] += d; all += d }
		END {
			printf "mixd CPU: %.2f cores in all;", all / hz / wall
			for (n in by) if (by[n] / hz / wall >= 0.01)
				printf " %s %.2f", n, by[n] / hz / wall
			printf "\n"
			printf "%.2f\n", all / hz / wall > "/dev/stderr"
		}' "$1" "$2" 2>"$TMP/cores"
	awk -v hz="$hz" -v wall="$3" -v n="$(nproc)" -v m="$(cat "$TMP/cores")" \
		'NR == 1 { b = $1 } NR == 2 { busy = ($1 - b) / hz / wall
		printf "machine CPU: %.2f of %d cores busy (mixd %.2f, the rest is the load " \
			"generator and other work)\n", busy, n, m
		printf "%.2f\n", busy > "/dev/stderr" }' "$1.sys" "$2.sys" 2>"$TMP/busy"
}

# ingest ENC SYNC: one measured run against the running mixd
ingest() {
	echo
	port=$PORT
	if [ "$1" = zipkin-json ]; then
		echo "--- Zipkin v2 JSON (POST /api/v2/spans), --storage.sync=$2 ---"
		port=$ZPORT
	else
		echo "--- OTLP $1, --storage.sync=$2 ---"
	fi
	cpu_snapshot "$TMP/cpu0"
	t0=$(date +%s.%N)
	"$INGEST" --port "$port" --encoding "$1" --sync "$2" --connections "$CONNS" \
		--seconds "$SECS" --warmup "$WARM" >"$TMP/ingest.out" 2>&1
	t1=$(date +%s.%N)
	cpu_snapshot "$TMP/cpu1"
	grep -v '^result ' "$TMP/ingest.out"
	wall=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
	cpu_report "$TMP/cpu0" "$TMP/cpu1" "$wall"
	line=$(grep '^result ' "$TMP/ingest.out" | head -1)
	[ -n "$line" ] && echo "$line cores=$(cat "$TMP/cores") busy=$(cat "$TMP/busy")" >>"$RESULTS"
	du -sh "$TMP/data-$2" 2>/dev/null | awk '{ print "store size: " $1 }'
}

# udp_var FILE LISTENER KEY: counter KEY of LISTENER in the `udp` object of
# a saved /debug/vars (0 when absent)
udp_var() {
	v=$(sed -n 's/.*"'"$2"'":{\("datagrams":[^}]*\)}.*/\1/p' "$1" | tr ',' '\n' |
		sed -n 's/^"'"$3"'"://p' | head -1)
	echo "${v:-0}"
}

# udp_ingest PROTO SYNC: bench_thrift sends emitBatch datagrams to the agent
# port of PROTO for SECS s; committed and dropped spans come from mixd's
# /debug/vars, read before and after (after the queue drained, bounded)
udp_ingest() {
	echo
	echo "--- Jaeger agent UDP (emitBatch, thrift $1), --storage.sync=$2 ---"
	name=jaeger_$1
	port=$CPORT
	[ "$1" = binary ] && port=$BPORT
	curl -s --max-time 5 "http://127.0.0.1:$WPORT/debug/vars" >"$TMP/vars0" || true
	cpu_snapshot "$TMP/cpu0"
	t0=$(date +%s.%N)
	"$THRIFT" --udp-port "$port" --proto "$1" --seconds "$SECS" >"$TMP/udp.out" 2>&1
	t1=$(date +%s.%N)
	cpu_snapshot "$TMP/cpu1"
	# bounded: 10 s for the writer to commit what is still queued
	last=""
	i=0
	while [ $i -lt 50 ]; do
		sleep 0.2
		curl -s --max-time 5 "http://127.0.0.1:$WPORT/debug/vars" >"$TMP/vars1" || true
		cur="$(udp_var "$TMP/vars1" "$name" accepted_spans) $(udp_var "$TMP/vars1" "$name" dropped_spans)"
		[ "$cur" = "$last" ] && break
		last=$cur
		i=$((i + 1))
	done
	grep -v '^result ' "$TMP/udp.out"
	wall=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
	cpu_report "$TMP/cpu0" "$TMP/cpu1" "$wall"
	line=$(grep '^result name=udp_send ' "$TMP/udp.out" | head -1)
	sent=$(val "$line" spans)
	dg=$(val "$line" datagrams)
	s=$(val "$line" seconds)
	d() { echo $(($(udp_var "$TMP/vars1" "$name" "$1") - $(udp_var "$TMP/vars0" "$name" "$1"))); }
	acc=$(d accepted_spans)
	drop=$(d dropped_spans)
	kern=$(d kernel_drops)
	bad=$(d malformed_datagrams)
	rcvd=$(d datagrams)
	awk -v sent="${sent:-0}" -v dg="${dg:-0}" -v s="${s:-0}" -v acc="$acc" -v drop="$drop" \
		-v kern="$kern" -v bad="$bad" -v rcvd="$rcvd" -v p="$1" -v sync="$2" 'BEGIN {
		per = dg > 0 ? sent / dg : 0
		if (s <= 0) s = 1
		printf "UDP ingest: sent %.0f spans/s, committed %.0f spans/s, dropped %d (queue) + %d (kernel)\n",
			sent / s, acc / s, drop, kern * per
		printf "  (%s: %d datagrams sent, %d received, %d kernel-dropped, %d malformed; %d spans " \
			"sent, %d committed; rates over the %.1f s send time)\n", p, dg, rcvd, kern, bad,
			sent, acc, s
		printf "result name=udp enc=%s sync=%s sent_spans_per_s=%.0f spans_per_s=%.0f " \
			"dropped_queue=%d dropped_kernel=%d\n", p, sync, sent / s, acc / s, drop,
			kern * per > "/dev/stderr" }' 2>>"$RESULTS"
}

profile() {
	if [ "$PERF" = 0 ] || ! command -v perf >/dev/null 2>&1; then
		echo "perf: not available, profile skipped"
		return 0
	fi
	psecs=5
	echo
	echo "--- where the time goes: perf record -g on mixd, OTLP protobuf, full sync, ${psecs} s ---"
	"$INGEST" --port "$PORT" --encoding proto --sync full --connections "$CONNS" \
		--seconds $((psecs + 1)) --warmup 1 >"$TMP/perf-ingest.out" 2>&1 &
	lp=$!
	sleep 1
	if ! perf record -q -g -F 499 -p "$PID" -o "$TMP/perf.data" -- sleep "$psecs" \
		>"$TMP/perf.err" 2>&1; then
		echo "perf: record failed or not permitted, profile skipped:"
		head -3 "$TMP/perf.err"
		wait $lp
		return 0
	fi
	wait $lp
	echo "(flat profile by thread, library and symbol; entries >= 0.5 %)"
	perf report -i "$TMP/perf.data" --stdio --no-children -g none --percent-limit 0.5 \
		--sort comm,dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' |
		sed 's/[ -]*$//' | head -60
	echo "(by library)"
	perf report -i "$TMP/perf.data" --stdio --no-children -g none --percent-limit 1 \
		--sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | sed 's/[ -]*$//' | head -15
}

# val LINE KEY
val() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

echo "=== mixd ingest benchmark ==="
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: *//'), $(nproc) cores," \
	"$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)," \
	"kernel $(uname -r)"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" \
	"(other work on the machine lowers every number below)"
echo "storage: $(df -PT "$TMP" | awk 'NR == 2 { print $2 " on " $1 }') ($TMP)"
echo "mixd: $("$MIXD" --version 2>&1 | head -1)"
echo
echo "--- ceilings (bare libraries, single thread, same bodies) ---"
"$CEIL" --seconds "$CEIL_SECS" --dir "$TMP" >"$TMP/ceil.out" 2>&1
grep -v '^result ' "$TMP/ceil.out"
grep '^result ' "$TMP/ceil.out" >>"$RESULTS"
if [ -x "$THRIFT" ]; then
	echo
	"$THRIFT" --seconds "$CEIL_SECS" >"$TMP/thrift.out" 2>&1 || echo "bench: bench_thrift failed"
	grep -v '^result ' "$TMP/thrift.out"
	grep '^result ' "$TMP/thrift.out" >>"$RESULTS"
fi

for sync in full none; do
	if ! start_mixd "$sync"; then
		echo "bench: mixd failed to start with --storage.sync=$sync" >&2
		exit 1
	fi
	ingest proto "$sync"
	ingest json "$sync"
	if [ -n "$ZPORT" ]; then
		ingest zipkin-json "$sync"
	else
		echo
		echo "--- Zipkin v2 JSON: skipped, this mixd does not serve Zipkin yet ---"
	fi
	if [ "$sync" = full ]; then
		if [ -n "$CPORT" ] && [ -n "$BPORT" ] && [ -n "$WPORT" ] && [ -x "$THRIFT" ] &&
			command -v curl >/dev/null 2>&1; then
			udp_ingest compact "$sync"
			udp_ingest binary "$sync"
		else
			echo
			echo "--- Jaeger agent UDP: skipped (no agent listener, bench_thrift or curl) ---"
		fi
	fi
	[ "$sync" = full ] && profile
	stop_mixd
	rm -rf "$TMP/data-$sync"
done

# the query benchmark: in-process on a fresh store, then over HTTP
if [ "$QSPANS" -gt 0 ] 2>/dev/null; then
	echo
	echo "--- query latency over a store of $QSPANS spans (bench_query) ---"
	if "$QUERY" --dir "$TMP/data-query" --spans "$QSPANS" --ids-out "$TMP/query-ids" \
		>"$TMP/query.out" 2>&1; then
		grep -v '^result ' "$TMP/query.out"
		grep '^result ' "$TMP/query.out" >>"$RESULTS"
		du -sh "$TMP/data-query" 2>/dev/null | awk '{ print "store size: " $1 }'
		if start_mixd none query && [ -n "$QPORT" ]; then
			"$QUERY" --http-port "$QPORT" --ids "$TMP/query-ids" >"$TMP/query-http.out" 2>&1
			grep -v '^result ' "$TMP/query-http.out"
			grep '^result ' "$TMP/query-http.out" >>"$RESULTS"
		else
			echo "bench: mixd did not start on the query store; HTTP part skipped"
		fi
		stop_mixd
	else
		cat "$TMP/query.out"
		echo "bench: bench_query failed"
	fi
	rm -rf "$TMP/data-query"
fi

# libmixd: the recording path and the flush thread
if [ -x "$BUILD/bench/bench_reporter" ]; then
	echo
	echo "--- libmixd (bench_reporter) ---"
	"$BUILD/bench/bench_reporter" --seconds "${BENCH_REPORTER_SECONDS:-10}" || echo "bench: bench_reporter failed"
fi

# the Prometheus renderer
if [ -x "$BUILD/bench/bench_prom" ]; then
	echo
	echo "--- Prometheus renderer (bench_prom) ---"
	"$BUILD/bench/bench_prom" || echo "bench: bench_prom failed"
fi

# native report ingest (label-set updates per second and per CPU second)
if [ -x "$BUILD/bench/bench_report" ]; then
	echo
	echo "--- native report ingest (bench_report) ---"
	"$BUILD/bench/bench_report" --seconds "${BENCH_REPORT_SECONDS:-6}" || echo "bench: bench_report failed"
fi

# the graph API (issue 8): Kiali-style graph over a day of metrics rollups
if [ -x "$BUILD/bench/bench_graph" ]; then
	echo
	"$BUILD/bench/bench_graph" --dir "$TMP/data-graph" || echo "bench: bench_graph failed"
fi

ceil() {
	v=$(val "$(grep "^result name=$1 " "$RESULTS" | head -1)" spans_per_s)
	echo "${v:-0}"
}
pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else printf "n/a" }'
}

echo
echo "=== summary: ingest (OTLP/HTTP and Zipkin), batches of 512 spans x 20 attributes," \
	"$CONNS connections, ${SECS} s each ==="
printf "%-11s %-5s %12s %8s %8s %8s %7s %6s %6s\n" encoding sync "spans/s" "req/s" "p50 ms" \
	"p99 ms" errors cores busy
grep '^result name=ingest ' "$RESULTS" | while read -r line; do
	printf "%-11s %-5s %12s %8s %8s %8s %7s %6s %6s\n" "$(val "$line" enc)" "$(val "$line" sync)" \
		"$(val "$line" spans_per_s)" "$(val "$line" req_per_s)" "$(val "$line" p50_ms)" \
		"$(val "$line" p99_ms)" "$(val "$line" errors)" "$(val "$line" cores)" "$(val "$line" busy)"
done
echo "(spans/s = spans acknowledged with 200 (OTLP) or 202 (Zipkin) after the LMDB commit; cores = CPU mixd used;"
echo " busy = cores busy on the whole machine: far above cores + 0.1 means other work competed)"
if grep -q '^result name=udp ' "$RESULTS"; then
	echo
	echo "UDP ingest (Jaeger agent emitBatch, ~60 KB datagrams, one sender, full sync):"
	grep '^result name=udp ' "$RESULTS" | while read -r line; do
		printf "  %-8s sent %10s spans/s, committed %10s spans/s, dropped %s (queue) + %s (kernel)\n" \
			"$(val "$line" enc)" "$(val "$line" sent_spans_per_s)" "$(val "$line" spans_per_s)" \
			"$(val "$line" dropped_queue)" "$(val "$line" dropped_kernel)"
	done
fi
echo
echo "ceilings, single thread:"
for n in pb_unpack mx_decode_proto json_parse mx_decode_json zipkin_json_parse \
	mx_decode_zipkin_json thrift_decode_binary thrift_decode_compact lmdb_append_full lmdb_append_idx_full lmdb_random_full \
	lmdb_append_none; do
	v=$(ceil $n)
	[ "$v" != 0 ] && printf "  %-22s %10s spans/s\n" "$n" "$v"
done
echo
echo "ratios to the ceilings (a ceiling is one core; mixd decodes on its --http.threads" \
	"workers in parallel, so a ratio above 100 % is possible):"
rate() {
	v=$(val "$(grep "^result name=ingest enc=$1 sync=$2 " "$RESULTS" | head -1)" spans_per_s)
	echo "${v:-0}"
}
pf=$(rate proto full)
pn=$(rate proto none)
jf=$(rate json full)
jn=$(rate json none)
echo "  proto/full: $(pct "$pf" "$(ceil pb_unpack)") of bare protobuf-c unpack," \
	"$(pct "$pf" "$(ceil lmdb_append_full)") of bare LMDB append (full sync)"
echo "  proto/none: $(pct "$pn" "$(ceil pb_unpack)") of bare protobuf-c unpack," \
	"$(pct "$pn" "$(ceil lmdb_append_none)") of bare LMDB append (no sync)"
echo "  json/full:  $(pct "$jf" "$(ceil json_parse)") of bare jansson parse"
echo "  json/none:  $(pct "$jn" "$(ceil json_parse)") of bare jansson parse"
zf=$(rate zipkin-json full)
zn=$(rate zipkin-json none)
if [ "$zf" != 0 ] || [ "$zn" != 0 ]; then
	echo "  zipkin-json/full: $(pct "$zf" "$(ceil zipkin_json_parse)") of bare jansson parse" \
		"of the same Zipkin bodies (goal >= 80 %)"
	echo "  zipkin-json/none: $(pct "$zn" "$(ceil zipkin_json_parse)") of bare jansson parse" \
		"of the same Zipkin bodies (goal >= 80 %)"
fi
echo "  target: 200000 spans/s committed with full sync (proto/full reached $pf)"

if grep -q '^result name=query_' "$RESULTS"; then
	echo
	echo "=== summary: query latency, store of $QSPANS spans, single client ==="
	printf "%-30s %10s %10s %10s %8s\n" measurement "p50 ms" "p99 ms" "max ms" goal
	grep '^result name=query_' "$RESULTS" | while read -r line; do
		n=$(val "$line" name)
		case "$n" in
		*trace_by_id) goal="<= 1 ms" ;;
		*) goal="<= 20 ms" ;;
		esac
		printf "%-30s %10s %10s %10s %8s\n" "${n#query_}" "$(val "$line" p50_ms)" \
			"$(val "$line" p99_ms)" "$(val "$line" max_ms)" "$goal"
	done
fi
exit 0
