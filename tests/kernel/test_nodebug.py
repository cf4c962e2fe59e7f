"""No vmlinux needed (issue 16): symbols from the dump's kallsyms, types from its BTF.

On each fixture whose kernel has BTF (5.10, 6.1, 6.12, 7.2), the core commands print
the same text with the vmlinux (DWARF) and with none, but for :data:`DIFFERENCES`;
kernels without what this needs are refused in one line. Before Linux 6.0 VMCOREINFO
names no kallsyms tables: they are found by scanning the kernel image
(:mod:`pycrash.kernel.kallsyms_scan`), checked here against the VMCOREINFO of 6.1 (which
names them), the vmlinux's symbol table and the guest's own /proc/kallsyms.
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
#: Fixtures of the kernel matrix with BTF and CONFIG_KALLSYMS_ALL: kallsyms in
#: VMCOREINFO (Linux 6.0 on), or found by a scan of the image (Debian 11's 5.10).
BTF_FIXTURES = ("small", "bullseye-small", "trixie-small", "sid-small")
#: The tables VMCOREINFO names since Linux 6.0 (6.1 has no kallsyms_markers there).
TABLES = {"names": "kallsyms_names", "token_table": "kallsyms_token_table",
          "token_index": "kallsyms_token_index", "num_syms": "kallsyms_num_syms",
          "offsets": "kallsyms_offsets", "relative_base": "kallsyms_relative_base"}


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
    ("arm64-small", "built without CONFIG_KALLSYMS_ALL"),
])
def test_kernels_lacking_what_it_needs_are_refused(name: str, missing: str) -> None:
    dump = fixture_dump(name)
    run = pycrash("-s", "--btf", str(dump.vmcore), "-x", "sys")
    assert_one_line_error(run, missing, "a vmlinux is needed", dump.release)
    assert len(run.err.strip().splitlines()) == 1


def test_kallsyms_source(pair) -> None:  # type: ignore[no-untyped-def]
    """Linux 6.0 and later take the tables VMCOREINFO names (no scan, no note); 5.10's
    are found by the scan, which the session's notes time."""
    from pycrash.kernel import kallsyms_scan, nodebug

    dump, _dwarf, btf = pair
    nd = nodebug.info(btf.prog)
    assert nd is not None
    names = kallsyms_scan.vmcoreinfo_symbols(btf.prog)
    if "kallsyms_names" in names:
        assert nd.kallsyms == "vmcoreinfo", dump.release
        assert not [n for n in nd.notes if "scanning" in n]
    else:
        assert dump.release.startswith("5.10."), dump.release
        assert nd.kallsyms == "scan"
        assert [n for n in nd.notes if n.startswith("kallsyms tables found by scanning")]


def test_scan_finds_the_tables_vmcoreinfo_names(dump: Dump) -> None:
    """On 6.1, whose VMCOREINFO names the tables (its layout is 5.10's, with 6.2's
    kallsyms_seqs_of_names backported), the scan finds them at those very addresses,
    and the symbols drgn loads from them are drgn's from VMCOREINFO, one for one."""
    import drgn
    from drgn.helpers.linux.kallsyms import load_vmlinux_kallsyms

    from pycrash.kernel import kallsyms_scan

    prog = drgn.Program()
    prog.set_core_dump(str(dump.vmcore))
    found = kallsyms_scan.find_tables(prog, dump.release)
    named = kallsyms_scan.vmcoreinfo_symbols(prog)
    assert {key: getattr(found, key) for key in TABLES} == \
        {key: named[name] for key, name in TABLES.items()}
    assert found.count == prog.read_u32(named["kallsyms_num_syms"])
    assert found.addresses == 0  # base-relative: offsets and a base

    def table(index: drgn.SymbolIndex) -> list[tuple[str, int, int]]:
        return sorted((s.name, s.address, s.size) for s in index(prog, None, None, False))

    scanned = table(kallsyms_scan.load_index(prog, found))
    assert len(scanned) == found.count
    assert scanned == table(load_vmlinux_kallsyms(prog))


