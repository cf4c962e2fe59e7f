"""Debian's crash utility as a second oracle where its output is right (sys, mod)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import Dump, pycrash


@pytest.fixture(scope="module")
def crash_out(dump: Dump) -> str:
    if not shutil.which("crash"):
        pytest.fail("the crash utility is not installed (the test command installs it)")
    proc = subprocess.run(["crash", "-s", str(dump.vmlinux), str(dump.vmcore)],
                          input="sys\nmod\nq\n", capture_output=True, text=True, timeout=300)
    return proc.stdout


def test_mod_matches_crash_exactly(crash_out: str, dump: Dump) -> None:
    ours = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "mod").out.splitlines()
    theirs = crash_out.splitlines()
    start = theirs.index(ours[0])
    assert theirs[start : start + len(ours)] == ours


def test_mod_matches_guest_proc_modules(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    truth = {}
    for line in dump.truth("modules.txt").splitlines():
        name, size, *_rest, addr = line.split()
        truth[name] = (int(size), int(addr, 16))
    ours = {r.name: (r.size, r.base) for r in session.run("mod").rows}
    assert ours == truth


def test_sys_matches_crash(crash_out: str, dump: Dump) -> None:
    ours = dict(re.findall(r"^ *([A-Z ]+): (.*)$",
                           pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "sys").out,
                           re.M))
    theirs = dict(re.findall(r"^ *([A-Z ]+): (.*)$", crash_out, re.M))
    # crash 8.0.2 finds only a few of a 6.1 kernel's tasks, so TASKS differs
    for key in ("DUMPFILE", "CPUS", "DATE", "UPTIME", "LOAD AVERAGE", "NODENAME", "RELEASE",
                "VERSION", "MEMORY", "PANIC"):
        assert ours[key] == theirs[key], key
    assert ours["MACHINE"].split()[0] == theirs["MACHINE"].split()[0]
