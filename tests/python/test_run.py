"""End to end: `opflow run`, `opflow serve`, `opflow server` and the generated
`prefect.yaml`, as a user runs them.

Every test points opflow at temporary folders (`OPFLOW_DATA_DIR`,
`OPFLOW_CACHE_DIR`) and removes `PREFECT_API_URL` unless it is about it. The
local Prefect server opflow starts is shared by the session (started by the
first run, stopped at the end); tests about starting and stopping it use a data
folder of their own. Every server, worker and `serve` a test starts binds
127.0.0.1 and is stopped by the test, also when it fails."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent

import pytest
from conftest import OPFLOW, PREFECT

STARTING = "opflow: starting a local Prefect server at "
SUMMARY = re.compile(
    r"^flow `(?P<flow>[^`]+)` (?P<how>completed|failed at `[^`]+`|failed): "
    r"(?:(?P<all>\d+) operations? completed"
    r"|(?P<completed>\d+) completed, (?P<failed>\d+) failed, (?P<not_run>\d+) not run), "
    r"\d+\.\d s$"
)
FLOW_RUN_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/runs/flow-run/([0-9a-f-]{36})")
SERVER_DONE = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


# Running opflow ----------------------------------------------------------------


@dataclass
class Done:
    """A finished opflow command."""

    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float

    def __str__(self) -> str:
        return (
            f"opflow {' '.join(self.args)} -> exit {self.code} "
            f"in {self.seconds:.1f} s\n--- stdout\n{self.stdout}\n"
            f"--- stderr\n{self.stderr}"
        )

    @property
    def result(self) -> object:
        """The flow's result; the run must have succeeded."""
        assert self.code == 0, str(self)
        return json.loads(self.stdout)

    @property
    def summary(self) -> re.Match[str]:
        """The summary line, last on stderr."""
        lines = self.stderr.strip().splitlines()
        assert lines, str(self)
        match = SUMMARY.match(lines[-1])
        assert match, f"no summary line last on stderr:\n{self}"
        return match


def _clean_env() -> dict[str, str]:
    """The test process's environment without anything that would point opflow
    or Prefect elsewhere."""
    env = dict(os.environ)
    for name in ("PREFECT_API_URL", "OPFLOW_PYTHON", "VIRTUAL_ENV", "PREFECT_HOME"):
        env.pop(name, None)
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


@dataclass
class Opflow:
    """opflow with its own data and cache folders."""

    data: Path
    cache: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **_clean_env(),
            "OPFLOW_DATA_DIR": str(self.data),
            "OPFLOW_CACHE_DIR": str(self.cache),
            **self.extra,
        }

    def __call__(
        self,
        *args: str,
        cwd: Path,
        python: str | None = sys.executable,
        timeout: float = 300,
    ) -> Done:
        argv = list(args)
        if python is not None and argv[0] in ("run", "serve"):
            argv += ["--python", python]
        start = time.monotonic()
        done = subprocess.run(
            [str(OPFLOW), *argv],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Done(
            argv, done.returncode, done.stdout, done.stderr, time.monotonic() - start
        )

    def state(self) -> dict[str, int] | None:
        """opflow's record of its local server, if any."""
        path = self.data / "server" / "state.json"
        return json.loads(path.read_text()) if path.exists() else None

    def api(self) -> str:
        state = self.state()
        assert state, f"no server state in {self.data}"
        return f"http://127.0.0.1:{state['port']}/api"

    def stop_server(self) -> None:
        """`opflow server stop`, then no Prefect server of this data folder runs."""
        done = self("server", "stop", cwd=self.data.parent)
        assert done.code == 0, str(done)
        deadline = time.monotonic() + 30
        while server_processes(self.data) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = server_processes(self.data)
        for pid in left:  # servers this test made opflow start: not left behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert left == [], f"`opflow server stop` left Prefect servers {left}"


def server_processes(data: Path) -> list[int]:
    """Live `prefect server start` processes whose PREFECT_HOME is under `data`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"server" not in argv or b"start" not in argv:
                continue
            if not any(b"prefect" in arg for arg in argv):
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        for item in environ:
            if item.startswith(b"PREFECT_HOME=") and item[13:].decode().startswith(
                str(data)
            ):
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="session")
def opflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opflow]:
    """opflow with session-wide data and cache folders: its local server starts
    on the first run and is stopped at the end of the session."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc to find the servers it must stop")
    root = tmp_path_factory.mktemp("opflow-session")
    tool = Opflow(root / "data", root / "cache")
    try:
        yield tool
    finally:
        tool.stop_server()


@pytest.fixture
def own_opflow(tmp_path: Path) -> Iterator[Opflow]:
    """opflow with data and cache folders of this test alone."""
    tool = Opflow(tmp_path / "opflow-data", tmp_path / "opflow-cache")
    try:
        yield tool
    finally:
        tool.stop_server()


def write_project(root: Path, manifest: str, modules: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "operations.toml").write_text(manifest)
    for name, source in modules.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


# Background processes and the Prefect API --------------------------------------


