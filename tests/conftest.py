"""Shared fixtures: the real kdump vmcores (found in the cache or built), and helpers.

Test modules import these helpers as ``conftest``: ``tests/`` is on pytest's
``pythonpath``. pytest itself imports this file as ``tests.conftest`` (its importlib
mode, which lets test files of one name live in two folders), so the file registers
itself under the short name too: one module, one guard, one set of helpers.

The fast tier (``pytest -m fast``) needs no dump: a test marked ``fast`` that asks
for a dump fixture, or reaches the fixture builder, fails instead of building one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.modules.setdefault("conftest", sys.modules[__name__])
pytest_plugins = ("pytester",)  # tests/test_fast_tier.py runs pytest on a test file of its own

ROOT = Path(__file__).resolve().parent.parent
#: the fixtures that open a real dump (or need one): a fast test may use none of them
DUMP_FIXTURES = frozenset({"dump", "session", "zoo", "crash_out"})
#: the other Debian suites of the kernel matrix (testdata/fixture.py's SUITES)
SUITES = ("bullseye", "trixie", "sid")
#: the crash zoo: Debian 12's, 11's, 13's and unstable's kernels crashed four ways by our
#: module
ZOO = tuple(f"{suite}{kind}" for suite in ("", *(f"{s}-" for s in SUITES))
            for kind in ("zoo-oops", "zoo-bug", "zoo-timer", "zoo-warn"))
#: the zoo's hangs, lockups and out-of-memory panic (Debian 12's kernel only)
HANGS = ("zoo-hung", "zoo-abba", "zoo-rwsem", "zoo-softlockup", "zoo-oom")
#: set by ``scripts/test --matrix`` (as CI runs it): the tests of every fixture run, not
#: only those of the small one
MATRIX = bool(os.environ.get("PYCRASH_MATRIX"))
#: the node id of the test marked fast now being set up or run, if any
_fast_test: str | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test marked fast that uses a dump fixture, before the fixture is built."""
    global _fast_test
    _fast_test = item.nodeid if item.get_closest_marker("fast") else None
    used = sorted(DUMP_FIXTURES.intersection(getattr(item, "fixturenames", ())))
    if _fast_test and used:
        pytest.fail(f"{item.nodeid} is marked fast but uses the real-dump fixture "
                    f"{', '.join(used)}: drop the fast mark or the fixture", pytrace=False)


