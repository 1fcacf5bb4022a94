#!/usr/bin/env bash
# Configures (once) and builds weir into ${WEIR_BUILD_DIR:-build} with Ninja.
# Extra arguments are passed to `cmake --build` (e.g. --target weir_cli).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${WEIR_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${WEIR_BUILD_TYPE:-RelWithDebInfo}
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" "$@"