def start_background(
    args: list[str], cwd: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """A process in a group of its own, its output in `log`."""
    # A shell without job control starts background commands with SIGINT
    # ignored; a child would inherit that, and Python would then never raise
    # KeyboardInterrupt. A handler is reset to the default in the child.
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with log.open("wb") as out:
            return subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_background(
    process: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 30
) -> tuple[int | None, float]:
    """Send `sig` to the process group; SIGKILL it after `timeout`. Returns
    the exit code (None when it had to be killed) and the seconds it took."""
    start = time.monotonic()
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    seconds = time.monotonic() - start
    try:  # anything left in the group (flow run subprocesses)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    return code, seconds


def api_call(api: str, method: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{api}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    # A busy server answers 503 now and then: try again for a while.
    for attempt in range(20):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == 19:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def wait_for_deployment(
    api: str, name: str, alive: subprocess.Popen[bytes], log: Path
) -> dict:
    """The deployment `flow/deployment`, once it exists."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert alive.poll() is None, f"exited {alive.returncode}:\n{log.read_text()}"
        try:
            return api_call(api, "GET", f"/deployments/name/{name}")
        except (urllib.error.HTTPError, urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    raise AssertionError(f"no deployment {name} after 3 minutes:\n{log.read_text()}")


def wait_for_flow_run(api: str, run_id: str, log: Path, timeout: float = 180) -> dict:
    """The final state of a flow run, which must be COMPLETED."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = api_call(api, "GET", f"/flow_runs/{run_id}")["state"]
        if state and state["type"] in SERVER_DONE:
            assert state["type"] == "COMPLETED", f"{state}\n{log.read_text()}"
            return state
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} unfinished:\n{log.read_text()}")


def no_noise(done: Done) -> None:
    """A successful run prints no traceback and no telemetry error."""
    text = done.stdout + done.stderr
    assert "Traceback" not in text, str(done)
    assert "telemetry" not in text.lower(), str(done)


# 1. Parameters are converted by their type -------------------------------------

KINDS = """\
version = 1

[[operations]]
name = "kinds.echo"
call = "kinds_ops:echo"
params = { i = "int", f = "float", whole = "float", b = "bool", off = "bool", s = "str", li = "list[int]", o = "int | None", o5 = "int | None" }
returns = "dict[str, str]"
"""

KINDS_PY = """\
def echo(i, f, whole, b, off, s, li, o, o5) -> dict[str, str]:
    given = dict(i=i, f=f, whole=whole, b=b, off=off, s=s, li=li, o=o, o5=o5)
    return {name: repr(value) for name, value in given.items()}
"""

KINDS_ARGS = [
    "i=-12",
    "f=2.5",
    "whole=3",
    "b=true",
    "off=no",
    "s=hello world",
    "li=[1, 2, 3]",
    "o=null",
    "o5=5",
]


def params(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--param", item)]


def test_run_converts_each_kind_of_parameter(opflow: Opflow, tmp_path: Path) -> None:
    root = write_project(tmp_path / "kinds", KINDS, {"kinds_ops.py": KINDS_PY})

    pretty = opflow("run", "kinds", *params(*KINDS_ARGS), cwd=root)

    assert pretty.result == {
        "i": "-12",
        "f": "2.5",
        "whole": "3.0",
        "b": "True",
        "off": "False",
        "s": "'hello world'",
        "li": "[1, 2, 3]",
        "o": "None",
        "o5": "5",
    }
    assert pretty.stdout.startswith("{\n  "), pretty.stdout  # indented
    summary = pretty.summary
    assert summary["flow"] == "kinds"
    assert summary["how"] == "completed"
    assert summary["all"] == "1", summary
    no_noise(pretty)

    compact = opflow("run", "kinds", "--json", *params(*KINDS_ARGS), cwd=root)

    assert compact.code == 0, str(compact)
    assert compact.stdout.count("\n") == 1, compact.stdout
    assert compact.stdout == json.dumps(pretty.result, separators=(",", ":")) + "\n"
    assert json.loads(compact.stdout) == pretty.result


ONE_PARAM = """\
version = 1

[[operations]]
name = "one.echo"
call = "one_ops:echo"
params = {{ v = "{ty}" }}
returns = "str"
"""

ONE_PARAM_PY = """\
def echo(v) -> str:
    return repr(v)
"""


@pytest.mark.parametrize(
    ("ty", "text", "expected"),
    [
        ("dict[str, int]", '{"a": 1, "b": 2}', "{'a': 1, 'b': 2}"),
        ("list[str]", '["x", "y"]', "['x', 'y']"),
        ("str | None", "null", "None"),
        ("str | None", "", "None"),
    ],
    ids=["dict-str-int", "list-str", "optional-str-null", "optional-str-empty"],
)
def test_run_converts_collections_of_str_and_optional_str(
    opflow: Opflow, tmp_path: Path, ty: str, text: str, expected: str
) -> None:
    root = write_project(
        tmp_path / "one", ONE_PARAM.format(ty=ty), {"one_ops.py": ONE_PARAM_PY}
    )

    done = opflow("run", "one", "--json", "--param", f"v={text}", cwd=root)

    assert done.result == expected


# 2. Bad parameters are refused before Python starts ----------------------------

NEEDS_N = """\
version = 1

[[operations]]
name = "needs.count"
call = "needs_ops:count"
params = { n = "int", label = { type = "str", default = "x" } }
returns = "int"
"""


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["n=abc"], "opflow::runtime::bad_param", "`n` (int)"),
        (["n=1", "colour=red"], "opflow::runtime::unknown_param", "`colour`"),
        (["label=y"], "opflow::runtime::missing_param", "`n` (int)"),
    ],
    ids=["not-an-int", "unknown", "missing"],
)
def test_bad_parameter_is_refused_before_python_starts(
    own_opflow: Opflow, tmp_path: Path, args: list[str], code: str, says: str
) -> None:
    root = write_project(tmp_path / "needs", NEEDS_N, {"needs_ops.py": ""})

    done = own_opflow("run", "needs", *params(*args), cwd=root)

    assert done.code == 2, str(done)
    assert code in done.stderr, str(done)
    assert says in done.stderr, str(done)
    assert done.stdout == "", str(done)
    assert STARTING not in done.stderr, str(done)
    assert own_opflow.state() is None
    assert done.seconds < 2, str(done)


# 3. A failing flow --------------------------------------------------------------

FAILING = """\
version = 1

[[operations]]
name = "x.ok"
call = "failing_ops:ok"
returns = "int"

[[operations]]
name = "x.boom"
call = "failing_ops:boom"
params = { ok = "int" }
returns = "int"

[[operations]]
name = "x.after"
call = "failing_ops:after"
params = { boom = "int" }
returns = "int"
"""

