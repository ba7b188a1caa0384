#!/usr/bin/env bash
# Creates (once) and updates target/test-python: the Python environment the
# tests run under, with the pinned Prefect, pytest, ruff, and opflow's own
# Python package from python/. Prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/test-python
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt -e ./python >&2
echo "$PWD/$venv"
