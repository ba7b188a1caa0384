"""How close a generated flow comes to its critical path.

Builds a DAG of sleeping operations (sync and async) whose critical path and
layered schedule (one `asyncio.gather` per topological stage) are known, runs
the generated flow several times under a local Prefect server, and reports
medians: the flow's time (first operation start to last operation end) against
the critical path and against the layered schedule, run in the same process.

    target/test-python/bin/python benches/flow_parallelism.py [--runs 5]

(`scripts/test.sh` creates that Python environment.)

With `--subflows`, the same DAG's flow with `subflows = true` (each stage
`bench.sN` a nested flow, so every edge crosses from one nested flow to
another) against the flat flow, run alternately: the flow's time and the
whole process's, medians.

With `--map`, a mapped operation instead: a listing returns six elements, a
fetch mapped over them sleeps 0.5 s per element, a join takes the six
results; it reports the fetches' time (first start to last end) against one
fetch (all six at once) and six (one after another).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPFLOW = Path(os.environ.get("OPFLOW_BIN", ROOT / "target" / "release" / "opflow"))


def dag(seed: int = 7, width: int = 4, depth: int = 5) -> dict[str, dict]:
    """Operations `s<stage>.o<i>` with durations and 1-2 upstreams each."""
    rng = random.Random(seed)
    ops: dict[str, dict] = {}
    stages: list[list[str]] = []
    for stage in range(depth):
        names = [f"s{stage}.o{i}" for i in range(width)]
        for name in names:
            ups = rng.sample(stages[-1], k=rng.randint(1, 2)) if stages else []
            ops[name] = {
                "seconds": round(rng.choice([0.1, 0.2, 0.3, 0.6, 1.0]), 1),
                "after": sorted(ups),
                "async": rng.random() < 0.5,
            }
        stages.append(names)
    return ops


def critical_path(ops: dict[str, dict]) -> float:
    finish: dict[str, float] = {}
    for name, op in ops.items():  # written in topological order
        finish[name] = op["seconds"] + max((finish[u] for u in op["after"]), default=0)
    return max(finish.values())


def stage_of(ops: dict[str, dict]) -> dict[str, int]:
    stage: dict[str, int] = {}
    for name, op in ops.items():
        stage[name] = 1 + max((stage[u] for u in op["after"]), default=-1)
    return stage


def manifest(ops: dict[str, dict], subflows: bool = False) -> str:
    lines = ["version = 1", ""]
    if subflows:
        lines += ["[flows.bench]", "subflows = true", ""]
    for name, op in ops.items():
        lines += [
            "[[operations]]",
            f'name = "bench.{name}"',
            f'call = "sleepers:{name.replace(".", "_")}"',
            f"async = {'true' if op['async'] else 'false'}",
        ]
        if op["after"]:
            upstream = ", ".join(f'"bench.{up}"' for up in op["after"])
            lines.append(f"depends_on = [{upstream}]")
        lines += ['returns = "list[float]"', ""]
    return "\n".join(lines)


def module(ops: dict[str, dict]) -> str:
    out = ["import asyncio", "import time", ""]
    for name, op in ops.items():
        ident = name.replace(".", "_")
        if op["async"]:
            out += [
                f"async def {ident}() -> list[float]:",
                "    start = time.time()",
                f"    await asyncio.sleep({op['seconds']})",
                "    return [start, time.time()]",
                "",
            ]
        else:
            out += [
                f"def {ident}() -> list[float]:",
                "    start = time.time()",
                f"    time.sleep({op['seconds']})",
                "    return [start, time.time()]",
                "",
            ]
    return "\n".join(out)


def layered(ops: dict[str, dict]) -> float:
    """The seed's schedule: one gather per stage, sync work in threads."""
    stages: dict[int, list[dict]] = {}
    for name, stage in stage_of(ops).items():
        stages.setdefault(stage, []).append(ops[name])

    async def run_op(op: dict) -> None:
        if op["async"]:
            await asyncio.sleep(op["seconds"])
        else:
            await asyncio.to_thread(time.sleep, op["seconds"])

    async def main() -> float:
        start = time.perf_counter()
        for stage in sorted(stages):
            await asyncio.gather(*(run_op(op) for op in stages[stage]))
        return time.perf_counter() - start

    return asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": url}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    prefect = Path(sys.executable).parent / "prefect"
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)
    raise RuntimeError("Prefect server did not start")


MAPPED_MANIFEST = """\
version = 1

[[operations]]
name = "bench.listing"
call = "mapped:listing"
returns = "list[int]"

[[operations]]
name = "bench.fetch"
call = "mapped:fetch"
params = { item = { type = "int", from = "bench.listing" } }
map = ["item"]
returns = "list[float]"

[[operations]]
name = "bench.join"
call = "mapped:join"
params = { fetch = "list[list[float]]" }
returns = "list[list[float]]"
"""

MAPPED_MODULE = """\
import time


def listing() -> list[int]:
    return [1, 2, 3, 4, 5, 6]


def fetch(item: int) -> list[float]:
    start = time.time()
    time.sleep(0.5)
    return [start, time.time()]


def join(fetch: list[list[float]]) -> list[list[float]]:
    return fetch
"""


def mapped(runs: int) -> None:
    """The six mapped fetches' time against one fetch and six in a row."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "operations.toml").write_text(MAPPED_MANIFEST)
        (root / "mapped.py").write_text(MAPPED_MODULE)
        subprocess.run([str(OPFLOW), "build"], cwd=root, check=True)
        server, url = start_server(root / "prefect-home")
        try:
            env = {**os.environ, "PREFECT_API_URL": url}
            env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
            times = []
            for _ in range(runs):
                done = subprocess.run(
                    [sys.executable, "-m", "orchestration", "bench"],
                    cwd=root / "run_cache",
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                spans = json.loads(done.stdout)
                times.append(
                    max(end for _, end in spans) - min(start for start, _ in spans)
                )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    fetches = statistics.median(times)
    print("mapped fetches: 6 x 0.5 s")
    print("one fetch:              0.50 s")
    print("six in a row:           3.00 s")
    print(f"mapped, first to last:  {fetches:.2f} s (median of {runs})")


def run_flow(root: Path, env: dict[str, str]) -> tuple[float, float]:
    """One run of the flow `bench` built in `root`: the flow's time (first
    operation start to last end) and the whole process's."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestration", "bench"],
        cwd=root / "run_cache",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    process = time.perf_counter() - start
    spans = json.loads(done.stdout).values()
    return max(end for _, end in spans) - min(start for start, _ in spans), process


def nested(runs: int) -> None:
    """The flow with each stage a nested flow against the flat flow."""
    ops = dag()
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"flat": Path(tmp) / "flat", "subflows": Path(tmp) / "subflows"}
        for kind, root in roots.items():
            root.mkdir()
            (root / "operations.toml").write_text(manifest(ops, kind == "subflows"))
            (root / "sleepers.py").write_text(module(ops))
            subprocess.run([str(OPFLOW), "build"], cwd=root, check=True)
        server, url = start_server(Path(tmp) / "prefect-home")
        try:
            env = {**os.environ, "PREFECT_API_URL": url}
            env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
            times: dict[str, list[tuple[float, float]]] = {k: [] for k in roots}
            for _ in range(runs):
                for kind, root in roots.items():
                    times[kind].append(run_flow(root, env))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"operations: {len(ops)} in {len(set(stage_of(ops).values()))} nested flows")
    print(f"critical path:          {critical_path(ops):.2f} s")
    medians = {}
    for kind, pairs in times.items():
        flow = statistics.median(f for f, _ in pairs)
        process = statistics.median(p for _, p in pairs)
        medians[kind] = (flow, process)
        print(
            f"{kind + ':':<9} flow {flow:.2f} s, process {process:.2f} s (median of {runs})"
        )
    (flat_flow, flat_process), (sub_flow, sub_process) = medians.values()
    print(
        f"subflows / flat:        flow {sub_flow / flat_flow:.3f}, process {sub_process / flat_process:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--map", action="store_true", help="measure `map` instead")
    parser.add_argument(
        "--subflows", action="store_true", help="nested flows against the flat flow"
    )
    args = parser.parse_args()
    if args.map:
        mapped(args.runs)
        return
    if args.subflows:
        nested(args.runs)
        return
    ops = dag()
    critical = critical_path(ops)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "operations.toml").write_text(manifest(ops))
        (root / "sleepers.py").write_text(module(ops))
        subprocess.run([str(OPFLOW), "build"], cwd=root, check=True)
        server, url = start_server(root / "prefect-home")
        try:
            env = {**os.environ, "PREFECT_API_URL": url}
            env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
            flow_times, process_times, layered_times = [], [], []
            for _ in range(args.runs):
                flow_time, process_time = run_flow(root, env)
                flow_times.append(flow_time)
                process_times.append(process_time)
                layered_times.append(layered(ops))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    flow = statistics.median(flow_times)
    layer = statistics.median(layered_times)
    print(f"operations: {len(ops)} ({sum(op['async'] for op in ops.values())} async)")
    print(f"critical path:          {critical:.2f} s")
    print(f"layered schedule:       {layer:.2f} s (median of {args.runs})")
    print(f"generated flow:         {flow:.2f} s (median of {args.runs})")
    print(f"flow / critical path:   {flow / critical:.3f}")
    print(f"flow / layered:         {flow / layer:.3f}")
    print(f"whole process, median:  {statistics.median(process_times):.2f} s")


if __name__ == "__main__":
    main()
