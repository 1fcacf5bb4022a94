#!/usr/bin/env bash
# Broker benchmark: weir's embedded broker (durable, with and without fsync)
# vs librdkafka's mock cluster (memory only), same bare librdkafka client
# loop (bench/rdkafka_loop.cc), same settings, same run; plus the disk's
# sequential write bandwidth as the physical limit. Prints Markdown (also
# written to bench/out/broker.md).
# Usage: bench/broker.sh [--small N] [--large N]
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=1000000   # 200-byte records
LARGE=40000     # 16 KiB records ("large batches": 1 MB batches of 61 records)
CONSUME=60000   # 12 MB spread evenly: the mock keeps only 5 MiB per partition
while [ $# -gt 0 ]; do
  case "$1" in
    --small) SMALL=$2; shift 2 ;;
    --large) LARGE=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
scripts/build.sh --target weir_cli weir-bench-mock weir-bench-rdkafka >/dev/null
BIN=${WEIR_BUILD_DIR:-build}/bin
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weir-bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

PROPS=(linger.ms=5 batch.size=1000000 batch.num.messages=10000 acks=all enable.idempotence=true
       compression.type=none queue.buffering.max.messages=500000 queue.buffering.max.kbytes=1048576)

# The disk: 1 GiB sequential write, fdatasync at the end.
DD=$(dd if=/dev/zero of="$WORK/dd.bin" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1)
DISK_MBS=$(awk '{for (i=1;i<=NF;i++) if ($i ~ /^[0-9.]+$/ && $(i+1) ~ /^[MG]B\/s$/) { v=$i; if ($(i+1)=="GB/s") v*=1000; print v } }' <<<"$DD")
rm -f "$WORK/dd.bin"

start_mock() {
  coproc MOCKP { exec "$BIN/weir-bench-mock" "$1" 3; }
  read -r BOOT <&"${MOCKP[0]}"
  PIDS+=("$MOCKP_PID")
}
start_broker() {  # $1 data dir, rest: extra flags
  local dir=$1; shift
  coproc BROKERP { exec "$BIN/weir" broker --data "$dir" --listen 127.0.0.1:0 --auto-create-topics --num-partitions 3 "$@"; }
  read -r BOOT <&"${BROKERP[0]}"
  PIDS+=("$BROKERP_PID")
}
stop_last() { local p=${PIDS[-1]}; kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; unset 'PIDS[-1]'; }

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
declare -A R
run_target() {  # $1 label, $2 bootstrap
  local label=$1 boot=$2
  # Topics: created by weir-bench-mock, auto-created (3 partitions) by the broker.
  sync
  R[$label.small]=$("$BIN/weir-bench-rdkafka" produce "$boot" bench.small "$SMALL" 200 "${PROPS[@]}")
  # Large: 3 rounds (the page cache's writeback makes single runs noisy),
  # each after a sync so that no target inherits another's dirty pages;
  # the round with the median MB/s is reported.
  local runs=()
  for r in 1 2 3; do
    sync
    runs+=("$("$BIN/weir-bench-rdkafka" produce "$boot" bench.large "$LARGE" 16384 "${PROPS[@]}")")
  done
  R[$label.large]=$(printf '%s\n' "${runs[@]}" | sort -t= -k3 -n | sed -n 2p)
  R[$label.large_all]=$(for x in "${runs[@]}"; do field mb_per_s "$x"; done | tr '\n' ' ')
  "$BIN/weir-bench-rdkafka" produce "$boot" bench.consume "$CONSUME" 200 "${PROPS[@]}" partitions=3 >/dev/null
  R[$label.consume]=$("$BIN/weir-bench-rdkafka" consume "$boot" bench.consume "$CONSUME" 3 fetch.wait.max.ms=100 passes=10)
}

start_mock bench.small,bench.large,bench.consume; BOOT_MOCK=$BOOT
run_target mock "$BOOT_MOCK"; stop_last
start_broker "$WORK/broker";       run_target broker "$BOOT"; stop_last
start_broker "$WORK/broker-fsync" --fsync; run_target fsync "$BOOT"; stop_last

row() {  # label name
  local s=${R[$1.small]} l=${R[$1.large]} c=${R[$1.consume]}
  echo "| $2 | $(field msgs_per_s "$s") | $(field p50_ms "$s") | $(field p95_ms "$s") | $(field p99_ms "$s") | $(field mb_per_s "$l") | $(field p99_ms "$l") | $(field msgs_per_s "$c") |"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
  echo "### Embedded broker vs librdkafka mock cluster ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Client: bare librdkafka $(pkg-config --modversion rdkafka) loop (bench/rdkafka_loop.cc), same settings"
  echo "for every target: \`${PROPS[*]}\`. 3 partitions. Produce latency = rd_kafka_producev() to delivery report."
  echo "Small: $SMALL records of 200 B. Large: $LARGE records of 16 KiB. Consume: $CONSUME records of 200 B (3 partitions, round robin) from the beginning, read 10 times over, timed from the first record."
  echo
  echo "| target | small msgs/s | p50 ms | p95 ms | p99 ms | large MB/s | large p99 ms | consume msgs/s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  row mock "librdkafka mock cluster (memory only)"
  row broker "weir broker (write before ack; survives kill -9)"
  row fsync "weir broker --fsync (fdatasync before ack; survives power loss)"
  echo
  echo "Large runs (MB/s, median reported): mock ${R[mock.large_all]}; broker ${R[broker.large_all]}; broker --fsync ${R[fsync.large_all]}."
  echo
  echo "Disk sequential write (dd 1 GiB, conv=fdatasync): **$DISK_MBS MB/s**."
  echo
  echo "| ratio | value |"
  echo "|---|---:|"
  echo "| small msgs/s, broker ÷ mock | $(ratio "$(field msgs_per_s "${R[broker.small]}")" "$(field msgs_per_s "${R[mock.small]}")") |"
  echo "| large MB/s, broker ÷ mock | $(ratio "$(field mb_per_s "${R[broker.large]}")" "$(field mb_per_s "${R[mock.large]}")") |"
  echo "| consume msgs/s, broker ÷ mock | $(ratio "$(field msgs_per_s "${R[broker.consume]}")" "$(field msgs_per_s "${R[mock.consume]}")") |"
  echo "| large MB/s, broker ÷ disk | $(ratio "$(field mb_per_s "${R[broker.large]}")" "$DISK_MBS") |"
  echo "| large MB/s, broker --fsync ÷ disk | $(ratio "$(field mb_per_s "${R[fsync.large]}")" "$DISK_MBS") |"
} | tee "$OUT/broker.md"
