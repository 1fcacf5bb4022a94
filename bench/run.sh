#!/usr/bin/env bash
# Runs weir's benchmarks and prints a Markdown report (also written to
# bench/out/report.md). Same broker, same client settings, same run:
#   1. `weir produce` vs `kcat -P`: 1,000,000 JSON lines of ~200 bytes
#      through one librdkafka mock cluster, alternating runs, best and
#      median msgs/s, and the ratio weir/kcat.
#   2. bench/broker.sh: the embedded broker vs the mock cluster and the disk.
#   3. bench/publish.sh: the Publisher and HTTP ingest vs the bare client.
#   4. bench/consume.sh: the consumer runtime vs a bare librdkafka loop.
#   5. bench/metrics.sh: the Publisher and the consumer runtime with metrics
#      off vs on.
#   6. bench/alpr.sh: the ALPR system end to end (maximum rate, latency at
#      5,000 events/s) vs a bare producer and consumer on the same broker.
# Usage: bench/run.sh [--lines N] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=1000000
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --lines) LINES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
scripts/deps.sh
scripts/build.sh --target weir_cli weir-bench-mock >/dev/null
BIN=${WEIR_BUILD_DIR:-build}/bin
OUT=bench/out
mkdir -p "$OUT"
DATA="$OUT/plates-$LINES.jsonl"
[ -s "$DATA" ] || /usr/bin/python3 bench/gen_plate_lines.py "$LINES" > "$DATA"
BYTES=$(stat -c %s "$DATA")

# Identical client settings for both tools.
PROPS=(-X linger.ms=5 -X batch.size=1000000 -X batch.num.messages=10000
       -X compression.type=lz4 -X acks=all -X enable.idempotence=true
       -X queue.buffering.max.messages=500000 -X queue.buffering.max.kbytes=1048576)

coproc MOCK { exec "$BIN/weir-bench-mock" bench.plates 3; }
read -r BOOT <&"${MOCK[0]}"
if ! [[ $BOOT =~ ^[0-9.]+:[0-9]+(,[0-9.]+:[0-9]+)*$ ]]; then
  echo "weir-bench-mock printed \"$BOOT\" instead of its bootstrap servers" >&2; exit 1
fi
trap 'exec {MOCK[1]}>&-; wait' EXIT

now_ns() { date +%s%N; }
run_kcat() {
  local t0 t1; t0=$(now_ns)
  kcat -P -q -b "$BOOT" -t bench.plates "${PROPS[@]}" < "$DATA"
  t1=$(now_ns); echo $(( (t1 - t0) / 1000 ))
}
# Prints the wall time in us; appends weir's delivery latency line
# ("p50 p95 p99 max" in ms) to the file named by $1. Fails if any record
# was not delivered.
run_weir() {
  local lat=$1; shift
  local t0 t1; t0=$(now_ns)
  if ! "$BIN/weir" -b "$BOOT" "${PROPS[@]}" produce -t bench.plates "$@" < "$DATA" 2>"$OUT/weir.err"; then
    cat "$OUT/weir.err" >&2; echo "weir produce failed" >&2; return 1
  fi
  t1=$(now_ns)
  sed -n 's/.*latency p50 \([0-9.]*\) ms, p95 \([0-9.]*\) ms, p99 \([0-9.]*\) ms, max \([0-9.]*\) ms.*/\1 \2 \3 \4/p' \
    "$OUT/weir.err" >> "$lat"
  echo $(( (t1 - t0) / 1000 ))
}
declare -a K W WJ
: > "$OUT/lat-raw"; : > "$OUT/lat-json"
for r in $(seq 1 "$ROUNDS"); do
  K+=("$(run_kcat)") || exit 1
  W+=("$(run_weir "$OUT/lat-raw")") || exit 1
  WJ+=("$(run_weir "$OUT/lat-json" --format json --key-field camera_id)") || exit 1
done
# Median of each latency column over the rounds.
lat_medians() {
  for c in 1 2 3 4; do
    awk -v c="$c" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {printf "%s ", a[int((NR+1)/2)]}'
  done
}
rate() { awk -v n="$LINES" -v us="$1" 'BEGIN { printf "%.0f", n / (us / 1e6) }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mk=$(median "${K[@]}"); mw=$(median "${W[@]}"); mwj=$(median "${WJ[@]}")
{
  echo "### weir produce vs kcat -P ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "$LINES JSON lines, $BYTES bytes, one librdkafka $(pkg-config --modversion rdkafka) mock cluster (3 partitions),"
  echo "settings for both: \`${PROPS[*]}\`; median of $ROUNDS alternating rounds (wall time incl. start-up and final flush)."
  echo
  echo "| client | median msgs/s | median MB/s | runs (ms) | msgs/s ratio weir ÷ kcat |"
  echo "|---|---:|---:|---|---:|"
  for row in "kcat -P:$mk:${K[*]}" "weir produce (raw):$mw:${W[*]}" "weir produce --format json --key-field camera_id:$mwj:${WJ[*]}"; do
    IFS=: read -r name med runs <<<"$row"
    mbs=$(awk -v b="$BYTES" -v us="$med" 'BEGIN { printf "%.1f", b / (us / 1e6) / 1e6 }')
    ratio=$(awk -v a="$mk" -v b="$med" 'BEGIN { printf "%.2f", a / b }')
    ms=$(for x in $runs; do printf '%d ' $((x / 1000)); done)
    echo "| $name | $(rate "$med") | $mbs | $ms| $ratio |"
  done
  echo
  echo "weir's delivery latency (send to broker acknowledgement, per record; median over rounds, ms)."
  echo "kcat does not measure it."
  echo
  echo "| client | p50 | p95 | p99 | max |"
  echo "|---|---:|---:|---:|---:|"
  read -r a b c d <<<"$(lat_medians "$OUT/lat-raw")"
  echo "| weir produce (raw) | $a | $b | $c | $d |"
  read -r a b c d <<<"$(lat_medians "$OUT/lat-json")"
  echo "| weir produce --format json --key-field camera_id | $a | $b | $c | $d |"
} | tee "$OUT/report.md"
echo
# 2. The embedded broker vs the mock cluster and the disk.
exec {MOCK[1]}>&-; wait; trap - EXIT
bench/broker.sh
echo
# 3. The Publisher and HTTP ingest vs the bare client layer.
bench/publish.sh
echo
# 4. The consumer runtime vs a bare librdkafka consume-and-commit loop.
bench/consume.sh
echo
# 5. The Publisher and the consumer runtime with metrics off vs on.
bench/metrics.sh
echo
# 6. The ALPR system end to end vs a bare producer and consumer on one broker.
bench/alpr.sh
