#!/usr/bin/env bash
# Every test of the project, from nothing: builds opflow and runs the Rust test
# suites (unit, golden cases, CLI end to end, properties, schema staleness).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets
