"""bpf: the small fixture's guest loads no eBPF programs or maps, so the output is crash
8.0.2's on the same dump (a blank line, the errors); the tracing fixture's guest (matrix)
loaded a socket filter and two maps: every flag as crash prints it there, and the records
against what the guest's kernel said of them (bpf() and fdinfo); the tables are also
checked on records (crash's help example)."""

from __future__ import annotations

import pytest
from conftest import Dump, crash_commands, fixture_dump
from pycrash.commands.bpf import BpfInsn, BpfJited, BpfView, render

from pycrash.command import Result
from pycrash.kernel.bpf import BpfMap, BpfProg
from pycrash.kernel.bpfinsn import Namer, instructions

LINES = ["bpf", "bpf -P", "bpf -M", "bpf -p 1", "bpf -m 3", "bpf -j", "bpf -t", "bpf -s"]


@pytest.fixture(scope="module")
def crash_bpf(dump: Dump) -> dict[str, list[str]]:
    return crash_commands(dump, LINES)


@pytest.mark.parametrize("line", LINES)
def test_bpf_equals_crash(session, crash_bpf: dict[str, list[str]], line: str) -> None:
    from pycrash.errors import CommandError

    try:
        ours = str(session.run(line)).splitlines()
    except CommandError as exc:
        ours = [f"bpf: {exc}"]
    assert ours == crash_bpf[line]


@pytest.mark.fast
def test_tables_render_as_crash() -> None:
    """Laid out by crash's own mkstring() centring (its help example's spacing is edited
    by hand: its header and rows disagree by a space)."""
    p = BpfProg(13, 0xFFFFBC00C06D1000, 0xFFFF9FF260F0C400, "CGROUP_SKB", "7be49e3934a125ba",
                [13, 14], 296, 229, 1, 0, True, "", 0)
    m = BpfMap(13, 0xFFFF9FF260F0EC00, "LPM_TRIE", 1, 8, 8, 1, "", 0)
    view = BpfView(True, True, False, False, 13, 14)
    assert list(render(Result([p, m], view=view))) == [
        " ID      BPF_PROG       BPF_PROG_AUX   BPF_PROG_TYPE       TAG        USED_MAPS",
        " 13  ffffbc00c06d1000 ffff9ff260f0c400  CGROUP_SKB   7be49e3934a125ba   13,14   ",
        "",
        " ID      BPF_MAP       BPF_MAP_TYPE  MAP_FLAGS",
        " 13  ffff9ff260f0ec00    LPM_TRIE     00000001 ",
    ]


# --- the tracing fixture: the guest loaded a socket filter and two maps (pcfix_ipc.c) -----

TRACING_LINES = ["bpf", "bpf -P", "bpf -M", "bpf -p 1", "bpf -m 1", "bpf -m 2", "bpf -p 1 -t",
                 "bpf -p 1 -T", "bpf -p 1 -j", "bpf -P -M", "bpf -PM -jT", "bpf -p 1 -s",
                 "bpf -m 1 -s", "bpf -m 2 -s -x", "bpf -p 1 -s -x", "bpf -p 3", "bpf -m 9"]


@pytest.fixture(scope="module")
def tracing() -> Dump:
    return fixture_dump("tracing")


@pytest.fixture(scope="module")
def tsession(tracing: Dump):  # type: ignore[no-untyped-def]
    return tracing.open()


def _documented(lines: list[str]) -> list[str]:
    """A bpf output with the lines where pycrash differs from crash on purpose left out:
    LOAD_TIME (crash adds the load time to the host's boot time, pycrash to the dump's)
    and bpf_prog.tag with -s (gdb prints its bytes that form UTF-8 as characters in a
    UTF-8 locale, pycrash as octal escapes, locale or not)."""
    return [line for line in lines
            if not line.startswith("     LOAD_TIME: ") and not line.startswith("  tag = ")]


