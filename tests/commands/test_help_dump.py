"""help -D (the dump file's headers) and help -r (each CPU's saved registers) on the real
dumps, against crash 8.0.2 and the guest's own records."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest
from conftest import ROOT, Dump, assert_one_line_error, crash_commands, pycrash

#: crash's lines about its own process (pointers, descriptors, page cache) that help -D
#: leaves out or shows as file offsets
OWN_LINES = re.compile(r"^\s*(filename|sub_header_kdump|notes\[\d+\]):")


def _in_order(ours: list[str], theirs: list[str]) -> list[str]:
    """The lines of ``ours`` that are not in ``theirs`` in the same order."""
    missing, j = [], 0
    for line in ours:
        try:
            j = theirs.index(line, j) + 1
        except ValueError:
            missing.append(line)
    return missing


@pytest.mark.parametrize("name", ["vmcore.kdump", "vmcore.elf", "vmcore.flat"])
def test_help_D_is_crash_s_header_dump(dump: Dump, name: str) -> None:
    """Every line help -D prints is crash's, in crash's order (crash adds its own state
    between them), but for the lines that name crash's pointers; the header's values are
    the guest's: its release, and the VMCOREINFO its kernel wrote."""
    path = dump.dir / name
    theirs = crash_commands(Dump(dump.dir, dump.vmlinux, path, dump.release), ["help -D"])
    run = pycrash("-s", str(dump.vmlinux), str(path), "-x", "help -D")
    assert run.rc == 0, run.err
    ours = run.out.splitlines()
    assert len(ours) > 150
    assert [ln for ln in _in_order(ours, theirs["help -D"]) if not OWN_LINES.match(ln)] == []
    release = dump.truth("uname.txt").split()[2]
    assert f"OSRELEASE={release}" in run.out
    if name != "vmcore.elf":
        assert f"               release: {release}" in ours
        assert "dump_level: 31 (0x1f)" in run.out  # makedumpfile -d 31 (testdata's build)
    else:
        assert ours.count("Elf64_Nhdr:") == 3  # two CPUs' NT_PRSTATUS and VMCOREINFO


@pytest.mark.parametrize("name", ["vmcore.kdump", "vmcore.elf"])
def test_help_r_is_crash_s_registers(dump: Dump, name: str) -> None:
    """help -r prints each CPU's NT_PRSTATUS registers as crash does; the panicking CPU's
    instruction pointer is in the function the guest's stack of the crashing task names
    first (the sysrq crash: crash_setup_regs in __crash_kexec, so RIP is in it)."""
    path = dump.dir / name
    theirs = crash_commands(Dump(dump.dir, dump.vmlinux, path, dump.release), ["help -r"])
    run = pycrash("-s", str(dump.vmlinux), str(path), "-x", "help -r")
    assert run.rc == 0, run.err
    assert run.out.splitlines() == [
        ln for ln in theirs["help -r"] if not ln.startswith("WARNING")]
    assert run.out.count("CPU ") == 2


def test_help_r_names_the_panic_cpu_s_rip(session) -> None:  # type: ignore[no-untyped-def]
    rows = session.run("help -r").rows
    regs = {r.cpu: r.registers for r in rows}
    sym = session.prog.symbol(regs[1]["rip"]).name
    assert sym == "__crash_kexec", sym  # crash_setup_regs() is inlined there


def test_help_D_of_a_source_without_a_header(dump: Dump) -> None:
    """A raw memory image has no dump file header: one line, non-zero; -r then reads the
    kernel's own crash_notes, the same registers the kdump file's notes hold."""
    spec = importlib.util.spec_from_file_location("derive", ROOT / "testdata" / "derive.py")
    assert spec and spec.loader
    derive = importlib.util.module_from_spec(spec)
    sys.modules["derive"] = derive  # dataclasses look their module up there
    spec.loader.exec_module(derive)
    raw = derive.raw_images(dump.dir)
    run = pycrash("-s", str(dump.vmlinux), *raw, "-x", "help -D")
    assert_one_line_error(run, "help: -D: a raw source has no dump file header")
    ours = pycrash("-s", str(dump.vmlinux), *raw, "-x", "help -r")
    want = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "help -r")
    assert ours.rc == 0, ours.err
    assert ours.out == want.out
