"""No vmlinux needed (issue 16): symbols from the dump's kallsyms, types from its BTF.

On each fixture whose kernel has BTF and kallsyms in VMCOREINFO (6.1, 6.12, 7.2), the
core commands print the same text with the vmlinux (DWARF) and with none, but for
:data:`DIFFERENCES`; kernels without what this needs are refused in one line.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
from conftest import Dump, assert_one_line_error, fixture_dump, pycrash
from drgn import sizeof

#: The commands that must print the same with and without the vmlinux.
CORE = ("sys", "ps", "bt -a", "log", "mod", "kmem -s", "files", "net",
        "struct task_struct.pid,comm", "kmem -i", "runq", "task -R pid,comm", "mount",
        "vm 1", "p init_task.comm", "whatis task_struct", "sym schedule", "rd jiffies",
        "dis schedule 4", "foreach bt", "ps -t", "list task_struct.tasks -H init_task.tasks")
#: What differs, and why: the KERNEL line names no file; ``sym`` adds that source lines
#: need DWARF (see test_source_lines_say_they_need_dwarf).
DIFFERENCES = {
    "sys": "KERNEL: names no vmlinux file",
    "sym schedule": "adds one line: source files and lines need DWARF",
}
#: Fixtures of the kernel matrix with BTF and kallsyms in VMCOREINFO (Linux 6.0 on).
BTF_FIXTURES = ("small", "trixie-small", "sid-small")


def _text(session, line: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    from pycrash.errors import PycrashError

    try:
        result = session.run(line)
    except PycrashError as exc:
        return "", [str(exc)]
    return str(result), list(result.errors)


def _btf_session(dump: Dump):  # type: ignore[no-untyped-def]
    import pycrash

    return pycrash.open(str(dump.vmcore), btf=True)


@pytest.fixture(scope="module", params=BTF_FIXTURES)
def pair(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    dump = fixture_dump(request.param)
    return dump, dump.open(), _btf_session(dump)


@pytest.mark.parametrize("line", CORE)
def test_core_commands_print_the_same_without_vmlinux(pair, line: str) -> None:  # type: ignore[no-untyped-def]
    dump, dwarf, btf = pair
    (want, want_err), (got, got_err) = _text(dwarf, line), _text(btf, line)
    if line == "sys":
        want = want.replace(f"KERNEL: {dump.vmlinux}",
                            "KERNEL: (no vmlinux: kallsyms and BTF from the dump)")
    if line == "sym schedule":
        assert len(got_err) == 1 and "need the kernel's debuginfo" in got_err[0]
        got_err = []
        want = want.rsplit(" ", 2)[0] + "\n"  # no source file and line without DWARF
    assert got == want
    assert got_err == want_err


def test_bt_frames_hold_the_guest_stacks(pair) -> None:  # type: ignore[no-untyped-def]
    """The sleepers' traces without vmlinux hold the functions the guest's own
    /proc/PID/stack listed (truth/stacks.txt)."""
    dump, _dwarf, btf = pair
    truth: dict[int, list[str]] = {}
    pid = None
    for line in dump.truth("stacks.txt").splitlines():
        if line.startswith("task "):
            words = line.split()
            pid = int(words[1]) if words[4].startswith("pcfix-sleeper") else None
            if pid is not None:
                truth[pid] = []
        elif pid is not None and line.startswith("[<"):
            truth[pid].append(line.split("] ", 1)[1].split("+")[0])
    assert truth
    for pid, funcs in truth.items():
        text = str(btf.run(f"bt {pid}"))
        for func in funcs:
            assert f" {func} at " in text, (pid, func, text)


def test_types_symbols_and_globals(pair) -> None:  # type: ignore[no-untyped-def]
    _dump, dwarf, btf = pair
    for name in ("struct task_struct", "union bpf_attr", "enum pid_type", "pid_t",
                 "struct list_head", "struct rq"):
        a, b = dwarf.prog.type(name), btf.prog.type(name)
        assert (a.kind, sizeof(a), str(a)) == (b.kind, sizeof(b), str(b)), name
    for name in ("init_task", "jiffies", "slab_caches", "modules", "prb", "runqueues",
                 "init_net", "init_mm", "vmcoreinfo_data"):
        a, b = dwarf.prog[name], btf.prog[name]
        assert (a.address_, a.type_.type_name()) == (b.address_, b.type_.type_name()), name
    # a bitfield and a per-CPU variable, through BTF's kind_flag and DATASEC
    a, b = dwarf.prog.type("struct task_struct"), btf.prog.type("struct task_struct")
    assert [(m.name, m.bit_offset, m.bit_field_size) for m in a.members] == \
        [(m.name, m.bit_offset, m.bit_field_size) for m in b.members]
    assert dwarf.prog["PIDTYPE_TGID"].value_() == btf.prog["PIDTYPE_TGID"].value_()
    assert btf.prog.symbol("schedule").address == dwarf.prog.symbol("schedule").address


def test_source_lines_say_they_need_dwarf(dump: Dump) -> None:
    run = pycrash("-s", "--btf", str(dump.vmcore), "-x", "bt -l")
    assert run.rc == 1
    assert " machine_kexec at " in run.out  # the frames still print
    lines = [x for x in run.err.splitlines() if x.startswith("bt:")]
    assert len(lines) == 1, run.err
    assert f"linux-image-{dump.release}-dbg" in lines[0]
    run = pycrash("-s", "--btf", str(dump.vmcore), "-x", "p max_threads")
    assert_one_line_error(run, "max_threads", "type", f"linux-image-{dump.release}-dbg")


def test_no_vmlinux_found_opens_the_dump(dump: Dump, tmp_path: Path) -> None:
    """With no vmlinux given or found, the dump opens anyway, saying how."""
    (tmp_path / "vmcore").symlink_to(dump.vmcore)
    run = pycrash("-s", str(tmp_path / "vmcore"), "-x", "sys; ps -p 1",
                  env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert run.rc == 0, run.err
    assert f"no vmlinux given or found for release {dump.release}: symbols from the " \
           f"dump's kallsyms, types from its BTF" in run.err
    assert f"RELEASE: {dump.release}" in run.out
    assert "init" in run.out


def test_kernel_without_btf_is_refused(dump: Dump, tmp_path: Path) -> None:
    """A dump whose memory holds no BTF at ``__start_BTF`` (blanked here in a copy of the
    ELF dump) is refused without a vmlinux, in one line naming what is missing."""
    btf = _btf_session(dump)
    start = btf.prog.symbol("__start_BTF").address
    head = btf.prog.read(start, 24)
    copy = tmp_path / "vmcore.elf"
    shutil.copyfile(dump.dir / "vmcore.elf", copy)
    data = bytearray(copy.read_bytes())
    at = data.find(head)
    assert at > 0 and struct.unpack_from("<H", data, at)[0] == 0xEB9F
    data[at:at + 24] = bytes(24)
    copy.write_bytes(bytes(data))
    run = pycrash("-s", "--btf", str(copy), "-x", "sys")
    assert_one_line_error(run, "no BTF at __start_BTF", "a vmlinux is needed",
                          f"linux-image-{dump.release}-dbg")
    assert len(run.err.strip().splitlines()) == 1
    # with the vmlinux it opens as before
    run = pycrash("-s", str(copy), str(dump.vmlinux), "-x", "sys")
    assert run.rc == 0, run.err


@pytest.mark.parametrize("name, missing", [
    ("bullseye-small", "gives no kallsyms tables in its VMCOREINFO"),
    ("arm64-small", "built without CONFIG_KALLSYMS_ALL"),
])
def test_kernels_lacking_what_it_needs_are_refused(name: str, missing: str) -> None:
    dump = fixture_dump(name)
    run = pycrash("-s", "--btf", str(dump.vmcore), "-x", "sys")
    assert_one_line_error(run, missing, "a vmlinux is needed", dump.release)
    assert len(run.err.strip().splitlines()) == 1
