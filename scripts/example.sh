#!/usr/bin/env bash
# The scraping example end to end: check and plan the manifest, then
# `opflow run` builds the Prefect package and runs the flow, printing the
# merged listings. The first time, opflow makes its own Python environment
# with Prefect (unless your Python has it) and starts a local Prefect server
# on 127.0.0.1, which it keeps for the next runs (`opflow server stop`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --locked --quiet --release --manifest-path "$root/Cargo.toml"
opflow="$root/target/release/opflow"

cd "$root/examples/scraping"
"$opflow" check operations.toml
"$opflow" check operations.yaml
"$opflow" plan operations.toml
"$opflow" run operations.toml scraping --param keywords=python
