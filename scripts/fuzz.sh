#!/usr/bin/env bash
# Builds weir's libFuzzer targets with clang-14 (ASan + UBSan + coverage) in
# ${WEIR_FUZZ_BUILD_DIR:-build-fuzz}, separate from the g++ build, and runs each
# target for SECONDS (default 60). SECONDS=0 only builds.
# Usage: scripts/fuzz.sh [SECONDS]
#
# Exits non-zero on any crash, leak, timeout, out-of-memory, sanitizer report
# or broken round-trip check, printing the reproducer's path. Reproduce with
# "<build-fuzz>/tests/schema/avro/fuzz/avro_decode_fuzzer <reproducer>".
# New corpus entries go to <build-fuzz>/fuzz-corpus/<target> (kept between runs,
# never into the source tree); the committed seeds are read, not written.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-60}
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
BUILD_DIR=${WEIR_FUZZ_BUILD_DIR:-build-fuzz}

# target name, directory of its binary in the build tree, seed corpus
TARGETS=(
  "avro_decode_fuzzer tests/schema/avro/fuzz tests/schema/avro/fuzz/corpus"
)

for tool in clang-14 clang++-14; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "weir fuzz: $tool not found; scripts/deps.sh installs it" >&2
    exit 1
  fi
done

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_FUZZ=ON -DWEIR_BUILD_TESTS=OFF \
    -DWEIR_BUILD_BENCH=OFF >/dev/null
fi
names=()
for t in "${TARGETS[@]}"; do
  read -r name _ _ <<<"$t"
  names+=("$name")
done
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${names[@]}"

if [ "$SECONDS_PER_TARGET" -eq 0 ]; then
  exit 0
fi

# Readable stack traces; allocator limits make any allocation sized by a
# declared length a failure.
if command -v llvm-symbolizer-14 >/dev/null 2>&1; then
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-14)}
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for t in "${TARGETS[@]}"; do
  read -r name dir seeds <<<"$t"
  binary="$BUILD_DIR/$dir/$name"
  corpus="$BUILD_DIR/fuzz-corpus/$name"
  artifacts="$BUILD_DIR/fuzz-artifacts/$name"
  log="$BUILD_DIR/fuzz-logs/$name.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "weir fuzz: $name for ${SECONDS_PER_TARGET}s (log: $log)"
  set +e
  "$binary" "$corpus" "$seeds" \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=512 -malloc_limit_mb=128 -timeout=30 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb):' "$log" |
    sed "s/^/weir fuzz: $name /" || true
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "weir fuzz: $name FAILED (exit $rc); report:" >&2
    # The sanitizer or check report, without libFuzzer's progress lines.
    grep -vE '^#[0-9]+' "$log" | tail -n 80 >&2
    reproducers=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
    if [ -z "$reproducers" ]; then
      reproducers=$(ls -1t "$artifacts"/* 2>/dev/null | head -n 1 || true)
    fi
    for r in $reproducers; do
      echo "weir fuzz: reproducer: $r" >&2
      echo "weir fuzz: reproduce with: $binary $r" >&2
    done
  fi
done
if [ "$status" -ne 0 ]; then
  echo "weir fuzz: FAILED; see the reproducers above" >&2
fi
exit "$status"
