"""How `opflow check` and `opflow build` scale, against Kedro and Hamilton.

For each size (default 1k, 10k and 100k operations) generates one synthetic
DAG with `benches/generate.py` (manifest, Kedro pipeline, Hamilton module),
then runs, interleaved, `--runs` times each after one unmeasured warm-up:

- `opflow check` and `opflow build --out <a fresh folder>`, whole process:
  wall time and peak RSS of the child (`os.wait4`);
- Kedro (`node(...)` per operation, `Pipeline(nodes).nodes`) and Hamilton
  (`driver.Builder().with_modules(module).build()`), each in a fresh Python
  process (`benches/peer_graph.py`): the in-process graph construction the
  process reports, and the whole process.

Prints markdown tables of medians, ratios and the issue's targets. Exits 0
whatever the figures: this is a measurement, not a test.

    cargo build --release
    python3 benches/compile_scale.py [--runs 5] [--sizes 1000,10000,100000]

opflow is `target/release/opflow` or `$OPFLOW_BIN`. Kedro and Hamilton are
installed on first use into `target/bench-python` (a venv made by the Python
running this script; pip, from the package registry).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ROOT / "benches"
OPFLOW = Path(os.environ.get("OPFLOW_BIN", ROOT / "target" / "release" / "opflow"))
VENV = ROOT / "target" / "bench-python"
PEERS = ["kedro==1.7.0", "apache-hamilton==1.90.0"]
MB = 1e6


def load_generator():
    spec = importlib.util.spec_from_file_location("generate", BENCHES / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@dataclass
class Sample:
    seconds: float  # wall time of the whole process
    peak_bytes: int  # the child's peak resident set size
    report: dict | None = None  # what a peer process printed


def measure(
    command: list[str], cwd: Path, env: dict[str, str], log: Path
) -> tuple[Sample, str]:
    """Run a command to completion; its wall time, peak RSS and stdout."""
    with open(log, "w+b") as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {child.returncode}:\n{text}")
    # Linux reports ru_maxrss in KiB.
    return Sample(seconds, usage.ru_maxrss * 1024), text


def peer_python() -> Path:
    """target/bench-python with Kedro and Hamilton, made on first use."""
    python = VENV / "bin" / "python"
    marker = VENV / "bench-requirements.txt"
    wanted = "\n".join(PEERS) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    if not python.exists():
        print(f"creating {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, *PEERS], check=True, stdout=sys.stderr)
    marker.write_text(wanted)
    return python


def folder_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def median(samples: list[Sample], key: str = "seconds") -> float:
    if key == "seconds":
        return statistics.median(s.seconds for s in samples)
    if key == "peak":
        return statistics.median(s.peak_bytes for s in samples)
    return statistics.median(s.report[key] for s in samples)


def bench_size(
    n: int, args: argparse.Namespace, tmp: Path, python: Path | None
) -> dict:
    generator = load_generator()
    folder = tmp / f"n{n}"
    started = time.perf_counter()
    graph = generator.generate(
        folder,
        n,
        args.seed,
        args.width,
        args.fan_in,
        args.cross_flow,
        kedro=python is not None,
        hamilton=python is not None,
    )
    generated = time.perf_counter() - started
    edges = sum(len(op.upstreams) for op in graph)
    manifest = folder / "operations.toml"
    result = {
        "ops": n,
        "edges": edges,
        "generate_s": generated,
        "manifest_bytes": manifest.stat().st_size,
        "files": {
            p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()
        },
    }
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # peers reuse their .pyc
    env |= {"DO_NOT_TRACK": "1", "KEDRO_DISABLE_TELEMETRY": "true"}
    log = tmp / "log.txt"
    builds = tmp / "builds"

    def check() -> Sample:
        return measure([str(OPFLOW), "check", str(manifest)], folder, env, log)[0]

    def build(run: int) -> Sample:
        out = builds / f"n{n}-{run}"  # fresh each run: the build really writes
        sample, _ = measure(
            [str(OPFLOW), "build", str(manifest), "--out", str(out)], folder, env, log
        )
        if run < 0:
            result["package_files"], result["package_bytes"] = folder_size(out)
        shutil.rmtree(out)
        return sample

    def peer(name: str) -> Sample:
        command = [str(python), str(BENCHES / "peer_graph.py"), name, str(folder)]
        sample, text = measure(command, folder, env, log)
        sample.report = json.loads(text.strip().splitlines()[-1])
        got = (sample.report["nodes"], sample.report["edges"])
        if got != (n, edges):
            raise RuntimeError(f"{name} built {got} nodes/edges, expected {(n, edges)}")
        return sample

    runs: dict[str, list[Sample]] = {"check": [], "build": []}
    peers = ["kedro", "hamilton"] if python else []
    for name in peers:
        runs[name] = []
    for run in range(-1, args.runs):  # run -1 warms caches up, unrecorded
        label = "warm-up" if run < 0 else f"run {run + 1}/{args.runs}"
        print(f"{n} operations: {label}", file=sys.stderr, flush=True)
        samples = {"check": check(), "build": build(run)}
        for name in peers:
            samples[name] = peer(name)
        if run >= 0:
            for name, sample in samples.items():
                runs[name].append(sample)
    result["runs"] = {
        name: [asdict(s) for s in samples] for name, samples in runs.items()
    }
    result["median"] = {
        name: {"seconds": median(samples), "peak_bytes": median(samples, "peak")}
        for name, samples in runs.items()
    }
    for name in peers:
        result["median"][name]["construct_s"] = median(runs[name], "construct_s")
        result["median"][name]["import_s"] = median(runs[name], "import_s")
    if "kedro" in runs:
        result["median"]["kedro"]["pipeline_s"] = median(runs["kedro"], "pipeline_s")
    return result


def fmt_n(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def tables(results: list[dict], runs: int) -> str:
    out = [
        f"opflow, whole process, median of {runs}:",
        "",
        (
            "| operations | edges | manifest | `check` | peak | `build` | peak"
            " | package written |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m = r["median"]
        out.append(
            f"| {fmt_n(r['ops'])} | {r['edges']:,} | {r['manifest_bytes'] / MB:.1f} MB"
            f" | {m['check']['seconds']:.3f} s | {m['check']['peak_bytes'] / MB:.0f} MB"
            f" | {m['build']['seconds']:.3f} s | {m['build']['peak_bytes'] / MB:.0f} MB"
            f" | {r['package_files']} files, {r['package_bytes'] / MB:.1f} MB |"
        )
    with_peers = [r for r in results if "kedro" in r["median"]]
    if with_peers:
        out += [
            "",
            (
                f"Kedro and Hamilton on the same DAGs, median of {runs}: graph"
                " construction in-process (whole process, peak), and opflow's"
                " whole `build` over it:"
            ),
            "",
            "| operations | Kedro | Hamilton | `build` / Kedro | `build` / Hamilton |",
            "|---|---|---|---|---|",
        ]
        for r in with_peers:
            m = r["median"]
            build = m["build"]["seconds"]
            cells = [fmt_n(r["ops"])]
            for name in ("kedro", "hamilton"):
                cells.append(
                    f"{m[name]['construct_s']:.3f} s ({m[name]['seconds']:.2f} s,"
                    f" {m[name]['peak_bytes'] / MB:.0f} MB)"
                )
            for name in ("kedro", "hamilton"):
                cells.append(f"{build / m[name]['construct_s']:.3f}")
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def targets(results: list[dict]) -> str:
    """The issue's targets: (what, measured, limit, how to print it)."""
    by_n = {r["ops"]: r["median"] for r in results}
    rows: list[tuple[str, float, float, str]] = []

    def build(n: int) -> float:
        return by_n[n]["build"]["seconds"]

    # The package issue's targets (`build`, its peak, Kedro, the package),
    # and the earlier benchmark issue's that still hold (check, scaling,
    # Hamilton).
    if 10_000 in by_n:
        rows.append(("`build` at 10k", build(10_000), 0.05, "{:.3f} s"))
        package = next(r for r in results if r["ops"] == 10_000)["package_bytes"] / MB
        rows.append(("package at 10k", package, 3.0, "{:.1f} MB"))
    if 100_000 in by_n:
        rows.append(("`build` at 100k", build(100_000), 0.5, "{:.3f} s"))
    if 10_000 in by_n and 100_000 in by_n:
        ratio = build(100_000) / build(10_000)
        rows.append(("`build` time 100k / 10k", ratio, 12, "{:.1f}"))
    if 100_000 in by_n:
        for cmd, limit in (("check", 300), ("build", 250)):
            peak = by_n[100_000][cmd]["peak_bytes"] / MB
            rows.append((f"`{cmd}` peak memory at 100k", peak, limit, "{:.0f} MB"))
    if 10_000 in by_n:
        for name, title, limit in (
            ("kedro", "Kedro", 0.167),
            ("hamilton", "Hamilton", 0.2),
        ):
            if name in by_n[10_000]:
                ratio = build(10_000) / by_n[10_000][name]["construct_s"]
                rows.append((f"`build` / {title} at 10k", ratio, limit, "{:.3f}"))
    if not rows:
        return "(no size of the issue's targets was measured)"
    lines = ["| target | limit | measured | met |", "|---|---|---|---|"]
    for what, value, limit, form in rows:
        met = "yes" if value <= limit else "**no**"
        lines.append(
            f"| {what} | ≤ {form.format(limit)} | {form.format(value)} | {met} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=5, help="measured runs of each (default 5)"
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated operation counts",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--fan-in", type=int, default=3)
    parser.add_argument("--cross-flow", type=float, default=0.0)
    parser.add_argument("--no-peers", action="store_true", help="opflow only")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not OPFLOW.is_file():
        parser.error(
            f"{OPFLOW} not found: run `cargo build --release` or set OPFLOW_BIN"
        )
    python = None if args.no_peers else peer_python()
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="opflow-bench-") as tmp:
        for n in sizes:
            results.append(bench_size(n, args, Path(tmp), python))
    print(
        f"opflow {OPFLOW}; DAG: seed {args.seed}, width {args.width},"
        f" fan-in 0..{args.fan_in}, cross-flow {args.cross_flow}; {os.cpu_count()} CPUs,"
        f" load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print()
    print(tables(results, args.runs))
    print()
    print(targets(results))
    if args.json:
        config = {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
        }
        args.json.write_text(
            json.dumps({"config": config, "results": results}, indent=1)
        )


if __name__ == "__main__":
    main()
