#!/usr/bin/env bash
# The reference runs whose pictures docs/benchmarks.md shows ("Reference
# runs"): each against a fresh falcon dev (scripts/bench/dev.sh), its report
# (SVG charts, JSON) written under docs/bench/. Needs `make build`; takes
# about ten minutes on the 2-core machine.
#
#   scripts/bench/reference.sh [mix|list-rest|post-grpc]...   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-docs/bench}
METRICS=http://127.0.0.1:9100/metrics
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(mix list-rest post-grpc)
for r in "${runs[@]}"; do
	rm -rf "${OUT:?}/$r"
	case $r in
	mix) # the chat-shaped mix over gRPC at rising rates, with the server's CPU and memory
		scripts/bench/dev.sh -scenario mix -accounts 2000 -threads 500 -seed-messages 20 -mix-subscribers 200 \
			-sweep 200,400,600,800,1000 -concurrency 256 -duration 15s -report "$OUT/$r" -server-metrics "$METRICS" ;;
	list-rest) # REST ListMessages, 50 a page, at rising rates
		scripts/bench/dev.sh -scenario list -transport rest -sweep 500,1000,2000,3000,4000,5000 \
			-concurrency 256 -duration 10s -report "$OUT/$r" -server-metrics "$METRICS" ;;
	post-grpc) # gRPC PostMessage, the whole pipeline, at rising rates
		scripts/bench/dev.sh -scenario post -sweep 1000,2000,3000,4000,5000,6000 \
			-concurrency 256 -duration 10s -report "$OUT/$r" -server-metrics "$METRICS" ;;
	*) echo "unknown run $r: want mix, list-rest or post-grpc" >&2; exit 2 ;;
	esac
	# Keep the sweep, each rate's summary and its latency and CPU over
	# time; report.json holds what the other pictures show.
	find "$OUT/$r" -name report.html -delete
	find "$OUT/$r" -path "*/rate-*" -name "*.svg" ! -name latency.svg ! -name server-cpu.svg -delete
done
