#!/usr/bin/env bash
# Crash soak: SIGKILL `ank serve` while three clients publish, N times
# (default 200), then check that nothing acknowledged was lost and that every
# checkpoint ever served is consistent with the final log.
# Usage: bench/crash-soak.sh [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/.."
ANK_CRASH_CYCLES=${1:-200} cargo test --release -p ank --test all crash -- --nocapture
