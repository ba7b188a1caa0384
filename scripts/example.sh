#!/usr/bin/env bash
# The scraping example, end to end as far as opflow goes today: check both
# manifests, show the plan and draw the graph.
set -euo pipefail
cd "$(dirname "$0")/../examples/scraping"
cargo build --locked --quiet --release
opflow=../../target/release/opflow
"$opflow" check operations.toml
"$opflow" check operations.yaml
"$opflow" plan operations.toml
"$opflow" graph operations.toml
