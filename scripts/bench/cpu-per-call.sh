#!/usr/bin/env bash
# falcon dev's CPU per call of a loadtest scenario: a 20 s run of
# scripts/bench/dev.sh with a CPU profile of its middle 8 s, whose samples
# divided by the calls of those seconds are the figure. The profile stays
# in OUT (default: a temporary directory) for `go tool pprof`.
#
#   scripts/bench/cpu-per-call.sh -scenario list [-transport rest]
#   FALCON_BIN=/tmp/falcon-old scripts/bench/cpu-per-call.sh -scenario list
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$(mktemp -d)}
FALCON_BIN=${FALCON_BIN:-./bin/falcon}
FALCON_BIN=$FALCON_BIN scripts/bench/dev.sh "$@" -duration 20s >"$out/run.txt" 2>&1 &
run=$!
# 9 s: falcon dev started, the threads seeded, the warm-up over.
sleep 9
curl -sf -o "$out/cpu.pprof" 'http://127.0.0.1:9100/debug/pprof/profile?seconds=8'
wait "$run"
line=$(grep -E '^[a-z-]+: [0-9]+ ok' "$out/run.txt" | head -1)
rate=$(grep -oE '[0-9]+/s' <<<"$line" | head -1 | tr -d /s)
cpu=$(go tool pprof -top -nodecount=1 "$FALCON_BIN" "$out/cpu.pprof" 2>/dev/null |
	grep -oE 'Total samples = [0-9.]+m?s' | grep -oE '[0-9.]+m?s')
awk -v cpu="$cpu" -v rate="$rate" -v line="$line" -v out="$out" 'BEGIN {
	secs = cpu ~ /ms$/ ? substr(cpu, 1, length(cpu) - 2) / 1000 : substr(cpu, 1, length(cpu) - 1)
	printf "%s\nfalcon dev: %.2f cores, %.1f µs of CPU a call (profile in %s)\n", line, secs / 8, secs / 8 / rate * 1e6, out
}'
