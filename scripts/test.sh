#!/usr/bin/env bash
# Every test of the project, from nothing: the Rust suites (unit, golden
# cases and packages, CLI end to end, properties, schema), then the Python
# suites, which run the generated flows under a real Prefect server on
# loopback, and the tests of opflow's Python package (python/). Python
# packages are installed into target/test-python.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked --all-targets
cargo build --locked

venv="$(scripts/python-env.sh)"

# Headless Chromium (Debian's package) opens the graph page in
# tests/python/test_graph_picture.py; its recommended fonts draw the text.
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi

"$venv/bin/ruff" format --check --quiet python tests/python examples benches
"$venv/bin/ruff" check --quiet python tests/python examples benches
"$venv/bin/python" -m pytest -q python/tests
OPFLOW_BIN="$PWD/target/debug/opflow" "$venv/bin/python" -m pytest -q benches/test_generate.py
OPFLOW_BIN="$PWD/target/debug/opflow" "$venv/bin/python" -m pytest -q tests/python
