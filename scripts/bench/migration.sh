#!/usr/bin/env bash
# The migration's reference benchmark (docs/benchmarks.md, "Migration"), on
# loopback, stopping by itself:
#
#   1. a MariaDB of its own, seeded with MESSAGES messages (falcon migrate seed);
#   2. bulk into the event log with only the broker and write-api running;
#   3. follow while the legacy database takes LEGACY_RATE writes a second,
#      still with only the broker and write-api;
#   4. the read model catching up afterwards (read-model-updater into Pebble,
#      or with STORE=thrift through falcon store, HBase's Thrift2 interface);
#   5. verify through read-api: the bulk run's rows and follow's.
#
# usage: scripts/bench/migration.sh            (MESSAGES=10000000 by default)
#        MESSAGES=1000000 ROOMS=20000 scripts/bench/migration.sh
#        STOP_AFTER=follow scripts/bench/migration.sh   (phases 1-3 only)
set -euo pipefail

MESSAGES=${MESSAGES:-10000000}
ROOMS=${ROOMS:-$((MESSAGES / 50))}
ACCOUNTS=${ACCOUNTS:-$((ROOMS * 2))}
WORKERS=${WORKERS:-64}
LEGACY_RATE=${LEGACY_RATE:-1000}
FOLLOW_SECONDS=${FOLLOW_SECONDS:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-$(mktemp -d /tmp/falcon-migration-bench.XXXXXX)}
bin=$work/bin
mkdir -p "$bin"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	LEGACY_DB_DIR=$work/legacy-db LEGACY_DB_PORT=$db_port "$root/scripts/legacy/db.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
db_port=$(free_port)
kafka=127.0.0.1:$(free_port)
write=127.0.0.1:$(free_port)
store=127.0.0.1:$(free_port)
read=127.0.0.1:$(free_port)
metrics=127.0.0.1:$(free_port)

echo "== building into $bin"
(cd "$root/services/falcon" && go build -o "$bin/falcon" .)
(cd "$root/services/write-api" && go build -o "$bin/write-api" .)
(cd "$root/services/read-model-updater" && go build -o "$bin/read-model-updater" .)
(cd "$root/services/read-api" && go build -o "$bin/read-api" .)
(cd "$root/loadtest" && go build -o "$bin/loadtest" .)

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
dsn=$(LEGACY_DB_BUFFER_POOL=${LEGACY_DB_BUFFER_POOL:-4G} LEGACY_DB_DIR=$work/legacy-db LEGACY_DB_PORT=$db_port "$root/scripts/legacy/db.sh" up | tail -1)
echo "== seeding $MESSAGES messages, $ROOMS rooms, $ACCOUNTS accounts"
"$bin/falcon" migrate seed --legacy-dsn "$dsn" --messages "$MESSAGES" --rooms "$ROOMS" --accounts "$ACCOUNTS" --log-level warn

"$bin/falcon" broker --data-dir "$work/kafka" --kafka-addr "$kafka" --log-level warn &
pids+=($!)
"$bin/falcon" probe --kafka "$kafka" >/dev/null
"$bin/write-api" --kafka-brokers "$kafka" --auth dev --import-accounts migration --grpc-addr "$write" \
	--http-addr 127.0.0.1:0 --metrics-addr "$metrics" --log-level warn ${WRITE_API_FLAGS:-} &
pids+=($!)
until curl -sf "http://$metrics/readyz" >/dev/null; do sleep 0.5; done

# snapshots: write-api's snapshots so far, by kind: how many, the seconds
# they took and how many took over 250 ms (its partition's writer takes no
# command meanwhile).
snapshots() {
	curl -s "http://$metrics/metrics" | awk '
		/^falcon_write_snapshot_duration_seconds_count/ {match($0, /kind="[a-z]*"/); k = substr($0, RSTART + 6, RLENGTH - 7); n[k] = $2}
		/^falcon_write_snapshot_duration_seconds_sum/ {match($0, /kind="[a-z]*"/); k = substr($0, RSTART + 6, RLENGTH - 7); s[k] = $2}
		/^falcon_write_snapshot_duration_seconds_bucket.*le="0.256"/ {match($0, /kind="[a-z]*"/); k = substr($0, RSTART + 6, RLENGTH - 7); b[k] = $2}
		END {for (k in n) printf "%s %d %.3f %d\n", k, n[k], s[k], n[k] - b[k]}' | sort
}
# snapshots_between BEFORE AFTER: the difference of two snapshots outputs.
snapshots_between() {
	join <(echo "$1") <(echo "$2") | awk '{printf "%s: %d in %.2f s, %d over 256 ms; ", $1, $5 - $2, $6 - $3, $7 - $4} END {print ""}'
}