FAILING_PY = """\
def ok() -> int:
    return 1


def boom(ok: int) -> int:
    raise ValueError("the boom operation always fails")


def after(boom: int) -> int:
    return boom + 1
"""


def test_failing_flow_exits_1_naming_the_operation(
    opflow: Opflow, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "x", FAILING, {"failing_ops.py": FAILING_PY})

    done = opflow("run", "x", cwd=root)

    assert done.code == 1, str(done)
    assert done.stdout == "", str(done)
    assert (
        "operation `x.boom` failed: ValueError: the boom operation always fails"
        in done.stderr
    ), str(done)
    summary = done.summary
    assert summary["how"] == "failed at `x.boom`", str(done)
    counts = (summary["completed"], summary["failed"], summary["not_run"])
    assert counts == ("1", "1", "1"), str(done)
    # In a few lines: the user's frame once, no frame of Prefect's, no
    # traceback; the full log in a file whose path is printed.
    stderr = done.stderr
    assert stderr.count('failing_ops.py", line') == 1, stderr
    assert 'raise ValueError("the boom operation always fails")' in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert "site-packages" not in stderr, stderr
    assert len(stderr.splitlines()) <= 25, stderr
    log = re.search(r"the full log: (\S+)", stderr)
    assert log, stderr
    full = Path(log.group(1)).read_text()
    assert "Traceback" in full and "site-packages" in full, full[-2000:]


def test_verbose_run_shows_prefect_log_whole(opflow: Opflow, tmp_path: Path) -> None:
    root = write_project(tmp_path / "x", FAILING, {"failing_ops.py": FAILING_PY})

    done = opflow("run", "x", "--verbose", cwd=root)

    assert done.code == 1, str(done)
    assert "Traceback" in done.stderr, str(done)
    assert "site-packages" in done.stderr, str(done)


def test_quiet_run_shows_no_prefect_info(opflow: Opflow, tmp_path: Path) -> None:
    root = write_project(tmp_path / "x", FAILING, {"failing_ops.py": FAILING_PY})

    done = opflow("run", "x", "--quiet", cwd=root)

    assert done.code == 1, str(done)
    assert "| INFO" not in done.stderr, str(done)
    assert "failed: ValueError: the boom operation always fails" in done.stderr


# 4. A successful run is quiet ----------------------------------------------------


def test_seed_example_runs_without_traceback_or_telemetry_error(
    opflow: Opflow, example
) -> None:
    seed = example("scraping")
    direct = subprocess.run(
        [sys.executable, "run_direct.py"],
        cwd=seed.root,
        capture_output=True,
        text=True,
        check=True,
    )

    done = opflow("run", "scraping", "--param", "keywords=python", cwd=seed.root)

    assert done.result == json.loads(direct.stdout)
    no_noise(done)
    assert done.summary["how"] == "completed"
    assert done.summary["all"] == "3"


# 5. The local server -------------------------------------------------------------

TINY = """\
version = 1

[[operations]]
name = "tiny.double"
call = "tiny_ops:double"
params = { n = "int" }
returns = "int"
"""

TINY_PY = """\
def double(n: int) -> int:
    return 2 * n
"""


def test_local_server_is_started_reused_and_stopped(
    own_opflow: Opflow, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "tiny", TINY, {"tiny_ops.py": TINY_PY})

    first = own_opflow("run", "tiny", "--param", "n=2", cwd=root)
    assert first.result == 4
    assert STARTING in first.stderr, str(first)
    state = own_opflow.state()
    assert state is not None
    assert f"{STARTING}http://127.0.0.1:{state['port']} " in first.stderr
    assert server_processes(own_opflow.data) == [state["pid"]]

    second = own_opflow("run", "tiny", "--param", "n=3", cwd=root)
    assert second.result == 6
    assert STARTING not in second.stderr, str(second)
    assert own_opflow.state() == state
    # The run reported to that server.
    urls = FLOW_RUN_URL.findall(second.stderr)
    assert urls, str(second)
    assert {port for port, _ in urls} == {str(state["port"])}

    status = own_opflow("server", "status", cwd=root)
    assert status.code == 0, str(status)
    assert status.stdout.strip() == (
        f"running at http://127.0.0.1:{state['port']} (pid {state['pid']})"
    )

    stop = own_opflow("server", "stop", cwd=root)
    assert stop.code == 0, str(stop)
    assert stop.stdout.strip() == "stopped"
    assert server_processes(own_opflow.data) == []
    assert own_opflow.state() is None

    stopped = own_opflow("server", "status", cwd=root)
    assert stopped.code == 1, str(stopped)
    assert stopped.stdout.strip() == "not running"

    third = own_opflow("run", "tiny", "--param", "n=4", cwd=root)
    assert third.result == 8
    assert STARTING in third.stderr, str(third)
    again = own_opflow.state()
    assert again is not None
    assert again["pid"] != state["pid"]
    assert server_processes(own_opflow.data) == [again["pid"]]


def test_two_first_runs_at_once_share_one_server(
    own_opflow: Opflow, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "tiny", TINY, {"tiny_ops.py": TINY_PY})
    log = tmp_path / "first.log"
    argv = [str(OPFLOW), "run", "tiny", "--param", "n=1", "--python", sys.executable]
    first = start_background(argv, root, own_opflow.env, log)
    try:
        deadline = time.monotonic() + 60
        while own_opflow.state() is None and time.monotonic() < deadline:
            assert first.poll() is None, log.read_text()
            time.sleep(0.05)

        second = own_opflow("run", "tiny", "--param", "n=2", cwd=root)

        first_code = first.wait(timeout=300)
        assert second.result == 4
        assert first_code == 0, log.read_text()
        assert len(server_processes(own_opflow.data)) == 1
    finally:
        stop_background(first, signal.SIGTERM, timeout=10)


