#!/usr/bin/env bash
# Every test of the project, from nothing: the Rust suites (unit, golden
# cases and packages, CLI end to end, properties, schema), then the Python
# suites, which run the generated flows under a real Prefect server on
# loopback. Python packages are installed into target/test-python.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked --all-targets
cargo build --locked

venv=target/test-python
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

"$venv/bin/ruff" format --check --quiet tests/python examples
"$venv/bin/ruff" check --quiet tests/python examples
OPFLOW_BIN="$PWD/target/debug/opflow" "$venv/bin/python" -m pytest -q tests/python