# cpu PID: the CPU seconds (user and system) the process has used.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
mariadb=$(cat "$work/legacy-db/mysqld.pid")
echo "== bulk: broker and write-api only"
before="$(cpu "${pids[0]}") $(cpu "${pids[1]}") $(cpu "$mariadb")"
snaps_before=$(snapshots)
/usr/bin/time -f "%U %S" -o "$work/bulk.cpu" "$bin/falcon" migrate bulk --legacy-dsn "$dsn" --write-api-addr "$write" --workers "$WORKERS" \
	--checkpoint "$work/migrate/bulk.json" --log-level warn | tee "$work/bulk.txt"
# CPU per process during the bulk run: steadier than its rate on a shared
# machine (steal and other tenants slow the rate, not the work).
read -r b_broker b_write b_db <<<"$before"
read -r t_user t_sys <"$work/bulk.cpu"
echo "bulk CPU seconds: broker $(echo "$(cpu "${pids[0]}") - $b_broker" | bc), write-api $(echo "$(cpu "${pids[1]}") - $b_write" | bc), bulk tool $(echo "$t_user + $t_sys" | bc), MariaDB $(echo "$(cpu "$mariadb") - $b_db" | bc)"
snaps_bulk=$(snapshots)
echo "snapshots during bulk: $(snapshots_between "$snaps_before" "$snaps_bulk")"
echo "write-api RSS after bulk: $(($(awk '/VmRSS/ {print $2}' /proc/"${pids[1]}"/status) / 1024)) MiB"

echo "== follow at $LEGACY_RATE legacy writes a second for ${FOLLOW_SECONDS}s"
"$bin/falcon" migrate follow --legacy-dsn "$dsn" --write-api-addr "$write" --bulk-checkpoint "$work/migrate/bulk.json" \
	--checkpoint "$work/migrate/follow.json" --log-level warn > "$work/follow.txt" 2>&1 &
follow=$!
sleep 5
"$bin/loadtest" -scenario legacy -legacy-dsn "$dsn" -legacy-rate "$LEGACY_RATE" -duration "${FOLLOW_SECONDS}s"
sleep 3
kill -TERM $follow
wait $follow || true
cat "$work/follow.txt"
echo "snapshots during follow: $(snapshots_between "$snaps_bulk" "$(snapshots)")"
if [ "${STOP_AFTER:-}" = follow ]; then
	echo "== stopped after follow; files in $work"
	exit 0
fi
follow_events=$(grep -o '([0-9]* events)' "$work/follow.txt" | tr -dc 0-9)
events=$(( $(grep -o '[0-9]* events appended' "$work/bulk.txt" | cut -d' ' -f1) + follow_events ))
echo "== the read model catching up ($events events), into Pebble (STORE=thrift: through falcon store)"
store_url=pebble://$work/read-store
if [ "${STORE:-pebble}" = thrift ]; then
	"$bin/falcon" store --data-dir "$work/store" --addr "$store" --log-level warn &
	pids+=($!)
	"$bin/falcon" probe --hbase "$store" >/dev/null
	store_url="hbase+thrift://$store?pool=32"
	"$bin/falcon" store-init --store "$store_url" >/dev/null
fi
umetrics=127.0.0.1:$(free_port)
start=$(date +%s.%N)
"$bin/read-model-updater" --kafka-brokers "$kafka" --store "$store_url" --http-addr "$umetrics" --log-level warn &
updater=$!
applied() { curl -s "http://$umetrics/metrics" | awk '/^falcon_updater_events_(applied|skipped)_total/ {s += $2} END {printf "%d", s}'; }
until [ "$(applied)" -ge "$events" ]; do sleep 1; done
took=$(echo "$(date +%s.%N) - $start" | bc)
echo "read model: $events events in ${took}s ($(echo "$events / $took" | bc) events/s)"
# Pebble is one process's: the updater leaves it to read-api.
kill -TERM $updater
wait $updater || true

echo "== verify through read-api"
"$bin/read-api" --kafka-brokers "$kafka" --store "$store_url" --auth dev --audit-accounts migration \
	--grpc-addr "$read" --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --log-level warn &
pids+=($!)
until (echo >"/dev/tcp/${read%:*}/${read#*:}") 2>/dev/null; do sleep 0.2; done
time "$bin/falcon" migrate verify --legacy-dsn "$dsn" --read-api-addr "$read" --workers 16 --report "$work/migrate/verify" --log-level warn

echo "== done; files in $work"
