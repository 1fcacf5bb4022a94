#!/usr/bin/env bash
# ALPR end to end (issue 7's benchmark): the whole system of examples/alpr —
# camera simulator and edge processor → Publisher (Avro) → four consumer
# groups writing SQLite (storage, alerts, FTS5 search, camera counts) plus the
# DLQ monitor and the metrics consumer — on one `weir broker` process, against
# a bare librdkafka producer and consumer moving the same number of records of
# the same size through the same broker in the same run.
#   1. maximum sustained rate: N events as fast as they go; events/s = events
#      published / time until every group has finished them (drained);
#   2. latency at fixed rates (default 5,000 and 1,000 events/s, 20 s each):
#      p50/p95/p99 from published_at at the edge to the row stored by the
#      storage group (the ALPR plan asks > 1,000 events/s with p95 < 1 s).
# Prints Markdown (also bench/out/alpr.md).
# Usage: bench/alpr.sh [--events N] [--rates "R1 R2"] [--seconds S] [--rounds K] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=200000
RATES="5000 1000"
SECONDS_AT_RATE=20
ROUNDS=2
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --rates) RATES=$2; shift 2 ;;
    --seconds) SECONDS_AT_RATE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "bench/alpr.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$BUILD" = 1 ]; then
  scripts/deps.sh
  scripts/build.sh --target weir_cli weir-alpr weir-bench-rdkafka >/dev/null
fi
BIN=${WEIR_BUILD_DIR:-build}/bin
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/weir-bench-alpr.XXXXXX)
BROKER_PID=
cleanup() {
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

start_broker() {
  rm -rf "$WORK/broker"
  coproc BROKER { exec "$BIN/weir" broker --data "$WORK/broker" --listen 127.0.0.1:0 \
    --auto-create-topics --num-partitions 3 2>"$WORK/broker.err"; }
  BROKER_PID=$BROKER_PID
  read -r BOOT <&"${BROKER[0]}"
  "$BIN/weir" -c examples/alpr/weir.yaml -b "$BOOT" topics apply >/dev/null
}
stop_broker() {
  kill "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=
}

# weir-alpr on the broker; prints its --json line.
alpr() {
  rm -rf "$WORK/data"
  "$BIN/weir-alpr" --config examples/alpr/weir.yaml --data "$WORK/data" run -b "$BOOT" -q --json --drain-timeout 900 \
    --metrics-listen 127.0.0.1:0 --dlq-listen 127.0.0.1:0 --metrics-consumer-listen 127.0.0.1:0 \
    "$@" 2>>"$WORK/alpr.err" | tail -n 1
}

field() { /usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$1" "$2"; }

max_rows=()
lat_rows=()
for round in $(seq 1 "$ROUNDS"); do
  start_broker
  J=$(alpr -n "$EVENTS" --rate 0)
  if [ "$(field "$J" "d['drained'] and not d['problems']")" != True ]; then
    echo "bench/alpr.sh: the ALPR run did not drain or failed its checks: $J" >&2; exit 1
  fi
  events=$(field "$J" "d['source']['plate_events'] + d['source']['vehicle_events']")
  secs=$(field "$J" "round(d['uptime_s'], 1)")
  rate=$(field "$J" "round($events / d['uptime_s'])")
  # The baseline (bench.raw, auto-created with 3 partitions): the same number of records of a PlateEvent's Avro size
  # (~330 bytes), produced then consumed by one bare librdkafka client each.
  P=$("$BIN/weir-bench-rdkafka" produce "$BOOT" bench.raw "$events" 330 partitions=3 \
      linger.ms=5 batch.num.messages=10000 acks=all enable.idempotence=true)
  C=$("$BIN/weir-bench-rdkafka" consume "$BOOT" bench.raw "$events" 3)
  praw=$(sed -E 's/.*msgs_per_s=([0-9.]+).*/\1/' <<<"$P")
  craw=$(sed -E 's/.*msgs_per_s=([0-9.]+).*/\1/' <<<"$C")
  max_rows+=("| $round | $events | $secs | **$rate** | ${praw%.*} | ${craw%.*} | $(field "$J" "round($rate / $praw, 4)") | $(field "$J" "d['latency_ms']['p50']") / $(field "$J" "d['latency_ms']['p95']") / $(field "$J" "d['latency_ms']['p99']") |")
  stop_broker

  for RATE in $RATES; do
    start_broker
    J=$(alpr --rate "$RATE" --duration "$SECONDS_AT_RATE")
    if [ "$(field "$J" "d['drained'] and not d['problems']")" != True ]; then
      echo "bench/alpr.sh: the ALPR run at $RATE/s did not drain or failed its checks: $J" >&2; exit 1
    fi
    events=$(field "$J" "d['source']['plate_events'] + d['source']['vehicle_events']")
    lat_rows+=("| $round | $RATE | $events | $(field "$J" "d['latency_ms']['samples']") | $(field "$J" "d['latency_ms']['p50']") | $(field "$J" "d['latency_ms']['p95']") | $(field "$J" "d['latency_ms']['p99']") | $(field "$J" "d['latency_ms']['max']") |")
    stop_broker
  done
done

{
  echo "### ALPR end to end ($(date -u +%Y-%m-%d), $(nproc) cores, one \`weir broker\`)"
  echo
  echo "Maximum sustained rate: $EVENTS events (plate + vehicle) as fast as the source goes; the time runs"
  echo "until every group (storage, alerts, search, counts, DLQ monitor, metrics consumer) has finished them."
  echo "Baseline: a bare librdkafka producer, then consumer, moving as many 330-byte records through the same broker."
  echo
  echo "| round | events | seconds | ALPR events/s | raw produce msgs/s | raw consume msgs/s | ALPR / raw produce | latency p50/p95/p99 ms (queued) |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${max_rows[@]}"
  echo
  echo "At fixed rates for $SECONDS_AT_RATE s each: end-to-end latency, published_at at the edge → stored (ms; published_at has ms resolution)."
  echo
  echo "| round | rate /s | events | stored | p50 | p95 | p99 | max |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${lat_rows[@]}"
} | tee "$OUT/alpr.md"