def test_scan_gives_up_in_one_line(dump: Dump) -> None:
    """Out of time, the scan says so in one line (the limit bounds every scan)."""
    import drgn

    from pycrash.kernel import kallsyms_scan

    prog = drgn.Program()
    prog.set_core_dump(str(dump.vmcore))
    with pytest.raises(kallsyms_scan.KallsymsScanError, match=r"^no kallsyms tables found "
                       r"in 0 s of scanning the kernel image$"):
        kallsyms_scan.find_tables(prog, dump.release, timeout=0)


def _link_symbols(vmlinux: Path) -> dict[str, set[int]]:
    """Every symbol of the vmlinux's .symtab: its link-time addresses (System.map)."""
    from pycrash.memory.elffile import open_elf

    with open_elf(str(vmlinux)) as elf:
        sections = elf.get_section_by_name(".symtab"), elf.get_section_by_name(".strtab")
        assert sections[0] is not None and sections[1] is not None
        symtab, strtab = sections[0].data(), sections[1].data()
    out: dict[str, set[int]] = {}
    for name, _info, _other, _shndx, value, _size in struct.iter_unpack(
            "<IBBHQQ", symtab[:len(symtab) - len(symtab) % 24]):
        if name:
            out.setdefault(strtab[name:strtab.index(b"\0", name)].decode(), set()).add(value)
    return out


def test_scanned_symbols_are_the_vmlinux_symbols() -> None:
    """On 5.10 (no tables in VMCOREINFO), every symbol the scan's tables give is in the
    vmlinux's symbol table at the same address plus the KASLR offset (per-CPU ones,
    absolute in kallsyms, as linked), and the guest's /proc/kallsyms agrees."""
    dump = fixture_dump("bullseye-small")
    btf = _btf_session(dump)
    from pycrash.kernel import nodebug

    nd = nodebug.info(btf.prog)
    assert nd is not None and nd.kallsyms == "scan" and nd.vmlinux_symbols is not None
    symbols = nd.vmlinux_symbols(btf.prog, None, None, False)
    text = btf.prog["VMCOREINFO"].string_().decode()
    offset = int(text.split("KERNELOFFSET=")[1].split()[0], 16)
    assert offset  # KASLR moved the kernel: the offset is exercised
    link = _link_symbols(dump.vmlinux)
    wrong = [(s.name, hex(s.address)) for s in symbols
             if s.address - offset not in link.get(s.name, ())
             and s.address not in link.get(s.name, ())]
    assert not wrong, wrong[:10]
    assert len(symbols) > 50000
    percpu = [s for s in symbols if s.address in link.get(s.name, ())]
    assert any(s.name == "runqueues" for s in percpu)  # absolute per-CPU symbols seen
    truth = [line.split() for line in dump.truth("kallsyms.txt").splitlines()]
    assert truth
    for address, _kind, name in truth:
        assert btf.prog.symbol(name).address == int(address, 16), name


def test_blanked_kallsyms_tables_are_refused(tmp_path: Path) -> None:
    """A 5.10 dump whose token index is zeroed (in a copy of the ELF dump) has no tables
    the scan accepts: it is refused without a vmlinux, in one line."""
    from pycrash.kernel import kallsyms_scan

    dump = fixture_dump("bullseye-small")
    btf = _btf_session(dump)
    tables = kallsyms_scan.find_tables(btf.prog, dump.release)
    head = btf.prog.read(tables.token_index, 512)
    copy = tmp_path / "vmcore.elf"
    shutil.copyfile(dump.dir / "vmcore.elf", copy)
    data = bytearray(copy.read_bytes())
    at, blanked = data.find(head), 0
    while at >= 0:  # the image's, and any copy of it elsewhere in memory
        data[at:at + 512] = bytes(512)
        at, blanked = data.find(head, at), blanked + 1
    assert blanked
    copy.write_bytes(bytes(data))
    run = pycrash("-s", "--btf", str(copy), "-x", "sys")
    assert_one_line_error(run, "names no kallsyms tables in its VMCOREINFO",
                          "no kallsyms tables in the kernel image", "candidate token tables "
                          "rejected", "a vmlinux is needed", f"linux-image-{dump.release}-dbg")
    assert len(run.err.strip().splitlines()) == 1
    # with the vmlinux it opens as before
    run = pycrash("-s", str(copy), str(dump.vmlinux), "-x", "sys")
    assert run.rc == 0, run.err
