"""The command line: `python -m opflow scan MODULE... [-o FILE] [--format F]`.

Exit codes: 0 the manifest was written (or printed); 1 something in the code
cannot be written as a manifest (one `file:line: message` line each on
stderr), or the existing manifest cannot be merged into, or `--check` found
it stale; 2 a usage error (bad arguments, a module that does not exist).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from opflow._manifest import (
    DEFAULT_SCHEMA,
    FORMATS,
    ManifestError,
    format_for,
    format_refusals,
    write,
)
from opflow._scan import UsageError, scan

#: How users run this: through the `opflow` binary (`opflow scan ...`), which
#: starts `python -m opflow` with this package on the path. Hints name it.
PROG = "opflow"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="opflow's Python shim: write the manifest from @operation-decorated code.",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    commands.required = True
    scan_parser = commands.add_parser(
        "scan",
        help="import modules, collect @operation functions, write the manifest",
        description=(
            "Import the modules (packages with every submodule), collect the functions "
            "decorated with @operation and write the manifest. Scanning into an existing "
            "manifest keeps everything but its operations."
        ),
    )
    scan_parser.add_argument(
        "modules", nargs="+", metavar="MODULE", help="module or package to scan"
    )
    scan_parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="manifest to write (merged into when it exists); default: stdout",
    )
    scan_parser.add_argument(
        "--format",
        choices=FORMATS,
        help="manifest format (default: from FILE's extension, else toml)",
    )
    scan_parser.add_argument(
        "--schema",
        metavar="REF",
        help=(
            "schema reference for the first-line directive (default: the existing "
            f"file's, else {DEFAULT_SCHEMA})"
        ),
    )
    scan_parser.add_argument(
        "-p",
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="folder to put on sys.path before importing (repeatable)",
    )
    scan_parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if FILE is not what the scan would write",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _scan(args)


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _scan(args: argparse.Namespace) -> int:
    output: str | None = args.output
    fmt = args.format or format_for(output)
    if output is not None and args.format and args.format != format_for(output):
        return _usage(
            f"--format {args.format} does not match `{output}`: opflow reads a manifest's "
            "format from its extension"
        )
    if args.check and output is None:
        return _usage("--check needs -o FILE")
    for folder in reversed(args.path):
        sys.path.insert(0, os.path.abspath(folder))
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())

    existing = None
    if output is not None and os.path.exists(output):
        try:
            existing = Path(output).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"error: cannot read `{output}`: {error}", file=sys.stderr)
            return 1

    try:
        with contextlib.redirect_stdout(
            sys.stderr
        ):  # what modules print is not the manifest
            result = scan(args.modules)
    except UsageError as error:
        return _usage(str(error))

    refusals = sorted(set(result.refusals + format_refusals(result.operations, fmt)))
    if refusals:
        for refusal in refusals:
            print(refusal, file=sys.stderr)
        count = len(refusals)
        print(
            f"error: {count} problem{'s' if count != 1 else ''} found; no manifest written",
            file=sys.stderr,
        )
        return 1
    if not result.operations:
        print(
            f"error: no function decorated with @operation in {', '.join(args.modules)}; "
            "no manifest written",
            file=sys.stderr,
        )
        return 1

    try:
        written = write(result.operations, fmt, existing, args.schema)
    except ManifestError as error:
        print(f"error: cannot merge into `{output}`: {error}", file=sys.stderr)
        return 1

    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(written.text.encode("utf-8"))
        sys.stdout.buffer.flush()
    elif args.check:
        if existing != written.text:
            print(
                f"error: `{output}` is stale: run `{PROG} scan {' '.join(args.modules)} "
                f"-o {output}` to update it",
                file=sys.stderr,
            )
            return 1
    else:
        try:
            _write_atomically(Path(output), written.text)
        except OSError as error:
            print(f"error: cannot write `{output}`: {error}", file=sys.stderr)
            return 1
    for name in written.gone:
        where = f" from `{output}`" if output else ""
        print(
            f"note: operation `{name}` is no longer defined; removed{where}",
            file=sys.stderr,
        )
    if output is not None and not args.check:
        count = len(result.operations)
        print(
            f"wrote `{output}`: {count} operation{'s' if count != 1 else ''}",
            file=sys.stderr,
        )
    return 0


def _write_atomically(path: Path, text: str) -> None:
    folder = path.parent
    mode = path.stat().st_mode & 0o777 if path.exists() else None
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        if mode is not None:
            os.chmod(temporary, mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
