#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the ALPR flow.
# Arguments are passed to the ALPR program (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --target weir-alpr weir_cli
exec "${WEIR_BUILD_DIR:-build}/bin/weir-alpr" --config examples/alpr/weir.yaml "$@"
