#!/usr/bin/env bash
# Creates (once) and updates target/test-python: the Python environment with
# the pinned Prefect that the tests and the example run under. Prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/test-python
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt >&2
echo "$PWD/$venv"
