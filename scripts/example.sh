#!/usr/bin/env bash
# The scraping example end to end: check and plan the manifest, build the
# Prefect package, then run the flow under a Prefect server on loopback and
# print the merged listings.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$("$root/scripts/python-env.sh")"
cargo build --locked --quiet --release --manifest-path "$root/Cargo.toml"
opflow="$root/target/release/opflow"

cd "$root/examples/scraping"
"$opflow" check operations.toml
"$opflow" check operations.yaml
"$opflow" plan operations.toml
"$opflow" build operations.toml

home="$(mktemp -d)"
port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export PREFECT_HOME="$home" PREFECT_API_URL="http://127.0.0.1:$port/api" PREFECT_SERVER_ANALYTICS_ENABLED=false
setsid "$venv/bin/prefect" server start --host 127.0.0.1 --port "$port" >"$home/server.log" 2>&1 &
server=$!
trap 'kill -TERM -- -$server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$home"' EXIT
for _ in $(seq 360); do
  curl -sf "$PREFECT_API_URL/health" >/dev/null && break
  sleep 0.5
done
cd run_cache
"$venv/bin/python" -m orchestration scraping --param keywords=python
