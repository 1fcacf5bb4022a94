#!/usr/bin/env bash
# Consumer runtime benchmark: GroupRuntime (no-op handler, partition and key
# ordering) vs a bare librdkafka consume-and-commit loop on one in-process
# embedded broker, in the same run; end-to-end latency at a steady rate;
# concurrency scaling with a 1 ms handler; the dead-letter path. Prints
# Markdown (also bench/out/consume.md); the runtime's logs go to
# bench/out/consume.err.
# Usage: bench/consume.sh [weir-bench-consume arguments, e.g. --events N --rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --target weir-bench-consume >/dev/null
BIN=${WEIR_BUILD_DIR:-build}/bin
OUT=bench/out
mkdir -p "$OUT"
{
  echo "### Consumer runtime vs a bare librdkafka loop ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  "$BIN/weir-bench-consume" --events 500000 --rounds 3 --slow-events 20000 --slow-keys 1000 \
    --dlq-events 100000 --live-rate 10000 --live-seconds 3 "$@" 2>"$OUT/consume.err"
} | tee "$OUT/consume.md"
