#!/usr/bin/env bash
# Installs the Debian 12 packages weir needs to build, test and run.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  librdkafka-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libsimdjson-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  kcat python3 python3-kafka python3-confluent-kafka python3-avro python3-jsonschema python3-requests
  clang-format
  # The reference systems' stores and images: PostgreSQL (server for the
  # tests, libpq for the stores), libpng and libjpeg (DeepLens decodes uploads),
  # OpenSSL's libcrypto (DeepLens names blobs by their SHA-256).
  postgresql libpq-dev libpng-dev libjpeg-dev libssl-dev
  # Prometheus: promtool checks /metrics output and alert rules; the server
  # scrapes a running pipeline in the observability tests.
  prometheus
  # Burrow (and the ZooKeeper it needs) checks `weir lag` against the
  # reference lag evaluator in the interop tests.
  burrow zookeeper
  # scripts/fuzz.sh: clang-14 with libFuzzer and the sanitizer runtimes, and
  # llvm-symbolizer for readable reports.
  clang libclang-rt-14-dev llvm-14
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "weir: installing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "weir: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
