"""mod: the renderers (no dump needed), and the command on the real dump against the
guest's /proc/modules and Debian's crash."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, pycrash
from pycrash.commands.mod import ModuleRow, Taint, render, render_taints

from pycrash.command import Result


@pytest.mark.fast
def test_modules() -> None:
    rows = [ModuleRow(0xFFFFFFFFC02E3340, "virtio_ring", 0xFFFFFFFFC02DC000, 49152, None),
            ModuleRow(0xFFFFFFFFC02F02C0, "virtio", 0xFFFFFFFFC02EE000, 20480, "/x/virtio.ko")]
    assert list(render(Result(rows))) == [
        "     MODULE       NAME               BASE         SIZE  OBJECT FILE",
        "ffffffffc02e3340  virtio_ring  ffffffffc02dc000  49152  (not loaded)  [CONFIG_KALLSYMS]",
        "ffffffffc02f02c0  virtio       ffffffffc02ee000  20480  /x/virtio.ko"]


@pytest.mark.fast
def test_taints() -> None:
    assert list(render_taints(Result([]))) == ["no tainted modules"]
    assert list(render_taints(Result([Taint("pcfix", "OE")]))) == [
        "NAME                 TAINTS", "pcfix                OE"]


def test_mod_loads_module_debuginfo(dump: Dump) -> None:
    ko = dump.dir / "modules-debug" / "dummy.ko"
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore),
                  "-x", f"mod -s dummy {ko}; sym dummy_setup; mod -t")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    assert lines[1].split()[1] == "dummy" and lines[1].endswith(str(ko))
    # the file under the build directory, as crash 8.0.2 (gdb) prints it for this module too
    assert re.match(r"^[0-9a-f]{16} \(t\) dummy_setup \[dummy\] debian/build/"
                    r"build_amd64_none_cloud-amd64/drivers/net/dummy\.c: \d+$", lines[2])
    assert lines[3] == "no tainted modules"
    every = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "mod -S")
    loaded = [line for line in every.out.splitlines() if line.endswith(".ko")]
    assert {line.split()[1] for line in loaded} == {"dummy", "loop"}


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