# 6. PREFECT_API_URL ----------------------------------------------------------------


def test_prefect_api_url_is_used_and_no_server_started(
    own_opflow: Opflow, tmp_path: Path, prefect_api: str
) -> None:
    root = write_project(tmp_path / "tiny", TINY, {"tiny_ops.py": TINY_PY})
    own_opflow.extra = {
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
    }

    done = own_opflow("run", "tiny", "--param", "n=21", cwd=root)

    assert done.result == 42
    assert STARTING not in done.stderr, str(done)
    assert own_opflow.state() is None
    assert server_processes(own_opflow.data) == []
    urls = FLOW_RUN_URL.findall(done.stderr)
    assert urls, str(done)
    port, run_id = urls[0]
    assert prefect_api == f"http://127.0.0.1:{port}/api"
    flow_run = api_call(prefect_api, "GET", f"/flow_runs/{run_id}")
    assert flow_run["state"]["type"] == "COMPLETED"
    # With opflow's own parameters, empty: the whole flow ran.
    assert flow_run["parameters"] == {
        "n": 21,
        "opflow_select": "",
        "opflow_exclude": "",
    }


# 7. The managed environment ----------------------------------------------------------

WHERE = """\
version = 1

[[operations]]
name = "where.prefix"
call = "where_ops:prefix"
params = { n = "int" }
returns = "list[Any]"
"""

WHERE_PY = """\
import sys


def prefix(n: int) -> list:
    return [n, sys.prefix]
"""