def _fixture_module():  # type: ignore[no-untyped-def]
    if _fast_test is not None:
        pytest.fail(f"{_fast_test} is marked fast but opens a real-dump fixture "
                    "(testdata/fixture.py): drop the fast mark", pytrace=False)
    path = ROOT / "testdata" / "fixture.py"
    spec = importlib.util.spec_from_file_location("pycrash_testdata", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@dataclass(frozen=True)
class Dump:
    """A fixture directory: the dump, its vmlinux, and the guest's own records."""

    dir: Path
    vmlinux: Path
    vmcore: Path
    release: str

    def truth(self, name: str) -> str:
        """Return the text of a ground-truth file the guest wrote before the crash."""
        return (self.dir / "truth" / name).read_text(errors="replace")

    def open(self):  # type: ignore[no-untyped-def]
        """Return a new pycrash Session over this dump."""
        import pycrash

        return pycrash.open(str(self.vmcore), str(self.vmlinux))


def fixture_dump(name: str = "small") -> Dump:
    """Return the named fixture (``small``, ``zoo-oops``, ``bullseye-small``...), building
    it when it is not cached (minutes). Outside the kernel matrix (``scripts/test``
    without ``--matrix``) only the small fixture is used: a test of another is skipped."""
    fx = _fixture_module()  # first: a fast test may not reach any fixture
    if name != "small" and not MATRIX:
        pytest.skip(f"the {name} fixture is in the kernel matrix: scripts/test --matrix")
    path = fx.ensure(name)
    vmlinux, vmcore = fx.dump_files(path)
    return Dump(path, vmlinux, vmcore, (path / "kernel-release").read_text().strip())


@pytest.fixture(scope="session")
def dump() -> Dump:
    """The small real fixture (building it, about a minute, when not cached)."""
    return fixture_dump("small")


@pytest.fixture(scope="session")
def session(dump: Dump):  # type: ignore[no-untyped-def]
    """A pycrash Session over the small fixture, shared by the tests that only read."""
    return dump.open()


@pytest.fixture(scope="module", params=ZOO)
def zoo(request: pytest.FixtureRequest) -> Dump:
    """One crash-zoo dump: the fixture module crashed the kernel in one way."""
    return fixture_dump(request.param)


@pytest.fixture(scope="session")
def crash_out(dump: Dump) -> str:
    """Debian's crash's ``sys`` and ``mod`` on the small fixture (a second oracle)."""
    if not shutil.which("crash"):
        pytest.fail("the crash utility is not installed (the test command installs it)")
    proc = subprocess.run(["crash", "-s", str(dump.vmlinux), str(dump.vmcore)],
                          input="sys\nmod\nq\n", capture_output=True, text=True, timeout=300)
    return proc.stdout


def crash_commands(dump: Dump, commands: list[str],
                   cwd: str | Path = "/tmp") -> dict[str, list[str]]:
    """Run Debian's crash 8.0.2 on a fixture once for several commands (in ``cwd``);
    return each command's output lines (stdout and stderr as crash mixes them, without
    its start-up warnings)."""
    if not shutil.which("crash"):
        pytest.fail("the crash utility is not installed (the test command installs it)")
    mark = "==== pycrash-test "
    script = "".join(f"!echo '{mark}{i}'\n{c}\n" for i, c in enumerate(commands)) + "q\n"
    proc = subprocess.run(["crash", "-s", str(dump.vmlinux), str(dump.vmcore)], input=script,
                          capture_output=True, text=True, timeout=600, cwd=cwd)
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in proc.stdout.splitlines():
        if line.startswith(mark):
            current = out.setdefault(commands[int(line[len(mark):])], [])
        elif current is not None:
            current.append(line)
    return out


@pytest.fixture
def interp():  # type: ignore[no-untyped-def]
    """An interpreter over a session with no kernel and :mod:`sessionstub`'s commands."""
    from sessionstub import StubSession

    from pycrash.interpreter import Interpreter

    return Interpreter(StubSession())


@dataclass(frozen=True)
class Run:
    """A finished pycrash process."""

    rc: int
    out: str
    err: str


def pycrash(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> Run:
    """Run ``python -m pycrash ARGS`` and return its exit status and output."""
    proc = subprocess.run([sys.executable, "-m", "pycrash", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_one_line_error(run: Run, *needles: str) -> None:
    """Assert a failed run: non-zero exit, no traceback, and ``needles`` in stderr."""
    assert run.rc != 0, run
    assert "Traceback" not in run.err, run.err
    for needle in needles:
        assert needle in run.err, run.err


def parse_stat(text: str) -> dict[int, tuple[str, str, int]]:
    """Parse concatenated ``/proc/PID/stat`` lines into ``{pid: (comm, state, ppid)}``."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        pid, rest = line.split(" (", 1)
        comm, tail = rest.rsplit(") ", 1)
        fields = tail.split()
        out[int(pid)] = (comm, fields[0], int(fields[1]))
    return out


def pid_of(dump: Dump, comm: str) -> int:
    """The pid the guest gave a named process (pids differ from build to build)."""
    return next(p for p, (c, _s, _pp) in parse_stat(dump.truth("stat.txt")).items()
                if c == comm)


def same_comm(ours: str, theirs: str, kernel: bool) -> bool:
    """Compare task->comm with /proc's name.

    For kernel threads /proc shows more than the 15 characters of task->comm:
    the full thread name ("rcu_tasks_kthread"), and a kworker's workqueue
    after a '-' ("kworker/0:1-events").
    """
    if ours == theirs:
        return True
    if not kernel or not theirs.startswith(ours):
        return False
    return len(ours) == 15 or theirs[len(ours)] == "-"


def slabinfo(dump: Dump) -> dict[str, tuple[int, int, int]]:
    """Return the guest's /proc/slabinfo: ``{cache: (active_objs, num_objs, objsize)}``."""
    out = {}
    for line in dump.truth("slabinfo.txt").splitlines()[2:]:
        f = line.split()
        out[f[0]] = (int(f[1]), int(f[2]), int(f[3]))
    return out
