#!/usr/bin/env bash
# Smoke-runs every fuzz target for a short time (default 20 s each).
# Usage: fuzz/smoke.sh [SECONDS]. Installs cargo-fuzz if it is missing.
# The stable toolchain is used with RUSTC_BOOTSTRAP=1 for the sanitizer flags.
set -euo pipefail
secs=${1:-20}
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
for t in $(cargo fuzz list); do
  echo "== $t (${secs}s)"
  cargo fuzz run "$t" -- -max_total_time="$secs" -max_len=4096 2>&1 | tail -n 3
done
echo "all fuzz targets ran without a crash"
