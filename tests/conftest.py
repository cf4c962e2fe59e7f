"""Shared fixtures: the real kdump vmcore (found in the cache or built), and helpers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _fixture_module():  # type: ignore[no-untyped-def]
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


@pytest.fixture(scope="session")
def dump() -> Dump:
    """The small real fixture (building it, about a minute, when not cached)."""
    fx = _fixture_module()
    path = fx.ensure("small")
    vmlinux, vmcore = fx.dump_files(path)
    return Dump(path, vmlinux, vmcore, (path / "kernel-release").read_text().strip())


@pytest.fixture(scope="session")
def session(dump: Dump):  # type: ignore[no-untyped-def]
    """A pycrash Session over the small fixture, shared by the tests that only read."""
    import pycrash

    return pycrash.open(str(dump.vmcore), str(dump.vmlinux))


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