@pytest.fixture
def bare_python3() -> Iterator[dict[str, str]]:
    """A PATH whose `python3` has no Prefect (the test interpreter's folder and
    any virtualenv left out)."""
    here = Path(sys.executable).parent
    venv = os.environ.get("VIRTUAL_ENV")
    folders = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and Path(folder) != here and not (venv and folder.startswith(venv))
    ]
    path = os.pathsep.join(folders)
    found = shutil.which("python3", path=path)
    if found is None:
        pytest.skip("no python3 on PATH")
    probe = subprocess.run(
        [found, "-c", "import prefect"],
        env={**_clean_env(), "PATH": path},
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip(f"{found} has Prefect already")
    yield {"PATH": path}


def test_no_install_refuses_a_python_without_prefect(
    opflow: Opflow, tmp_path: Path, bare_python3: dict[str, str]
) -> None:
    root = write_project(tmp_path / "where", WHERE, {"where_ops.py": WHERE_PY})
    bare = Opflow(opflow.data, tmp_path / "empty-cache", {**bare_python3})

    done = bare("run", "where", "--no-install", "--param", "n=1", cwd=root, python=None)
    done_flag = bare(
        "run",
        "where",
        "--no-install",
        "--python",
        "python3",
        "--param",
        "n=1",
        cwd=root,
        python=None,
    )

    for refused in (done, done_flag):
        assert refused.code == 1, str(refused)
        assert "opflow::runtime::no_prefect" in refused.stderr, str(refused)
        assert "pip install prefect==3.9.1" in refused.stderr, str(refused)
        assert "creating a Python environment" not in refused.stderr
        assert refused.stdout == ""
    assert not (tmp_path / "empty-cache" / "envs").exists()


def test_managed_environment_is_created_once(
    opflow: Opflow, tmp_path: Path, bare_python3: dict[str, str]
) -> None:
    root = write_project(tmp_path / "where", WHERE, {"where_ops.py": WHERE_PY})
    cache = tmp_path / "fresh-cache"
    managed = Opflow(opflow.data, cache, {**bare_python3})
    env_dir = cache / "envs" / "prefect-3.9.1"

    first = managed(
        "run",
        "where",
        "--python",
        "python3",
        "--param",
        "n=1",
        cwd=root,
        python=None,
        timeout=900,
    )

    assert first.code == 0, str(first)
    assert "opflow: creating a Python environment" in first.stderr, str(first)
    assert "opflow: installing prefect==3.9.1" in first.stderr, str(first)
    n, prefix = first.result
    assert n == 1
    assert Path(prefix).resolve() == env_dir.resolve()
    assert first.summary["how"] == "completed"

    second = managed(
        "run",
        "where",
        "--python",
        "python3",
        "--param",
        "n=2",
        cwd=root,
        python=None,
        timeout=300,
    )

    assert second.result == [2, prefix]
    assert "creating a Python environment" not in second.stderr, str(second)
    assert "opflow: installing" not in second.stderr, str(second)
    no_noise(second)


# 8. opflow serve ---------------------------------------------------------------------

SIDE_EFFECT = """\
version = 1

[project]
name = "{name}"

[[operations]]
name = "{name}.square"
call = "work.ops:square"
params = {{ n = "int" }}
returns = "int"

[[operations]]
name = "{name}.record"
call = "work.ops:record"
params = {{ square = "int", out = "str" }}
returns = "int"
"""

SIDE_EFFECT_PY = """\
import json
import os
from pathlib import Path


def square(n: int) -> int:
    return n * n


def record(square: int, out: str) -> int:
    Path(out).write_text(json.dumps({"square": square, "pid": os.getpid()}))
    return square
"""


def group_members(group: int) -> list[int]:
    """The live processes of a process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(int(entry.name))
    return sorted(found)


def side_effect_project(root: Path, name: str) -> Path:
    # The operations live in a package beside the manifest: flow runs of a
    # deployment start in fresh processes that must find it too.
    return write_project(
        root,
        SIDE_EFFECT.format(name=name),
        {"work/__init__.py": "", "work/ops.py": SIDE_EFFECT_PY},
    )


def serve_and_run(
    opflow: Opflow,
    root: Path,
    tmp_path: Path,
    runs: dict[str, dict[str, object]],
    clean_log: bool = True,
) -> int:
    """`opflow serve` the project at `root`, run each deployment of `runs`
    (name: its parameters), wait until every run completed, then interrupt
    the server; with `clean_log`, its log (which holds the flow runs') has no
    traceback. Returns the pid of `opflow serve`."""
    log = tmp_path / "serve.log"
    argv = [str(OPFLOW), "serve", "--python", sys.executable]
    serve = start_background(argv, root, opflow.env, log)
    try:
        deadline = time.monotonic() + 180
        while opflow.state() is None and time.monotonic() < deadline:
            assert serve.poll() is None, log.read_text()
            time.sleep(0.5)
        api = opflow.api()
        wait_for_deployment(api, "all/all", serve, log)
        for name, parameters in runs.items():
            deployment = wait_for_deployment(api, name, serve, log)
            flow_run = api_call(
                api,
                "POST",
                f"/deployments/{deployment['id']}/create_flow_run",
                {"parameters": parameters},
            )
            wait_for_flow_run(api, flow_run["id"], log)
        # A run is complete before its process has exited (a Dask cluster
        # takes a moment to stop): Ctrl-C once they are gone, as a user would.
        deadline = time.monotonic() + 60
        while group_members(serve.pid) != [serve.pid] and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        code, seconds = stop_background(serve, signal.SIGINT, timeout=30)
    assert code is not None, f"serve ignored SIGINT for 30 s:\n{log.read_text()}"
    assert seconds < 30
    assert code == 0, log.read_text()
    if clean_log:
        assert "Traceback" not in log.read_text(), log.read_text()
    return serve.pid


def test_serve_runs_deployments_until_interrupted(
    opflow: Opflow, tmp_path: Path
) -> None:
    # The flow is named like the package its operations import (`work`):
    # loaded by file, its module would take that name and hide the package.
    root = side_effect_project(tmp_path / "served", "work")
    out = tmp_path / "result.json"

    pid = serve_and_run(
        opflow, root, tmp_path, {"work/work": {"n": 12, "out": str(out)}}
    )

    assert json.loads(out.read_text())["square"] == 144
    assert json.loads(out.read_text())["pid"] != pid


# 9. Deployments from the generated prefect.yaml ----------------------------------------


def deploy_and_run_on_a_process_worker(
    root: Path, tmp_path: Path, api: str, runs: list[tuple[str, list[str]]]
) -> None:
    """Deploy every flow of the project at `root` with its generated
    `prefect.yaml` to the process work pool `opflow`, start a worker in another
    folder, run each deployment of `runs` in turn (name, its `--param` values) and wait
    until every run completed."""
    prefect_yaml = root / "run_cache" / "orchestration" / "prefect.yaml"
    assert prefect_yaml.exists()
    env = {
        **_clean_env(),
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
    }

    def prefect(*args: str) -> subprocess.CompletedProcess[str]:
        return prefect_cli(root, env, *args)

    create_process_pool(root, env)
    deploy = prefect(
        "--no-prompt",
        "deploy",
        "--all",
        "--prefect-file",
        "run_cache/orchestration/prefect.yaml",
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    for name in {name for name, _ in runs} | {"all/all"}:
        assert f"Deployment '{name}' successfully created" in deploy.stdout

    # The worker starts elsewhere: the deployment alone must find the code.
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    log = tmp_path / "worker.log"
    worker_argv = [str(PREFECT), "worker", "start", "--pool", "opflow"]
    worker = start_background(worker_argv, elsewhere, env, log)
    try:
        for name, values in runs:
            started = prefect("deployment", "run", name, *params(*values))
            assert started.returncode == 0, started.stdout + started.stderr
            found = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout)
            assert found, started.stdout
            wait_for_flow_run(api, found[1], log)
    finally:
        code, _ = stop_background(worker, signal.SIGINT, timeout=30)
    assert code is not None, f"the worker ignored SIGINT:\n{log.read_text()}"


def test_generated_prefect_yaml_deploys_to_a_process_worker(
    opflow: Opflow, tmp_path: Path, prefect_api: str
) -> None:
    # The flow is named like the package its operations import (`work`):
    # an entrypoint by file would load its module under that name, hiding
    # the package; the generated one is by import path.
    root = side_effect_project(tmp_path / "deployed", "work")
    out = tmp_path / "deployed-result.json"
    built = opflow("build", cwd=root)
    assert built.code == 0, str(built)
    prefect_yaml = (root / "run_cache" / "orchestration" / "prefect.yaml").read_text()
    assert 'entrypoint: "run_cache.orchestration.work:work_flow"' in prefect_yaml

    # The second run, started from Prefect, runs part of the flow: `record`
    # alone, reading the square the first run kept (81), not 5 * 5.
    part = tmp_path / "deployed-part.json"
    deploy_and_run_on_a_process_worker(
        root,
        tmp_path,
        prefect_api,
        [
            ("work/work", ["n=9", f"out={out}"]),
            ("work/work", ["n=5", f"out={part}", "opflow_select=work.record"]),
        ],
    )

    assert json.loads(out.read_text())["square"] == 81
    assert json.loads(part.read_text())["square"] == 81


def prefect_cli(
    root: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """The `prefect` command of the test Python, in `root`."""
    return subprocess.run(
        [str(PREFECT), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def create_process_pool(root: Path, env: dict[str, str]) -> None:
    """The work pool `opflow` the generated `prefect.yaml` names, once."""
    pool = prefect_cli(root, env, "work-pool", "create", "opflow", "--type", "process")
    assert pool.returncode == 0 or "already exists" in pool.stdout, pool.stdout


# 10. Dask ------------------------------------------------------------------------------

DASK = 'version = 1\n\n[flows.d]\ntask_runner = "dask"\n' + "".join(
    dedent(f"""
    [[operations]]
    name = "{flow}.{step}"
    call = "pid_ops:{step}"
    returns = "int"
    """)
    for flow in ("d", "t")
    for step in ("a", "b", "c", "e")
)

DASK_PY = "import os\nimport time\n" + "".join(
    f"""

def {step}() -> int:
    time.sleep(1)
    return os.getpid()
"""
    for step in ("a", "b", "c", "e")
)


def test_dask_task_runner_spreads_operations_over_processes(
    opflow: Opflow, tmp_path: Path
) -> None:
    pytest.importorskip("prefect_dask")
    root = write_project(tmp_path / "dask", DASK, {"pid_ops.py": DASK_PY})

    configured = opflow("run", "d", "--json", cwd=root)
    overridden = opflow("run", "t", "--json", "--task-runner", "dask", cwd=root)
    threads = opflow("run", "t", "--json", cwd=root)

    for done in (configured, overridden, threads):
        assert done.code == 0, str(done)
        assert done.summary["all"] == "4", str(done)
    assert len(set(configured.result.values())) >= 2, configured.result
    assert len(set(overridden.result.values())) >= 2, overridden.result
    # Without the override, the thread runner keeps them in one process.
    assert len(set(threads.result.values())) == 1, threads.result


# Running part of a flow --------------------------------------------------------

# The steps of the projects below: each records that it ran, in `ran.log`.
RAN = """\
from pathlib import Path

HERE = Path(__file__).parent


def _ran(name):
    with (HERE / "ran.log").open("a") as log:
        log.write(name + "\\n")
"""

CHAIN_STEPS = f"""{RAN}

def a(seed: int) -> int:
    _ran("a")
    return seed + 1


def b(a: int) -> int:
    _ran("b")
    return a * 2


def c(b: int) -> int:
    _ran("c")
    return b + 3


def d(c: int) -> int:
    _ran("d")
    if (HERE / "broken").exists():
        raise RuntimeError("d is broken")
    return c * 10


def e(d: int) -> int:
    _ran("e")
    return d - 1


def side(a: int) -> int:
    _ran("side")
    return a + 100
"""


def chain_manifest() -> str:
    """Five operations in a chain (a -> b -> c -> d -> e) and `side`, which
    takes `a` too; `a` and `side` are tagged `source`."""
    text = 'version = 1\n\n[project]\nname = "chain"\n'
    previous = None
    for name in "abcde":
        params = (
            '{ seed = "int" }'
            if previous is None
            else f'{{ {previous} = {{ type = "int", from = "chain.{previous}" }} }}'
        )
        tags = '\ntags = ["source"]' if name == "a" else ""
        text += (
            f'\n[[operations]]\nname = "chain.{name}"\ncall = "steps:{name}"\n'
            f'params = {params}\nreturns = "int"{tags}\n'
        )
        previous = name
    text += (
        '\n[[operations]]\nname = "chain.side"\ncall = "steps:side"\n'
        'params = { a = { type = "int", from = "chain.a" } }\nreturns = "int"\n'
        'tags = ["source"]\n'
    )
    return text


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    (tmp_path / "operations.toml").write_text(chain_manifest())
    (tmp_path / "steps.py").write_text(CHAIN_STEPS)
    return tmp_path


def ran(folder: Path) -> list[str]:
    """What ran since the last call, in order."""
    log = folder / "ran.log"
    lines = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_resume_runs_only_what_did_not_complete(opflow: Opflow, chain: Path) -> None:
    (chain / "broken").touch()
    failed = opflow("run", "chain", "--param", "seed=1", cwd=chain)
    assert failed.code == 1, str(failed)
    assert "operation `chain.d` failed" in failed.stderr
    assert sorted(ran(chain)) == ["a", "b", "c", "d", "side"]
    lines = (chain / ".opflow/results/.runs/chain.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0]["status"] == "RUNNING"
    assert records[0]["parameters"] == {"seed": 1}
    assert records[-1] == {"status": "FAILED"}
    states = {r["operation"]: r["state"] for r in records if "operation" in r}
    assert states["chain.c"] == "COMPLETED"
    assert states["chain.d"] == "FAILED"
    # Each completed operation's result is kept under its name.
    for name in ("chain.a", "chain.b", "chain.c", "chain.side"):
        assert (chain / ".opflow/results" / name).is_file(), name
    assert not (chain / ".opflow/results/chain.d").exists()

    (chain / "broken").unlink()
    resumed = opflow("run", "chain", "--resume", "--json", cwd=chain)
    # ((1 + 1) * 2 + 3) * 10 - 1
    assert resumed.result == {"chain.e": 69, "chain.side": 102}
    assert ran(chain) == ["d", "e"], str(resumed)
    assert "resuming the failed run" in resumed.stderr
    assert "4 of 6 operations are not run again" in resumed.stderr

    again = opflow("run", "chain", "--resume", cwd=chain)
    assert again.code == 1
    assert "completed: nothing to resume" in again.stderr
    assert ran(chain) == []


def test_resume_runs_again_what_changed(opflow: Opflow, chain: Path) -> None:
    (chain / "broken").touch()
    assert opflow("run", "chain", "--param", "seed=1", cwd=chain).code == 1
    ran(chain)
    (chain / "broken").unlink()
    steps = chain / "steps.py"
    steps.write_text(steps.read_text().replace("return b + 3", "return b + 4"))
    resumed = opflow("run", "chain", "--resume", "--json", cwd=chain)
    assert resumed.code == 0, str(resumed)
    assert "changed since that run, so run again: chain.c" in resumed.stderr
    assert ran(chain) == ["c", "d", "e"]


SAME_VALUE_STEPS = f"""{RAN}

def a(seed: int) -> int:
    _ran("a")
    return seed


def c(a: int, k: int) -> int:
    _ran("c")
    return a + k


def d(c: int) -> int:
    _ran("d")
    if (HERE / "broken").exists():
        raise RuntimeError("d is broken")
    return c * 10
"""


def test_resume_after_a_selection_keeps_what_a_kept_value_equal_to_a_parameter_did(
    opflow: Opflow, tmp_path: Path
) -> None:
    # `c` takes `a`'s kept result and the flow parameter `k`, the same
    # small integer (one object in Python): the run of the selection must
    # not record `k` as coming from `a`, or resuming it reruns `c` as
    # changed.
    (tmp_path / "operations.toml").write_text(
        'version = 1\n\n[project]\nname = "same"\n'
        '\n[[operations]]\nname = "same.a"\ncall = "steps:a"\n'
        'params = { seed = "int" }\nreturns = "int"\n'
        '\n[[operations]]\nname = "same.c"\ncall = "steps:c"\n'
        'params = { a = { type = "int", from = "same.a" }, k = "int" }\n'
        'returns = "int"\n'
        '\n[[operations]]\nname = "same.d"\ncall = "steps:d"\n'
        'params = { c = { type = "int", from = "same.c" } }\nreturns = "int"\n'
    )
    (tmp_path / "steps.py").write_text(SAME_VALUE_STEPS)
    (tmp_path / "broken").touch()
    params = ["--param", "seed=5", "--param", "k=5"]
    assert opflow("run", "same", *params, cwd=tmp_path).code == 1
    assert sorted(ran(tmp_path)) == ["a", "c", "d"]
    selected = opflow("run", "same", *params, "--select", "same.c+", cwd=tmp_path)
    assert selected.code == 1, str(selected)
    assert ran(tmp_path) == ["c", "d"]
    (tmp_path / "broken").unlink()
    resumed = opflow("run", "same", "--resume", "--json", cwd=tmp_path)
    assert resumed.code == 0, str(resumed)
    assert resumed.result == 100
    assert "changed since that run" not in resumed.stderr, resumed.stderr
    assert ran(tmp_path) == ["d"], resumed.stderr


def test_select_the_last_operation_reads_its_input(opflow: Opflow, chain: Path) -> None:
    full = opflow("run", "chain", "--param", "seed=1", "--json", cwd=chain)
    assert full.code == 0, str(full)
    ran(chain)
    last = opflow(
        "run", "chain", "--param", "seed=1", "--select", "chain.e", "--json", cwd=chain
    )
    # The other sink did not run: its kept result is returned, as a full run would.
    assert last.result == full.result
    assert ran(chain) == ["e"]


def test_select_upstream_and_tags(opflow: Opflow, chain: Path) -> None:
    upstream = opflow(
        "run", "chain", "--param", "seed=1", "--select", "+chain.c", cwd=chain
    )
    assert upstream.code == 0, str(upstream)
    assert ran(chain) == ["a", "b", "c"]
    tagged = opflow(
        "run",
        "chain",
        "--param",
        "seed=1",
        "--select",
        "tag:source",
        "--exclude",
        "chain.side",
        cwd=chain,
    )
    assert tagged.code == 0, str(tagged)
    assert ran(chain) == ["a"]


def test_a_selection_whose_input_was_never_kept_runs_nothing(
    opflow: Opflow, chain: Path
) -> None:
    done = opflow("run", "chain", "--param", "seed=1", "--select", "chain.e", cwd=chain)
    assert done.code == 1, str(done)
    assert "`chain.d`, an input of chain.e" in done.stderr
    assert "--select '+chain.e'" in done.stderr
    assert ran(chain) == []
    assert not (chain / ".opflow/results/.runs/chain.jsonl").exists()


def test_a_selection_reads_nothing_of_an_ordering_only_dependency(
    opflow: Opflow, chain: Path
) -> None:
    # `chain.e` waits for `chain.side` (`depends_on`) but takes no value of it.
    manifest = chain / "operations.toml"
    text = manifest.read_text()
    after = 'call = "steps:e"\ndepends_on = ["chain.side"]\n'
    manifest.write_text(text.replace('call = "steps:e"\n', after))
    first = opflow(
        "run", "chain", "--param", "seed=1", "--select", "+chain.d", cwd=chain
    )
    assert first.code == 0, str(first)
    assert ran(chain) == ["a", "b", "c", "d"]
    assert not (chain / ".opflow/results/chain.side").exists()
    # `chain.side` was never kept, and `chain.e` needs none of it.
    last = opflow(
        "run", "chain", "--param", "seed=1", "--select", "chain.e", "--json", cwd=chain
    )
    assert last.code == 0, str(last)
    assert "never kept" not in last.stderr
    assert last.result == 69  # the only sink now: `chain.side` is waited for
    assert ran(chain) == ["e"]


def test_resume_runs_again_a_completed_input_that_was_not_kept(
    opflow: Opflow, chain: Path
) -> None:
    # `chain.b` and `chain.c` keep nothing; `chain.d` waits for `chain.side`,
    # which keeps nothing either, but takes no value of it.
    manifest = chain / "operations.toml"
    text = manifest.read_text()
    for step in ("b", "c", "side"):
        text = text.replace(
            f'call = "steps:{step}"\n', f'call = "steps:{step}"\npersist = false\n'
        )
    after = 'call = "steps:d"\ndepends_on = ["chain.side"]\n'
    manifest.write_text(text.replace('call = "steps:d"\n', after))
    (chain / "broken").touch()
    failed = opflow("run", "chain", "--param", "seed=1", cwd=chain)
    assert failed.code == 1, str(failed)
    assert "operation `chain.d` failed" in failed.stderr
    assert sorted(ran(chain)) == ["a", "b", "c", "d", "side"]
    assert not (chain / ".opflow/results/chain.c").exists()

    (chain / "broken").unlink()
    resumed = opflow("run", "chain", "--resume", "--json", cwd=chain)
    # `chain.d` takes `chain.c`'s value, which takes `chain.b`'s: both run
    # again; `chain.a` is read; `chain.side` is only waited for.
    assert resumed.code == 0, str(resumed)
    assert resumed.result == 69
    assert ran(chain) == ["b", "c", "d", "e"], str(resumed)
    assert "2 of 6 operations are not run again" in resumed.stderr


def test_clean_removes_kept_results_only(opflow: Opflow, chain: Path) -> None:
    assert opflow("run", "chain", "--param", "seed=1", cwd=chain).code == 0
    mine = chain / ".opflow/results/notes.txt"
    mine.write_text("mine")
    cleaned = opflow("clean", cwd=chain)
    assert cleaned.code == 0, str(cleaned)
    assert "removed 7 kept results and run states" in cleaned.stderr
    assert sorted(p.name for p in (chain / ".opflow/results").iterdir()) == [
        "notes.txt"
    ]


def test_cache_policies_compose(opflow: Opflow, chain: Path) -> None:
    manifest = chain / "operations.toml"
    manifest.write_text(
        manifest.read_text().replace(
            '[project]\nname = "chain"\n',
            '[project]\nname = "chain"\n\n[defaults]\ncache = ["inputs", "task_source"]\n',
        )
    )
    first = opflow("run", "chain", "--param", "seed=1", "--json", cwd=chain)
    assert first.code == 0, str(first)
    assert sorted(ran(chain)) == ["a", "b", "c", "d", "e", "side"]
    # Same inputs, same code: every operation is Prefect's cached result.
    again = opflow("run", "chain", "--param", "seed=1", "--json", cwd=chain)
    assert again.result == first.result
    assert ran(chain) == []
    # New code in `c`: it runs again, and what takes its (new) value.
    steps = chain / "steps.py"
    steps.write_text(steps.read_text().replace("return b + 3", "return b + 4"))
    changed = opflow("run", "chain", "--param", "seed=1", "--json", cwd=chain)
    assert changed.result["chain.e"] == ((1 + 1) * 2 + 4) * 10 - 1
    assert ran(chain) == ["c", "d", "e"]


# 11. Process and Dask task runners, however Prefect loads the flow ---------------------
#
# `opflow run` imports the package by name; a process worker (from `prefect.yaml`)
# and `opflow serve` load each flow from its file, as a package named after the
# file. Either way the tasks, the named-output picks and the `executor = "process"`
# operation are pickled to other processes, which may not import the package.

SPREAD = (
    'version = 1\n\n[project]\nname = "spread"\n'
    + "".join(
        f'\n[flows.{flow}]\ntask_runner = "{runner}"\n'
        for flow, runner in (("p", "process"), ("d", "dask"))
    )
    + "".join(
        dedent(f"""
        [[operations]]
        name = "{flow}.split"
        call = "work.spread:split"
        params = {{ n = "int" }}
        outputs = {{ low = "int", high = "int" }}

        [[operations]]
        name = "{flow}.crunch"
        call = "work.spread:crunch"
        executor = "process"
        params = {{ low = "int", high = "int" }}
        depends_on = ["{flow}.split"]
        returns = "int"

        [[operations]]
        name = "{flow}.report"
        call = "work.spread:report"
        params = {{ crunch = "int", low = "int", out = {{ type = "str", default = "" }} }}
        depends_on = ["{flow}.split", "{flow}.crunch"]
        returns = "list[int]"
        """)
        for flow in ("p", "d")
    )
)

SPREAD_PY = """\
import json
import multiprocessing
from pathlib import Path


def split(n: int) -> dict[str, int]:
    return {"low": n, "high": n * 10}


def crunch(low: int, high: int) -> int:
    return sum(range(low, high))


def report(crunch: int, low: int, out: str = "") -> list[int]:
    # Whether this ran in a child process of the flow's (a task runner's worker).
    in_child = multiprocessing.parent_process() is not None
    result = [crunch, low, int(in_child)]
    if out:
        Path(out).write_text(json.dumps(result))
    return result
"""

# For n = 3: crunch = sum(range(3, 30)), low = 3, and `report` ran in a child.
SPREAD_RESULT = [432, 3, 1]


def spread_project(root: Path) -> Path:
    return write_project(
        root, SPREAD, {"work/__init__.py": "", "work/spread.py": SPREAD_PY}
    )


def test_process_and_dask_task_runners_under_opflow_run(
    opflow: Opflow, tmp_path: Path
) -> None:
    root = spread_project(tmp_path / "spread")

    for flow in ("p", "d"):
        done = opflow("run", flow, "--param", "n=3", "--json", cwd=root)
        assert done.result == SPREAD_RESULT, str(done)
        assert done.summary["all"] == "3", str(done)


def test_process_and_dask_task_runners_deployed_to_a_process_worker(
    opflow: Opflow, tmp_path: Path, prefect_api: str
) -> None:
    root = spread_project(tmp_path / "spread")
    built = opflow("build", cwd=root)
    assert built.code == 0, str(built)
    outs = {flow: tmp_path / f"{flow}.json" for flow in ("p", "d")}

    deploy_and_run_on_a_process_worker(
        root,
        tmp_path,
        prefect_api,
        [(f"{flow}/{flow}", ["n=3", f"out={out}"]) for flow, out in outs.items()],
    )

    for out in outs.values():
        assert json.loads(out.read_text()) == SPREAD_RESULT


def test_process_and_dask_task_runners_under_opflow_serve(
    opflow: Opflow, tmp_path: Path
) -> None:
    root = spread_project(tmp_path / "spread")
    outs = {flow: tmp_path / f"{flow}.json" for flow in ("p", "d")}

    serve_and_run(
        opflow,
        root,
        tmp_path,
        {f"{flow}/{flow}": {"n": 3, "out": str(out)} for flow, out in outs.items()},
        # A Dask cluster stopping in a flow run's process may log
        # distributed's CommClosedError with its traceback (Dask's, not
        # opflow's); serve itself must still stop cleanly (exit 0).
        clean_log=False,
    )

    for out in outs.values():
        assert json.loads(out.read_text()) == SPREAD_RESULT
