"""The format modules and the ELF readers on the real fixture: the tables read directly agree
with pyelftools, the symbol table read cold gives the same answers, damaged files one line."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from conftest import Dump, assert_one_line_error, pycrash
from elfgen import fake_vmlinux

from pycrash.memory import elffile
from pycrash.memory.formats import DumpKind
from pycrash.memory.formats.kdump import read_header
from pycrash.memory.source import FileSource


def test_section_table_agrees_with_pyelftools(dump: Dump) -> None:
    with elffile.open_elf(str(dump.vmlinux)) as elf:
        theirs = [(s.name, s["sh_flags"], s["sh_offset"], s["sh_size"])
                  for s in elf.iter_sections()]
    ours = [(s.name, s.flags, s.offset, s.size) for s in elffile.sections(str(dump.vmlinux))]
    assert ours == theirs and len(ours) > 50


@pytest.mark.parametrize("name", ["vmcore.elf", "vmcore.full"])
def test_program_headers_agree_with_pyelftools(dump: Dump, name: str) -> None:
    path = str(dump.dir / name)
    with elffile.open_elf(path) as elf:
        theirs = [(s["p_offset"], s["p_paddr"], s["p_filesz"], s["p_memsz"])
                  for s in elf.iter_segments()]
    with FileSource(path) as src:
        hdr = elffile.header(src.pread(0, elffile.EHDR_SIZE))
        assert hdr is not None
        ours = elffile.segments(src, hdr)
    assert ours is not None
    assert [(s.offset, s.paddr, s.filesz, s.memsz) for s in ours] == theirs


def test_kdump_headers(dump: Dump) -> None:
    with FileSource(str(dump.vmcore)) as src:
        whole = read_header(src)
    assert whole.release == dump.release and not whole.split and whole.dump_level > 0
    parts = []
    for name in ("vmcore.split.1", "vmcore.split.2"):
        with FileSource(str(dump.dir / name)) as src:
            parts.append(read_header(src))
    assert parts[0].split and parts[0].start_pfn == 0
    assert parts[0].end_pfn == parts[1].start_pfn and parts[1].end_pfn == whole.max_mapnr


def test_target_is_immutable(session) -> None:  # type: ignore[no-untyped-def]
    target = session.target
    assert target.kind is DumpKind.KDUMP and target.kdump is not None
    assert target.kdump is target.kdump  # made once
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.kind = DumpKind.ELF


def test_symbol_table_read_cold_gives_the_same_answers(dump: Dump, tmp_path: Path) -> None:
    lines = "bt -a; sym start_kernel; rd -s init_task 4"
    warm = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", lines)
    cold = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", lines,
                   env={**os.environ, "PYCRASH_CACHE": str(tmp_path)})
    assert cold.rc == 0 and cold.err == "", cold.err
    assert cold.out == warm.out and "start_kernel" in cold.out
    assert list((tmp_path / "symbols").glob("*.sym"))


def test_damaged_vmlinux_is_one_line(dump: Dump, tmp_path: Path) -> None:
    good = fake_vmlinux(bytes(20), "9.9.9-test")
    hdr = elffile.header(good)
    assert hdr is not None
    damaged = tmp_path / "vmlinux"
    # the section name table's offset pointing far past the end
    at = hdr.shoff + hdr.shstrndx * hdr.shentsize + 24
    damaged.write_bytes(good[:at] + b"\xff" * 8 + good[at + 8 :])
    run = pycrash(str(damaged), str(dump.vmcore))
    assert_one_line_error(run, f"{damaged}: damaged ELF file")
    assert run.err.count("\n") == 1
    damaged.write_bytes(good[: hdr.shoff + 10])
    run = pycrash(str(damaged), str(dump.vmcore))
    assert_one_line_error(run, "the section headers are cut off")
    assert run.err.count("\n") == 1
