#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test, then
# runs each libFuzzer target for a bounded time (scripts/fuzz.sh).
# Usage: scripts/test.sh [ctest arguments...]   e.g. scripts/test.sh -L unit
# WEIR_FUZZ_SECONDS: seconds per fuzz target (default 60; 0 skips fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
(cd "${WEIR_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)" "$@")
fuzz_seconds=${WEIR_FUZZ_SECONDS:-60}
if [ "$fuzz_seconds" != 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