def test_bpf_equals_crash_on_a_program_and_maps(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    """Every flag as crash 8.0.2 prints it on the same dump: the tables (the type columns
    as wide as crash makes them), -p/-P and -m/-M's detail (MEMLOCK in bytes), the
    translated bytecode (-t, -T: the verifier's inlined array lookup, the map named
    map[id:1], the atomic add), the JIT code as gdb disassembles it (-j), the structures
    (-s, -x)."""
    theirs = crash_commands(tracing, TRACING_LINES)
    for line in TRACING_LINES:
        from pycrash.errors import CommandError

        try:
            ours = str(tsession.run(line)).splitlines()
        except CommandError as exc:
            ours = [f"bpf: {exc}"]
        assert _documented(ours) == _documented(theirs[line]), line
    assert sum(line.startswith("   0xffff") for line in theirs["bpf -p 1 -j"]) > 20
    assert "  15: (db) lock *(u64 *)(r0 +0) += r1" in theirs["bpf -p 1 -t"]
    assert any(line.startswith("     LOAD_TIME: ") for line in theirs["bpf -p 1"])


def _truth(tracing: Dump) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in tracing.truth("bpf.txt").splitlines():
        key, _, rest = line.partition(" ")
        out.setdefault(key, []).append(rest)
    return out


def _fdinfo(tracing: Dump) -> dict[int, dict[str, str]]:
    fds: dict[int, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in tracing.truth("bpf-fdinfo.txt").splitlines():
        if line.startswith("FD "):
            current = fds.setdefault(int(line[3:]), {})
        else:
            key, _, value = line.partition(":")
            current[key] = value.strip()
    return fds


def test_bpf_records_are_what_the_guests_kernel_said(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    """The program and maps as the bpf() syscall (BPF_OBJ_GET_INFO_BY_FD) and fdinfo
    described them in the guest: ids, types, tag, sizes, name, the maps used, memlock,
    load time; the translated instructions byte for byte (the kernel's copy names the map
    by id where the program holds its address) and the JIT code byte for byte."""
    truth = _truth(tracing)
    fdinfo = _fdinfo(tracing)
    by_id = {int(v["prog_id"]): v for v in fdinfo.values() if "prog_id" in v}
    maps_by_id = {int(v["map_id"]): v for v in fdinfo.values() if "map_id" in v}
    pid, ptype, tag, xlated, jited, name = truth["prog"][0].split()
    progs = [r for r in tsession.run("bpf -P").rows if isinstance(r, BpfProg)]
    assert len(progs) == 1
    p = progs[0]
    assert (p.id, p.type, p.tag, p.xlated, p.jited, p.name) == \
        (int(pid), "SOCKET_FILTER", tag, int(xlated), int(jited), name)
    assert p.used_maps == [int(m) for m in truth["used_maps"][0].split()]
    assert p.memlock == int(by_id[p.id]["memlock"]) and by_id[p.id]["prog_tag"] == p.tag
    assert p.load_time_ns == int(truth["load_time"][0])
    date = int(tracing.truth("date.txt"))
    assert p.load_time is not None and date - 60 <= p.load_time <= date
    assert p.bpf_func == int(truth["jited_ksym"][0], 16)
    maps = [r for r in tsession.run("bpf -M").rows if isinstance(r, BpfMap)]
    kinds = {1: "HASH", 2: "ARRAY"}
    assert [(m.id, m.type, m.key_size, m.value_size, m.max_entries, m.flags, m.name)
            for m in maps] == [
        (int(i), kinds[int(t)], int(k), int(v), int(n), int(f), nm)
        for i, t, k, v, n, f, nm in (line.split() for line in truth["map"])]
    assert [m.memlock for m in maps] == [int(maps_by_id[m.id]["memlock"]) for m in maps]
    # the translated bytecode, instruction by instruction
    rows = [r for r in tsession.run("bpf -p 1 -T").rows if isinstance(r, BpfInsn)]
    theirs = bytes.fromhex(truth["xlated"][0])
    assert sum(len(r.bytes) // 2 for r in rows) == len(theirs) == p.xlated
    for r in rows:
        ours = bytes.fromhex(r.bytes)
        kernel = theirs[8 * r.index:8 * r.index + len(ours)]
        if ours[0] == 0x18:  # ld_imm64 of a map: the kernel's copy has its id, not address
            map_id = int.from_bytes(kernel[4:8], "little")
            assert r.text == f"(18) r{ours[1] & 0xF} = map[id:{map_id}]"
            assert kernel[1] >> 4 == 1  # BPF_PSEUDO_MAP_FD
        else:
            assert ours == kernel, r
    # the JIT code: the instructions -j shows cover its bytes
    code = [r for r in tsession.run("bpf -p 1 -j").rows if isinstance(r, BpfJited)]
    assert code[0].address == p.bpf_func
    assert tsession.prog.read(p.bpf_func, p.jited).hex() == truth["jited"][0]


@pytest.mark.fast
def test_instructions_as_crash_and_the_kernel_write_them() -> None:
    """crash's texts (adapted from the kernel's disassembler), and the kernel's own for
    what crash 8.0.2 does not decode (JMP32, atomics other than add)."""
    import struct

    def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
        return struct.pack("<BBhi", code, dst | src << 4, off, imm)

    namer = Namer(map_id={0xFFFF888001234000: 7}.get,
                  helper=lambda imm: "bpf_map_lookup_elem" if imm == 1 else None,
                  kernel_function=lambda imm: "bpf_skb_load_bytes" if imm == 6793152 else None)
    code = b"".join([
        insn(0x18, 1, 1, imm=0x01234000), insn(0, imm=-0x7780),     # ld_imm64 of a map
        insn(0x85, imm=1), insn(0x85, imm=6793152), insn(0x85, src=1, imm=-3),
        insn(0xDC, 2, imm=16), insn(0x84, 3), insn(0x87, 3),        # be16, neg32, neg64
        insn(0xBC, 1, 2), insn(0x07, 3, imm=-8),                    # w1 = w2, r3 += -8
        insn(0x30, imm=12), insn(0x50, src=4, imm=2),               # ld_abs, ld_ind
        insn(0x2D, 1, 2, off=-5), insn(0x26, 1, off=2, imm=5),     # jgt reg, jmp32 imm
        insn(0xDB, 0, 1, imm=0x40), insn(0xDB, 0, 1, imm=0x01),     # atomic or, fetch_add
        insn(0xC3, 0, 2, off=4, imm=0xF1), insn(0x05, off=3), insn(0x95),
    ])
    lines = [(n, t) for n, t, _b in instructions(code, namer)]
    assert lines == [
        (0, "(18) r1 = map[id:7]"),
        (2, "(85) call bpf_map_lookup_elem#1"), (3, "(85) call bpf_skb_load_bytes#6793152"),
        (4, "(85) call pc-3"),
        (5, "(dc) r2 = be16 r2"), (6, "(84) r3 = (u32) -r3"), (7, "(87) r3 = -r3"),
        (8, "(bc) (u32) r1 = (u32) r2"), (9, "(07) r3 += -8"),
        (10, "(30) r0 = *(u8 *)skb[12]"), (11, "(50) r0 = *(u8 *)skb[r4 + 2]"),
        (12, "(2d) if r1 > r2 goto pc-5"), (13, "(26) if w1 > 0x5 goto pc+2"),
        (14, "(db) lock *(u64 *)(r0 +0) |= r1"),
        (15, "(db) r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)"),
        (16, "(c3) r0 = atomic_cmpxchg((u32 *)(r0 +4), r0, r2)"),
        (17, "(05) goto pc+3"), (18, "(95) exit")]
    unknown = Namer()
    assert [t for _n, t, _b in instructions(insn(0x85, imm=99999), unknown)] == \
        ["(85) call unknown#99999"]
