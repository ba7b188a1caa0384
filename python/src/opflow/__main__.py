"""`python -m opflow ARGS...`: the `opflow` command, from Python.

`python -m opflow scan ...` runs the scanner here, in this Python: it is what
the `opflow scan` command itself runs (in the project's Python, with this
package on its path), so it needs no binary. Every other command goes to the
`opflow` binary that the wheel installs beside this package, as `python -m
ruff` does: the interpreter's scripts folder, the user's, then `PATH`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig


def find_opflow_bin() -> str | None:
    """The `opflow` binary installed with this Python, or the first on PATH."""
    name = "opflow" + (sysconfig.get_config_var("EXE") or "")
    folders = [sysconfig.get_path("scripts")]
    user = f"{os.name}_user"
    if user in sysconfig.get_scheme_names():
        folders.append(sysconfig.get_path("scripts", scheme=user))
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def main() -> int:
    if sys.argv[1:2] == ["scan"]:
        from opflow.cli import main as scan

        return scan(sys.argv[1:])
    binary = find_opflow_bin()
    if binary is None:
        print(
            "error: the `opflow` binary is not installed beside this Python package "
            "nor on PATH\n"
            "help: install the wheel (`pip install opflow`, built with `maturin build`) "
            "or the binary (`cargo install --path .` in a checkout); "
            "`python -m opflow scan` works without it",
            file=sys.stderr,
        )
        return 1
    args = [binary, *sys.argv[1:]]
    if sys.platform == "win32":
        return subprocess.run(args, check=False).returncode
    os.execv(binary, args)  # replaces this process; returns only by raising


if __name__ == "__main__":
    sys.exit(main())
