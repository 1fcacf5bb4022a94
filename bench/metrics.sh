#!/usr/bin/env bash
# Metrics overhead benchmark (issue 6): the Publisher and the consumer
# runtime without and with metrics (an observe::Registry, prefix "weir_",
# rendered once per second by a background thread, as a Prometheus scrape
# would), alternating off/on for R rounds in the same run. Each side runs in
# its own program against that program's one in-process embedded broker, as
# bench/publish.sh and bench/consume.sh do: the `metrics` section of
# weir-bench-publish and of weir-bench-consume. Per side: median events/s
# off and on, ratio on ÷ off, overhead (1 − ratio) × 100 %, every run, CPU
# per event and p50/p95/p99 latency. Prints Markdown (also
# bench/out/metrics.md); progress and logs go to bench/out/metrics-*.err.
# Usage: bench/metrics.sh [--rounds R] [--publish-events N] [--consume-events N]
#                         [--live-seconds S] [--no-build]
# --no-build uses the binaries already in ${WEIR_BUILD_DIR:-build}/bin, e.g.
# to measure under a lock that keeps builds off the machine meanwhile:
#   scripts/build.sh --target weir-bench-publish weir-bench-consume
#   flock /tmp/weir-build.lock bench/metrics.sh --no-build
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=5
PUBLISH_EVENTS=1000000   # ~8 s per Publisher run here
# ~3-6 s per consumer runtime read here. Not more: this VM reclaims cold page
# cache (DAMON), and a topic much larger than this is partly read back from
# disk, at a third of the rate and with more noise.
CONSUME_EVENTS=1500000
LIVE_SECONDS=3
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --publish-events) PUBLISH_EVENTS=$2; shift 2 ;;
    --consume-events) CONSUME_EVENTS=$2; shift 2 ;;
    --live-seconds) LIVE_SECONDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$BUILD" = 1 ]; then
  scripts/deps.sh
  scripts/build.sh --target weir-bench-publish weir-bench-consume >/dev/null
fi
BIN=${WEIR_BUILD_DIR:-build}/bin
OUT=bench/out
mkdir -p "$OUT"
PUBLISH=("$BIN/weir-bench-publish" --schema examples/alpr/schemas/plate_event.avsc
         --sample examples/alpr/schemas/samples/PlateEvent.json --sections metrics
         --events "$PUBLISH_EVENTS" --rounds "$ROUNDS")
CONSUME=("$BIN/weir-bench-consume" --sections metrics --events "$CONSUME_EVENTS"
         --rounds "$ROUNDS" --live-rate 10000 --live-seconds "$LIVE_SECONDS")
{
  echo "### Metrics on vs off ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Commands: \`${PUBLISH[*]}\` and \`${CONSUME[*]}\`."
  echo
  "${PUBLISH[@]}" 2>"$OUT/metrics-publish.err"
  "${CONSUME[@]}" 2>"$OUT/metrics-consume.err"
} | tee "$OUT/metrics.md"
