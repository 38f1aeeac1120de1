#!/usr/bin/env bash
# One loadtest run against a fresh `falcon dev` (empty data directory,
# default ports, profiles on its admin port 127.0.0.1:9100), stopped after
# the run: the figures of docs/benchmarks.md that say "scripts/bench/dev.sh".
# Needs `make build`. FALCON_BIN picks another build to compare with.
#
#   scripts/bench/dev.sh -scenario threads -threads 50 -duration 15s
set -euo pipefail
cd "$(dirname "$0")/../.."
FALCON_BIN=${FALCON_BIN:-./bin/falcon}
DATA=$(mktemp -d)
"$FALCON_BIN" dev --data-dir "$DATA/dev" --log-level warn --pprof >"$DATA/falcon.log" 2>&1 &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null || true
	# The store must be closed before its directory goes.
	wait "$pid" 2>/dev/null || true
	rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 200); do
	curl -sf http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { cat "$DATA/falcon.log"; exit 1; }
	sleep 0.1
done
./bin/loadtest "$@"
