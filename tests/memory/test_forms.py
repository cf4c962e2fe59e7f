"""Every dump source, made from one real kdump, gives the same answers."""

from __future__ import annotations

import importlib.util
import shutil
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT, Dump, assert_one_line_error, pycrash

from pycrash.memory.formats.flattened import open_source
from pycrash.memory.formats.kdump import KdumpFile


def _derive() -> ModuleType:
    spec = importlib.util.spec_from_file_location("derive", ROOT / "testdata" / "derive.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["derive"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def forms(dump: Dump) -> dict[str, list[str]]:
    """Command-line arguments that open each form of the same crash."""
    derive = _derive()
    image, hdr = derive.oldmem_image(dump.dir)
    return {
        "kdump": [str(dump.vmcore)],
        "elf": [str(dump.dir / "vmcore.elf")],
        "flattened": [str(dump.dir / "vmcore.flat")],
        "split": [str(dump.dir / "vmcore.split.1"), str(dump.dir / "vmcore.split.2")],
        "full-elf": [str(dump.dir / "vmcore.full")],
        "oldmem": ["--oldmem", str(image), "--elfcorehdr", hex(hdr)],
        "raw": derive.raw_images(dump.dir),
        "lime": [str(derive.lime_image(dump.dir))],
    }


def _answers(dump: Dump, args: list[str]) -> tuple[str, list[str], list[str]]:
    run = pycrash("-s", "--output", "json", str(dump.vmlinux), *args, "-x", "sys; ps; bt")
    assert run.rc == 0, run.err
    import json

    sys_doc, ps_doc, bt_doc = (json.loads(line) for line in run.out.splitlines())
    info = sys_doc["rows"][0]
    rows = [f"{r['pid']} {r['ppid']} {r['task']:x} {r['state']} {r['comm']}"
            for r in ps_doc["rows"]]
    frames = [f"{f['stack_addr']:x} {f['function']} {f['pc']:x}"
              for f in bt_doc["rows"][0]["frames"]]
    return f"{info['release']} | {info['panic']} | {info['panic_task']['pid']}", rows, frames


@pytest.mark.parametrize("form", ["elf", "flattened", "split", "full-elf", "oldmem", "raw",
                                  "lime"])
def test_every_form_gives_the_same_answers(dump: Dump, forms: dict[str, list[str]],
                                           form: str) -> None:
    want = _answers(dump, forms["kdump"])
    got = _answers(dump, forms[form])
    assert got[0] == want[0]
    assert "sysrq triggered crash" in got[0]
    assert got[1] == want[1]
    assert len(got[1]) > 60
    assert got[2] == want[2]
    assert any(" panic " in f for f in got[2])


def test_sys_names_the_source_kind(dump: Dump, forms: dict[str, list[str]]) -> None:
    labels = {"flattened": "[FLATTENED]  [PARTIAL DUMP]", "split": "[SPLIT]  [PARTIAL DUMP]",
              "oldmem": "[OLDMEM]", "raw": "[RAW]", "lime": "[LIME]"}
    for form, label in labels.items():
        run = pycrash("-s", str(dump.vmlinux), *forms[form], "-x", "sys")
        line = next(x for x in run.out.splitlines() if "DUMPFILE:" in x)
        assert line.endswith(label), (form, line)


def test_bt_of_every_cpu_from_the_raw_layer(dump: Dump, forms: dict[str, list[str]]) -> None:
    native = pycrash("-s", str(dump.vmlinux), *forms["kdump"], "-x", "bt -a")
    oldmem = pycrash("-s", str(dump.vmlinux), *forms["oldmem"], "-x", "bt -a")
    assert native.rc == 0 and oldmem.rc == 0, oldmem.err
    assert oldmem.out == native.out
    assert native.out.count("PID: ") == 2


def test_a_page_only_in_the_last_split_part(dump: Dump) -> None:
    first = KdumpFile(open_source(str(dump.dir / "vmcore.split.1")))
    last = KdumpFile(open_source(str(dump.dir / "vmcore.split.2")))
    assert last.own.count() > 0, "the fixture's split must give the last part pages"
    pfn = next(iter(last.own.runs()))[0]
    assert pfn not in first.own
    whole = KdumpFile(open_source(str(dump.vmcore)))
    assert last.read_page(pfn) == whole.read_page(pfn)
    # and through pycrash: read that page by its physical address from the split pair
    import pycrash as api

    s = api.open([str(dump.dir / "vmcore.split.1"), str(dump.dir / "vmcore.split.2")],
                 str(dump.vmlinux))
    assert s.prog.read(pfn * 4096, 4096, True) == whole.read_page(pfn)


def test_missing_and_foreign_split_parts(dump: Dump, tmp_path: Path) -> None:
    run = pycrash(str(dump.vmlinux), str(dump.dir / "vmcore.split.1"))
    assert_one_line_error(run, "a part of the split dump is missing")
    run = pycrash(str(dump.vmlinux), str(dump.dir / "vmcore.split.2"))
    assert_one_line_error(run, "a part of the split dump is missing")
    # a part from another crash: the same file with another VMCOREINFO text
    foreign = tmp_path / "vmcore.split.2"
    shutil.copyfile(dump.dir / "vmcore.split.2", foreign)
    part = KdumpFile(open_source(str(foreign)))
    with open(foreign, "r+b") as f:
        f.seek(part.header.offset_vmcoreinfo + len("OSRELEASE="))
        f.write(b"X")
    run = pycrash(str(dump.vmlinux), str(dump.dir / "vmcore.split.1"), str(foreign))
    assert_one_line_error(run, f"{foreign} is not part of the same dump")
    run = pycrash(str(dump.vmlinux), str(dump.vmcore), str(dump.dir / "vmcore.elf"))
    assert_one_line_error(run, "is not part of a split dump")


def _excluded_kernel_address(dump: Dump) -> tuple[int, int]:
    """A direct-map address of a RAM page makedumpfile excluded, and that page's pfn."""
    import pycrash as api

    kd = KdumpFile(open_source(str(dump.vmcore)))
    pfn, _count = next(iter(kd.excluded_runs()))
    s = api.open(str(dump.vmcore), str(dump.vmlinux))
    base = s.prog["page_offset_base"].value_()
    return base + pfn * 4096, pfn


@pytest.mark.parametrize("form", ["kdump", "flattened"])
def test_excluded_page_is_named_and_zero_excluded_reads_zeros(
        dump: Dump, forms: dict[str, list[str]], form: str) -> None:
    addr, _pfn = _excluded_kernel_address(dump)
    run = pycrash("-s", str(dump.vmlinux), *forms[form], "-x", f"struct list_head {addr:x}")
    assert_one_line_error(run, "excluded")
    assert f"{addr:#x}" in run.err or f"{addr:x}" in run.err
    zero = pycrash("-s", "--zero-excluded", str(dump.vmlinux), *forms[form],
                   "-x", f"struct list_head {addr:x}")
    assert zero.rc == 0, zero.err
    assert "next = 0x0" in zero.out and "prev = 0x0" in zero.out


def test_flattened_truncated_and_lying_lime(dump: Dump, forms: dict[str, list[str]],
                                           tmp_path: Path) -> None:
    cut = tmp_path / "cut.flat"
    with open(dump.dir / "vmcore.flat", "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(5_000_000))
    assert_one_line_error(pycrash(str(dump.vmlinux), str(cut)), "flattened file")
    liar = tmp_path / "liar.lime"
    liar.write_bytes(struct.pack("<IIQQ8s", 0x4C694D45, 1, 0x1000, 0x7fffffff, b"") + b"x" * 64)
    assert_one_line_error(pycrash(str(dump.vmlinux), str(liar)),
                          "claims", "but the file ends first")
    backwards = tmp_path / "backwards.lime"
    backwards.write_bytes(struct.pack("<IIQQ8s", 0x4C694D45, 1, 0x2000, 0x1000, b""))
    assert_one_line_error(pycrash(str(dump.vmlinux), str(backwards)), "ends before it starts")


def test_overlapping_and_bad_raw_images(dump: Dump, forms: dict[str, list[str]],
                                        tmp_path: Path) -> None:
    first = forms["raw"][1]  # the big range at 1 MiB
    path = first.rpartition("@")[0]
    run = pycrash(str(dump.vmlinux), f"{path}@0x100000", f"{path}@0x200000")
    assert_one_line_error(run, "overlapping memory images")
    assert_one_line_error(pycrash(str(dump.vmlinux), f"{path}@zzz"), "bad physical address")
    assert_one_line_error(pycrash(str(dump.vmlinux), str(tmp_path / "none.bin") + "@0x0"),
                          "no such file")
    small = tmp_path / "small.bin"
    small.write_bytes(b"\0" * 65536)
    assert_one_line_error(pycrash(str(dump.vmlinux), f"{small}@0x0"), "no VMCOREINFO found")


def test_oldmem_errors(dump: Dump, forms: dict[str, list[str]], tmp_path: Path) -> None:
    image = forms["oldmem"][1]
    run = pycrash(str(dump.vmlinux), "--oldmem", image, "--elfcorehdr", "0x1000")
    assert_one_line_error(run, "no ELF core header at 0x1000")
    run = pycrash(str(dump.vmlinux), "--oldmem", str(tmp_path / "nope"), "--elfcorehdr", "0x0")
    assert_one_line_error(run, "no such file")
    # without --elfcorehdr, /proc/cmdline is read as a capture kernel would
    run = pycrash(str(dump.vmlinux), "--oldmem", image)
    assert_one_line_error(run, "--oldmem: no --elfcorehdr given and none on /proc/cmdline")


def test_live_needs_proc_kcore_or_root(dump: Dump) -> None:
    import os

    run = pycrash("--live", str(dump.vmlinux))
    assert_one_line_error(run, "--live")
    if not os.path.exists("/proc/kcore"):
        assert "no /proc/kcore" in run.err


def test_dumps_are_opened_read_only(dump: Dump, forms: dict[str, list[str]]) -> None:
    import hashlib
    import os

    before = {p: (os.stat(p).st_mtime_ns, hashlib.sha256(Path(p).read_bytes()).hexdigest())
              for p in [str(dump.vmcore), str(dump.dir / "vmcore.flat")]}
    for form in ("kdump", "flattened"):
        pycrash("-s", "--zero-excluded", str(dump.vmlinux), *forms[form], "-x", "ps; bt -a")
    after = {p: (os.stat(p).st_mtime_ns, hashlib.sha256(Path(p).read_bytes()).hexdigest())
             for p in before}
    assert after == before


def test_arm64_dumps_served_by_pycrash(tmp_path: Path) -> None:
    """pycrash's own readers build a Program of the dump's architecture (they built
    x86-64 ones only, so an arm64 flattened dump read kernel addresses as physical ones):
    the arm64 kdump flattened, and read with --zero-excluded, both unwind the panic."""
    from conftest import fixture_dump
    from dumpgen import flatten

    from pycrash.memory.formats import DumpKind
    from pycrash.session import Session

    d = fixture_dump("arm64-small")
    flat = tmp_path / "vmcore.flat"
    flat.write_bytes(flatten(d.vmcore.read_bytes(), chunk=1 << 20))
    for s in (Session.open(str(flat), str(d.vmlinux)),
              Session.open(str(d.vmcore), str(d.vmlinux), zero_excluded=True)):
        assert s.target.own_reader and s.prog.platform.arch.name == "AARCH64"
        assert s.target.kind in (DumpKind.FLATTENED, DumpKind.KDUMP)
        frames = [f.function for f in s.run("bt").rows[0].frames]
        assert "panic" in frames and "sysrq_handle_crash" in frames, frames
