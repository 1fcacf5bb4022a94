#!/usr/bin/env bash
# Publisher benchmark: the Publisher (JSON in → validate → Avro → produce) vs
# the bare client layer producing the same pre-encoded bytes, and HTTP ingest
# with NDJSON batches, on one embedded broker in the same run; plus
# validate+encode per core. Prints Markdown (also bench/out/publish.md).
# Usage: bench/publish.sh [--events N] [--rounds R] [--batch B] [--http-clients C]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --target weir-bench-publish >/dev/null
BIN=${WEIR_BUILD_DIR:-build}/bin
OUT=bench/out
mkdir -p "$OUT"
{
  echo "### Publisher vs the bare client layer ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  "$BIN/weir-bench-publish" --schema examples/alpr/schemas/plate_event.avsc \
    --sample examples/alpr/schemas/samples/PlateEvent.json --events 300000 --rounds 3 \
    --batch 1000 --http-clients 8 "$@" 2>"$OUT/publish.err"
} | tee "$OUT/publish.md"
