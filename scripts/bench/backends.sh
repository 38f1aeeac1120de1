#!/usr/bin/env bash
# The figures of docs/benchmarks.md "Embedded and real servers, side by
# side": the same commands against the embedded broker (falcon broker, kfake)
# and real Apache Kafka, and ListMessages through the real HBase Thrift2
# gateway, falcon store and Pebble. Needs `make build` and `make real-up`.
# Output: one file per measurement under $OUT (default /tmp/falcon-bench).
#
#   scripts/bench/backends.sh [kfake|kafka|list|takeover]...   (default: all)
set -euo pipefail
# The Go toolchain of the project (go.work): fetched through the module
# proxy when the machine's is older.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
cd "$(dirname "$0")/../.."
B=./bin
OUT=${OUT:-/tmp/falcon-bench}
REAL_KAFKA=127.0.0.1:${KAFKA_PORT:-29092}
REAL_HBASE=127.0.0.1:${HBASE_THRIFT_PORT:-29090}
EMBEDDED_KAFKA=127.0.0.1:39092
TAKEOVER_EVENTS=${TAKEOVER_EVENTS:-1000000}
mkdir -p "$OUT"
WORK=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

bg() { # bg LOG CMD...: start CMD in the background, logging to LOG
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	pids+=($!)
	LAST=$!
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
ready() { for _ in $(seq 1 600); do curl -sf "http://$1/readyz" >/dev/null && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }
say() { echo "== $*" >&2; }

# pipeline KAFKA NAME: write-api alone, then the updater and the forwarder
# each working off the backlog that left, from a group of their own.
pipeline() {
	local kafka=$1 name=$2 topic=bench_${2}_$RANDOM
	say "$name: PostMessage through write-api alone"
	bg "$WORK/w.log" $B/write-api --auth dev --metrics-addr 127.0.0.1:0 --kafka-brokers "$kafka" --topic "$topic" --write-group "$topic-w" \
		--grpc-addr 127.0.0.1:41191 --http-addr 127.0.0.1:41181 --log-level warn
	local w=$LAST
	ready 127.0.0.1:41181
	$B/loadtest -write-addr 127.0.0.1:41191 -read-addr 127.0.0.1:41191 -scenario post -duration 15s | tee "$OUT/$name-post.txt"
	$B/loadtest -write-addr 127.0.0.1:41191 -read-addr 127.0.0.1:41191 -scenario post -duration 15s -concurrency 256 | tee "$OUT/$name-post-256.txt"
	say "$name: filling the backlog for the consumers (30 s more of posts)"
	$B/loadtest -write-addr 127.0.0.1:41191 -read-addr 127.0.0.1:41191 -scenario post -duration 30s -warmup 0s -concurrency 256 >/dev/null
	stop "$w"

	say "$name: read-model-updater draining the backlog into Pebble"
	bg "$WORK/u.log" $B/read-model-updater --kafka-brokers "$kafka" --topic "$topic" --group "$topic-u" \
		--store "pebble://$WORK/store-$name" --http-addr 127.0.0.1:41182 --log-level warn
	local u=$LAST
	$B/loadtest -scenario drain -metrics-url http://127.0.0.1:41182/metrics -metric falcon_updater_events_applied_total | tee "$OUT/$name-updater.txt"
	stop "$u"

	say "$name: sparrow-forwarder draining the backlog into legacy-sim"
	bg "$WORK/l.log" $B/falcon legacy-sim --addr 127.0.0.1:41190 --out "$WORK/received-$name.jsonl"
	local l=$LAST
	bg "$WORK/f.log" $B/sparrow-forwarder --kafka-brokers "$kafka" --topic "$topic" --group "$topic-f" \
		--legacy-url http://127.0.0.1:41190/events --http-addr 127.0.0.1:41184 --log-level warn
	local f=$LAST
	$B/loadtest -scenario drain -metrics-url http://127.0.0.1:41184/metrics -metric falcon_forwarder_delivered_total | tee "$OUT/$name-forwarder.txt"
	stop "$f"
	stop "$l"
}

# takeover KAFKA NAME: one partition filled with TAKEOVER_EVENTS events, then
# write-api restarted with and without snapshots; "partition loaded ... took".
takeover() {
	local kafka=$1 name=$2 topic=bench_tk_${2}_$RANDOM
	say "$name: filling one partition with $TAKEOVER_EVENTS events"
	bg "$WORK/tk.log" $B/write-api --auth dev --metrics-addr 127.0.0.1:0 --kafka-brokers "$kafka" --topic "$topic" --write-group "$topic-w" --partitions 1 \
		--grpc-addr 127.0.0.1:41291 --http-addr 127.0.0.1:41281 --log-level warn
	local w=$LAST
	ready 127.0.0.1:41281
	$B/loadtest -write-addr 127.0.0.1:41291 -read-addr 127.0.0.1:41291 -scenario post -warmup 0s -conns 6 -concurrency 256 \
		-duration "${TAKEOVER_FILL:-600s}" -max-ops "$TAKEOVER_EVENTS" >"$OUT/$name-takeover-fill.txt"
	stop "$w"
	for every in 50000 0; do
		say "$name: takeover with --snapshot-every $every"
		bg "$WORK/tk-$every.log" $B/write-api --auth dev --metrics-addr 127.0.0.1:0 --kafka-brokers "$kafka" --topic "$topic" --write-group "$topic-w" --partitions 1 \
			--snapshot-every "$every" --grpc-addr 127.0.0.1:41291 --http-addr 127.0.0.1:41281 --log-level info
		w=$LAST
		ready 127.0.0.1:41281
		grep -h "partition loaded" "$WORK/tk-$every.log" | tee "$OUT/$name-takeover-$every.txt"
		stop "$w"
	done
}

# lists STORE_URL NAME: write-api, an updater and read-api over STORE_URL
# (on the embedded broker), then ListMessages pages of 50.
lists() {
	local store=$1 name=$2 topic=bench_ls_${2}_$RANDOM
	say "ListMessages through $name"
	$B/falcon store-init --store "$store" >/dev/null
	bg "$WORK/lw.log" $B/write-api --auth dev --metrics-addr 127.0.0.1:0 --kafka-brokers "$EMBEDDED_KAFKA" --topic "$topic" --write-group "$topic-w" \
		--grpc-addr 127.0.0.1:41391 --http-addr 127.0.0.1:41381 --log-level warn
	local w=$LAST
	bg "$WORK/lu.log" $B/read-model-updater --kafka-brokers "$EMBEDDED_KAFKA" --topic "$topic" --group "$topic-u" \
		--store "$store" --http-addr 127.0.0.1:41382 --log-level warn
	local u=$LAST
	bg "$WORK/lr.log" $B/read-api --auth dev --metrics-addr 127.0.0.1:0 --store "$store" --grpc-addr 127.0.0.1:41392 --http-addr 127.0.0.1:41383 --log-level warn
	local r=$LAST
	ready 127.0.0.1:41381 && ready 127.0.0.1:41382 && ready 127.0.0.1:41383
	$B/loadtest -write-addr 127.0.0.1:41391 -read-addr 127.0.0.1:41392 -scenario list -duration 15s | tee "$OUT/list-$name.txt"
	stop "$r"
	stop "$u"
	stop "$w"
}

what=${*:-kfake kafka list takeover}
bg "$WORK/broker.log" $B/falcon broker --data-dir "$WORK/kafka" --kafka-addr "$EMBEDDED_KAFKA"
$B/falcon probe --kafka "$EMBEDDED_KAFKA" >/dev/null
$B/falcon probe --kafka "$REAL_KAFKA" --hbase "$REAL_HBASE" --timeout 10s >/dev/null || { echo "run make real-up first" >&2; exit 1; }
for w in $what; do
	case $w in
	kfake) pipeline "$EMBEDDED_KAFKA" kfake ;;
	kafka) pipeline "$REAL_KAFKA" kafka ;;
	takeover) takeover "$EMBEDDED_KAFKA" kfake; takeover "$REAL_KAFKA" kafka ;;
	list)
		bg "$WORK/store.log" $B/falcon store --data-dir "$WORK/fstore" --addr 127.0.0.1:41095
		fs=$LAST
		$B/falcon probe --hbase 127.0.0.1:41095 >/dev/null
		lists "hbase+thrift://127.0.0.1:41095?namespace=bench" falcon-store
		stop "$fs"
		lists "hbase+thrift://$REAL_HBASE?namespace=bench_$RANDOM" hbase
		say "ListMessages through Pebble (falcon dev)"
		bg "$WORK/dev.log" $B/falcon dev --data-dir "$WORK/dev" --http-addr 127.0.0.1:41480 --grpc-addr 127.0.0.1:41490 --kafka-addr 127.0.0.1:41492 --log-level warn
		d=$LAST
		ready 127.0.0.1:41480
		$B/loadtest -write-addr 127.0.0.1:41490 -read-addr 127.0.0.1:41490 -scenario list -duration 15s | tee "$OUT/list-pebble.txt"
		stop "$d"
		;;
	*) echo "unknown: $w" >&2; exit 2 ;;
	esac
done
