#!/usr/bin/env bash
# Every test of the project, from nothing: the Rust suites (unit, golden
# cases and packages, CLI end to end, properties, schema), then the Python
# suites, which run the generated flows under a real Prefect server on
# loopback, the tests of opflow's Python package (python/), and the wheel
# (tests/python/test_dist.py builds it with maturin, installs it into a fresh
# virtualenv and uses it from there). Python packages are installed into
# target/test-python; Chromium is installed with apt (through sudo when not
# root) unless OPFLOW_SKIP_BROWSER=1, which skips the one test that needs it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked --all-targets
cargo build --locked

venv="$(scripts/python-env.sh)"

# Headless Chromium (Debian's package) opens the graph page in
# tests/python/test_graph_picture.py; its recommended fonts draw the text.
if [ "${OPFLOW_SKIP_BROWSER:-}" = 1 ]; then
  echo "OPFLOW_SKIP_BROWSER=1: not installing Chromium; its test will be skipped" >&2
elif [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi

"$venv/bin/ruff" format --check --quiet python tests/python examples benches
"$venv/bin/ruff" check --quiet python tests/python examples benches
"$venv/bin/python" -m pytest -q python/tests
OPFLOW_BIN="$PWD/target/debug/opflow" "$venv/bin/python" -m pytest -q benches/test_generate.py
OPFLOW_BIN="$PWD/target/debug/opflow" "$venv/bin/python" -m pytest -q -rs tests/python
