"""`opflow run` of the example, whole process: with opflow's local Prefect
server warm, against the same flow on Prefect's temporary server
(`--ephemeral`, a server started by every run). Medians of several runs.

    target/test-python/bin/python benches/run_overhead.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPFLOW = Path(os.environ.get("OPFLOW_BIN", ROOT / "target" / "release" / "opflow"))


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    return seconds, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = root / "scraping"
        shutil.copytree(
            ROOT / "examples" / "scraping",
            project,
            ignore=shutil.ignore_patterns("run_cache", "__pycache__"),
        )
        env = {
            key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"
        }
        env |= {"OPFLOW_DATA_DIR": str(root / "data"), "OPFLOW_CACHE_DIR": str(root)}
        run = [
            str(OPFLOW),
            "run",
            "scraping",
            "--python",
            sys.executable,
            "--param",
            "keywords=python",
            "--json",
        ]
        try:
            first, _ = timed(run, project, env)  # builds, starts the server
            warm = [timed(run, project, env)[0] for _ in range(args.runs)]
            ephemeral = [
                timed([*run, "--ephemeral"], project, env)[0] for _ in range(args.runs)
            ]
        finally:
            subprocess.run([str(OPFLOW), "server", "stop"], env=env, check=False)
    print(f"first run (build + server start): {first:.2f} s")
    print(
        f"warm local server:   {statistics.median(warm):.2f} s (median of {args.runs})"
    )
    print(
        f"temporary server:    {statistics.median(ephemeral):.2f} s "
        f"(median of {args.runs})"
    )
    ratio = statistics.median(ephemeral) / statistics.median(warm)
    print(f"temporary / warm:    {ratio:.2f}")


if __name__ == "__main__":
    main()
