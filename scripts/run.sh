#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the ALPR system end
# to end on the embedded broker (weir-alpr run). Arguments are passed to
# `weir-alpr run` (see scripts/run.sh --help): --duration S, -n EVENTS,
# --rate N, --inject-poison N, ... Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --target weir-alpr weir_cli
exec "${WEIR_BUILD_DIR:-build}/bin/weir-alpr" --config examples/alpr/weir.yaml run "$@"
