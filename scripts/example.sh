#!/usr/bin/env bash
# The scraping example end to end: check and plan the manifest, then
# `opflow run` builds the Prefect package and runs the flow, printing the
# merged listings. The first time, this builds opflow (the `dist` profile, as
# the wheel and `cargo install` do: a few minutes), opflow makes its own
# Python environment with Prefect (unless your Python has it) and starts a
# local Prefect server on 127.0.0.1, which it keeps for the next runs
# (`opflow server stop`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
opflow="$root/target/dist/opflow"
if [ ! -x "$opflow" ]; then
  echo "Building opflow with cargo (the first build takes a few minutes)..." >&2
fi
cargo build --locked --profile dist --manifest-path "$root/Cargo.toml"

cd "$root/examples/scraping"
"$opflow" check operations.toml
"$opflow" check operations.yaml
"$opflow" plan operations.toml
"$opflow" run operations.toml scraping --param keywords=python
