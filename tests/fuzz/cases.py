"""The format fuzzer's cases: structure-aware damage to every form of the small fixture.

Each generator reads the real file's structure (kdump header, sub-header, bitmaps and
page descriptors; ELF header, program headers and notes; flattened records; LiME
headers; kexec's ELF core header in an oldmem image; the vmlinux's section headers and
DWARF) and yields :class:`runner.Case` patches of chosen fields set to values that
break parsers: zero, one, all ones, the sign bit, the file's size, off by one, a bit
flipped, random. ``regressions`` are the named root causes of issue 15, each one case.
The same seed gives the same cases.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Iterator
from pathlib import Path

from runner import ROOT, Case, Workspace

SEED = 15
PAGE_DESC = struct.Struct("<qIIQ")
PHDR = struct.Struct("<IIQQQQQQ")


def _fixture() -> tuple[Path, Path, Path]:
    """Return the small fixture's directory, vmlinux and kdump (building it if needed)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pycrash_testdata_fx",
                                                  ROOT / "testdata" / "fixture.py")
    assert spec and spec.loader
    fx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fx)
    path = fx.ensure("small")
    vmlinux, vmcore = fx.dump_files(path)
    return path, vmlinux, vmcore


def _derive():  # type: ignore[no-untyped-def]
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("derive", ROOT / "testdata" / "derive.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["derive"] = mod
    spec.loader.exec_module(mod)
    return mod


def flatten_file(src: Path, dst: Path, chunk: int = 1 << 20) -> None:
    """Write ``src`` as makedumpfile -F streams it (``-F -E`` for an ELF vmcore)."""
    with open(src, "rb") as s, open(dst, "wb") as d:
        d.write(b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
        d.write(bytes(4096 - 32))
        at = 0
        while piece := s.read(chunk):
            d.write(struct.pack(">qq", at, len(piece)) + piece)
            at += len(piece)
        d.write(struct.pack(">qq", -1, 0))


def workspace(tmp: Path) -> Workspace:
    """Return the workspace over the small fixture's forms, scratch copies in ``tmp``."""
    fixture, vmlinux, kdump = _fixture()
    derive = _derive()
    image, hdr = derive.oldmem_image(fixture)
    raws = derive.raw_images(fixture)
    inputs = {
        "kdump": [kdump],
        "zero-excluded": [kdump],
        "elf": [fixture / "vmcore.elf"],
        "flattened": [fixture / "vmcore.flat"],
        "split": [fixture / "vmcore.split.1", fixture / "vmcore.split.2"],
        "lime": [derive.lime_image(fixture)],
        "raw": [Path(r.rpartition("@")[0]) for r in raws],
        "oldmem": [image],
    }
    extra = {
        "zero-excluded": ["--zero-excluded"],
        "raw": ["@" + r.rpartition("@")[2] for r in raws],
        "oldmem": ["--elfcorehdr", hex(hdr)],
    }
    flat_elf = tmp / "vmcore.elf.flat"  # makedumpfile -F -E: none in the fixture
    flatten_file(fixture / "vmcore.elf", flat_elf)
    inputs["flat-elf"] = [flat_elf]
    ws = Workspace(fixture, vmlinux, tmp, inputs, extra)
    ws.elfcorehdr = hdr  # type: ignore[attr-defined]
    return ws


# -- values that break parsers ------------------------------------------------------------

def _values(rng: random.Random, width: int, original: int, size: int) -> list[int]:
    top = (1 << (8 * width)) - 1
    vals = [0, 1, top, top >> 1, (top >> 1) + 1, original + 1, max(original - 1, 0),
            original * 2, original ^ (1 << rng.randrange(8 * width)), size, size + 1,
            rng.randrange(top + 1)]
    return [v & top for v in vals]


def _field_cases(rng: random.Random, ws: Workspace, form: str, prefix: str,
                 fields: list[tuple[str, int, int]], n: int) -> Iterator[Case]:
    """Yield ``n`` cases, each one field (name, file offset, width) set to a bad value."""
    path = ws.inputs[form][0]
    size = path.stat().st_size
    with open(path, "rb") as f:
        for _ in range(n):
            name, at, width = rng.choice(fields)
            f.seek(at)
            original = int.from_bytes(f.read(width), "little")
            value = rng.choice(_values(rng, width, original, size))
            yield Case(f"{prefix}.{name}={value:#x}", form,
                       ((at, value.to_bytes(width, "little")),))


def _combined(rng: random.Random, cases: list[Case], n: int) -> Iterator[Case]:
    """Yield ``n`` cases each joining the patches of two or three single-field cases of
    one form (damage rarely comes alone)."""
    for _ in range(n if len(cases) > 1 else 0):
        parts = rng.sample(cases, min(len(cases), rng.choice([2, 3])))
        yield Case("+".join(c.name for c in parts), parts[0].form,
                   tuple(p for c in parts for p in c.patches))


def _truncations(rng: random.Random, ws: Workspace, form: str, n: int) -> Iterator[Case]:
    size = ws.inputs[form][0].stat().st_size
    cuts = [size - 1, size // 2, 4096, 100, size - 4096, rng.randrange(size)]
    for cut in rng.sample(cuts, min(n, len(cuts))):
        yield Case(f"{form}.truncate={cut}", form, truncate=cut)


# -- kdump ------------------------------------------------------------------------------

_KDUMP_HEADER = [("header_version", 8, 4), ("block_size", 428, 4), ("sub_hdr_size", 432, 4),
                 ("bitmap_blocks", 436, 4), ("max_mapnr", 440, 4), ("nr_cpus", 460, 4)]
_SUB_HEADER = [("dump_level", 8, 4), ("split", 12, 4), ("start_pfn", 16, 8),
               ("end_pfn", 24, 8), ("offset_vmcoreinfo", 32, 8), ("size_vmcoreinfo", 40, 8),
               ("offset_note", 48, 8), ("size_note", 56, 8), ("start_pfn_64", 80, 8),
               ("end_pfn_64", 88, 8), ("max_mapnr_64", 96, 8)]


class KdumpLayout:
    """Where a kdump file's parts are."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            head = f.read(464)
            self.block_size, self.sub_hdr_size, self.bitmap_blocks = struct.unpack_from(
                "<iiI", head, 428)
            self.bitmap_at = self.block_size * (1 + self.sub_hdr_size)
            half = self.block_size * self.bitmap_blocks // 2
            f.seek(self.bitmap_at + half)
            written = f.read(half)
            self.ndescs = int.from_bytes(written, "little").bit_count()
            self.descs_at = self.bitmap_at + 2 * half
            f.seek(self.descs_at)
            self.half = half

    def desc_at(self, i: int) -> int:
        return self.descs_at + i * PAGE_DESC.size

    def desc(self, path: Path, i: int) -> tuple[int, int, int, int]:
        with open(path, "rb") as f:
            f.seek(self.desc_at(i))
            return PAGE_DESC.unpack(f.read(PAGE_DESC.size))


def kdump_cases(rng: random.Random, ws: Workspace, form: str, n: int) -> Iterator[Case]:
    path = ws.inputs[form][0]
    lay = KdumpLayout(path)
    fields = list(_KDUMP_HEADER)
    fields += [(f"sub.{name}", lay.block_size + at, w) for name, at, w in _SUB_HEADER]
    yield from _field_cases(rng, ws, form, form, fields, n)
    for _ in range(n):  # page descriptors: one field of one descriptor
        i = rng.choice([0, lay.ndescs - 1, rng.randrange(lay.ndescs)])
        at = lay.desc_at(i)
        which, off, width = rng.choice([("offset", 0, 8), ("size", 8, 4), ("flags", 12, 4)])
        original = lay.desc(path, i)[{"offset": 0, "size": 1, "flags": 2}[which]] & (
            (1 << (8 * width)) - 1)
        value = rng.choice(_values(rng, width, original, path.stat().st_size))
        yield Case(f"{form}.desc[{i}].{which}={value:#x}", form,
                   ((at + off, value.to_bytes(width, "little")),))
    for _ in range(max(n // 2, 1)):  # bitmaps: a run of bytes flipped
        at = lay.bitmap_at + rng.randrange(2 * lay.half)
        yield Case(f"{form}.bitmap@{at:#x}", form,
                   ((at, bytes(rng.randrange(256) for _ in range(rng.choice([1, 8, 64])))),))
    yield from _corrupt_pages(rng, ws, form, lay, n)
    yield from _truncations(rng, ws, form, max(n // 2, 1))


def _corrupt_pages(rng: random.Random, ws: Workspace, form: str, lay: KdumpLayout,
                   n: int) -> Iterator[Case]:
    """Garbage in the compressed data of every 16th page (one in many is read by the
    commands), from a random start."""
    path = ws.inputs[form][0]
    for _ in range(max(n // 2, 1)):
        start = rng.randrange(16)
        patches = []
        with open(path, "rb") as f:
            for i in range(start, lay.ndescs, 16):
                f.seek(lay.desc_at(i))
                offset, size, flags, _pf = PAGE_DESC.unpack(f.read(PAGE_DESC.size))
                if flags and size > 8:
                    patches.append((offset + size // 2,
                                    bytes(rng.randrange(256) for _ in range(4))))
        yield Case(f"{form}.pages[{start}::16]=garbage", form, tuple(patches))


# -- ELF --------------------------------------------------------------------------------

_EHDR = [("ei_class", 4, 1), ("e_type", 16, 2), ("e_machine", 18, 2), ("e_phoff", 32, 8),
         ("e_shoff", 40, 8), ("e_phentsize", 54, 2), ("e_phnum", 56, 2)]
_PHDR_FIELDS = [("p_type", 0, 4), ("p_offset", 8, 8), ("p_paddr", 24, 8), ("p_filesz", 32, 8),
                ("p_memsz", 40, 8)]


def elf_layout(path: Path, at: int = 0) -> tuple[list[tuple[int, ...]], int]:
    """Return an ELF core's program headers and where the table is."""
    with open(path, "rb") as f:
        f.seek(at)
        head = f.read(64)
        phoff, = struct.unpack_from("<Q", head, 32)
        phnum, = struct.unpack_from("<H", head, 56)
        f.seek(at + phoff)
        table = f.read(PHDR.size * phnum)
    return [PHDR.unpack_from(table, i * PHDR.size) for i in range(phnum)], at + phoff


def notes_of(path: Path, phdrs: list[tuple[int, ...]]) -> list[tuple[int, bytes, int, int]]:
    """Return each note as (file offset of its header, name, namesz, descsz)."""
    out = []
    with open(path, "rb") as f:
        for p in phdrs:
            if p[0] != 4:
                continue
            f.seek(p[2])
            data = f.read(p[5])
            pos = 0
            while pos + 12 <= len(data):
                namesz, descsz, _t = struct.unpack_from("<III", data, pos)
                if not namesz and not descsz:
                    break
                name = data[pos + 12 : pos + 12 + namesz].rstrip(b"\0")
                out.append((p[2] + pos, name, namesz, descsz))
                pos += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return out


def elf_cases(rng: random.Random, ws: Workspace, form: str, n: int,
              at: int = 0) -> Iterator[Case]:
    path = ws.inputs[form][0]
    phdrs, table = elf_layout(path, at)
    fields = [(name, at + off, w) for name, off, w in _EHDR]
    for i in range(len(phdrs)):
        fields += [(f"phdr[{i}].{name}", table + i * PHDR.size + off, w)
                   for name, off, w in _PHDR_FIELDS]
    yield from _field_cases(rng, ws, form, form, fields, 2 * n)
    if form == "oldmem":
        return
    notes = notes_of(path, phdrs)
    for _ in range(n):
        where, name, namesz, descsz = rng.choice(notes)
        which = rng.choice(["namesz", "descsz", "desc"])
        if which == "desc" and name == b"VMCOREINFO":
            text = b"OSRELEASE=garbage\nPAGESIZE=3\nSYMBOL(swapper_pg_dir)=zz\n"
            yield Case(f"{form}.note[{name!r}].text", form,
                       ((where + 12 + ((namesz + 3) & ~3), text),))
            continue
        if which == "desc":
            which = "descsz"
        value = rng.choice([0, 1, descsz // 2, descsz + 4, 0xFFFFFFFF, 0x7FFFFFF0])
        off = 0 if which == "namesz" else 4
        yield Case(f"{form}.note[{name.decode(errors='replace')}].{which}={value:#x}", form,
                   ((where + off, value.to_bytes(4, "little")),))
    yield from _truncations(rng, ws, form, max(n // 2, 1))


# -- flattened, LiME --------------------------------------------------------------------

def flat_records(path: Path, limit: int = 4096) -> list[int]:
    """Return the file positions of a flattened stream's record headers."""
    out, pos = [], 4096
    size = path.stat().st_size
    with open(path, "rb") as f:
        while pos + 16 <= size and len(out) < limit:
            f.seek(pos)
            offset, length = struct.unpack(">qq", f.read(16))
            out.append(pos)
            if offset < 0:
                break
            pos += 16 + length
    return out


def flat_cases(rng: random.Random, ws: Workspace, n: int) -> Iterator[Case]:
    path = ws.inputs["flattened"][0]
    records = flat_records(path)
    for _ in range(n):
        pos = rng.choice(records[:3] + records[-2:] + [rng.choice(records)])
        which = rng.choice([0, 8])
        value = rng.choice([-1, -2, 0, 1 << 62, (1 << 63) - 1, path.stat().st_size,
                            rng.randrange(1 << 32)])
        yield Case(f"flattened.record@{pos:#x}.{'size' if which else 'offset'}={value}",
                   "flattened", ((pos + which, value.to_bytes(8, "big", signed=True)),))
    yield Case("flattened.signature", "flattened", ((0, b"makedumpfilX"),))
    yield Case("flattened.type", "flattened", ((16, (7).to_bytes(8, "big")),))
    yield from _truncations(rng, ws, "flattened", max(n // 2, 1))


def lime_headers(path: Path) -> list[int]:
    out, pos = [], 0
    size = path.stat().st_size
    with open(path, "rb") as f:
        while pos + 32 <= size:
            f.seek(pos)
            _m, _v, start, end, _r = struct.unpack("<IIQQ8s", f.read(32))
            out.append(pos)
            pos += 32 + end - start + 1
    return out


def lime_cases(rng: random.Random, ws: Workspace, n: int) -> Iterator[Case]:
    path = ws.inputs["lime"][0]
    fields = []
    for i, pos in enumerate(lime_headers(path)):
        fields += [(f"hdr[{i}].magic", pos, 4), (f"hdr[{i}].version", pos + 4, 4),
                   (f"hdr[{i}].start", pos + 8, 8), (f"hdr[{i}].end", pos + 16, 8)]
    yield from _field_cases(rng, ws, "lime", "lime", fields, n)
    yield from _truncations(rng, ws, "lime", max(n // 3, 1))


# -- raw, oldmem ------------------------------------------------------------------------

def raw_cases(rng: random.Random, ws: Workspace, n: int) -> Iterator[Case]:
    files = ws.inputs["raw"]
    addrs = ws.extra_args["raw"]
    bad = ["@-4096", "@0x8000000000000000", "@0xffffffffffffffff", "@1", "@0x",
           "@" + "9" * 30, addrs[0]]
    for _ in range(n):
        i = rng.randrange(len(files))
        new = list(addrs)
        new[i] = rng.choice(bad)
        args = tuple(("{dump}" if j == 0 else str(f)) + a
                     for j, (f, a) in enumerate(zip(files, new, strict=True)))
        yield Case(f"raw.addr[{i}]={new[i]}", "raw", args=args)
    yield from _truncations(rng, ws, "raw", max(n // 3, 1))


def oldmem_cases(rng: random.Random, ws: Workspace, n: int) -> Iterator[Case]:
    hdr = ws.elfcorehdr  # type: ignore[attr-defined]
    yield from elf_cases(rng, ws, "oldmem", n, at=hdr)
    size = ws.inputs["oldmem"][0].stat().st_size
    values = ["0x8000000000000000", "-1", hex(size), hex(size - 8), "0", "0x" + "f" * 20,
              "1K@1K", "99999999999999999999G", "09", "0x", "1M@", hex(size // 2)]
    for value in rng.sample(values, min(n, len(values))):
        yield Case(f"oldmem.elfcorehdr={value}", "oldmem",
                   args=("--oldmem", "{dump}", "--elfcorehdr", value))
    yield from _truncations(rng, ws, "oldmem", max(n // 3, 1))


# -- vmlinux ----------------------------------------------------------------------------

def vmlinux_sections(path: Path) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """Return the section header table's offset, entry count, and name -> (offset, size)."""
    with open(path, "rb") as f:
        head = f.read(64)
        shoff, = struct.unpack_from("<Q", head, 40)
        shnum, shstrndx = struct.unpack_from("<HH", head, 60)
        f.seek(shoff)
        table = f.read(64 * shnum)
        raw = [struct.unpack_from("<IIQQQQ", table, i * 64) for i in range(shnum)]
        f.seek(raw[shstrndx][4])
        names = f.read(raw[shstrndx][5])
    out = {}
    for name, _t, _f, _a, off, size in raw:
        out[names[name : names.index(b"\0", name)].decode()] = (off, size)
    return shoff, shnum, out


def vmlinux_cases(rng: random.Random, ws: Workspace, n: int) -> Iterator[Case]:
    path = ws.vmlinux
    size = path.stat().st_size
    shoff, shnum, secs = vmlinux_sections(path)
    for cut in (1 << 20, size // 2, size - 100):
        yield Case(f"vmlinux.truncate={cut}", "vmlinux", truncate=cut)
    fields = [("e_shoff", 40, 8), ("e_shentsize", 58, 2), ("e_shnum", 60, 2),
              ("e_shstrndx", 62, 2)]
    for i in rng.sample(range(shnum), min(6, shnum)):
        fields += [(f"shdr[{i}].sh_name", shoff + i * 64, 4),
                   (f"shdr[{i}].sh_offset", shoff + i * 64 + 24, 8),
                   (f"shdr[{i}].sh_size", shoff + i * 64 + 32, 8)]
    yield from _field_cases(rng, ws, "vmlinux", "vmlinux", fields, n)
    for sec in (".debug_info", ".debug_abbrev", ".debug_str", ".debug_line"):
        if sec not in secs:
            continue
        off, length = secs[sec]
        for where in (0, length // 2):
            junk = bytes(rng.randrange(256) for _ in range(64))
            yield Case(f"vmlinux.{sec}@{where:#x}=junk", "vmlinux", ((off + where, junk),))


# -- all of them ------------------------------------------------------------------------

def regressions(ws: Workspace) -> Iterator[Case]:
    """Issue 15's root causes, one named case each."""
    kd = ws.inputs["kdump"][0]
    lay = KdumpLayout(kd)
    mid = lay.ndescs // 2
    # one descriptor in four (pycrash checked only the last one; some page the commands
    # read is among them)
    yield Case("regression.desc-size-0xffffffff-sigbus", "kdump",
               tuple((lay.desc_at(i) + 8, (0xFFFFFFFF).to_bytes(4, "little"))
                     for i in range(mid % 4, lay.ndescs - 1, 4)))
    yield Case("regression.desc-offset-huge-misleading", "kdump",
               ((lay.desc_at(lay.ndescs - 1), (0x55DD3A8FD714A0B6).to_bytes(8, "little")),))
    yield Case("regression.kdump-block-size-1", "kdump", ((428, (1).to_bytes(4, "little")),))
    yield Case("regression.kdump-max-mapnr-huge", "zero-excluded",
               ((lay.block_size + 96, (1 << 62).to_bytes(8, "little")),))
    yield Case("regression.kdump-vmcoreinfo-offset-huge", "zero-excluded",
               ((lay.block_size + 32, (1 << 63).to_bytes(8, "little")),))
    yield Case("regression.kdump-note-size-huge", "zero-excluded",
               ((lay.block_size + 56, (1 << 40).to_bytes(8, "little")),))
    data_patches = []
    with open(kd, "rb") as f:
        for i in range(0, lay.ndescs, 4):
            f.seek(lay.desc_at(i))
            offset, size, flags, _pf = PAGE_DESC.unpack(f.read(PAGE_DESC.size))
            if flags and size > 16:
                data_patches.append((offset + 2, b"\xff\xfe\xfd\xfc"))
    yield Case("regression.zlib-corrupt-pages-own-reader", "zero-excluded",
               tuple(data_patches))
    yield Case("regression.zlib-corrupt-pages-drgn-reader", "kdump", tuple(data_patches))
    phdrs, _table = elf_layout(ws.inputs["elf"][0])
    notes = notes_of(ws.inputs["elf"][0], phdrs)
    where, _name, namesz, descsz = next(n for n in notes if n[1] == b"CORE")
    # the first NT_PRSTATUS cut to 40 bytes, a padding note filling the rest of its place
    # (the notes after it stay where they are)
    desc_at = where + 12 + ((namesz + 3) & ~3)
    pad = struct.pack("<III", 4, descsz - 40 - 16, 0x999) + b"PAD\0"
    short = ((where + 4, (40).to_bytes(4, "little")), (desc_at + 40, pad))
    yield Case("regression.short-nt-prstatus", "elf", short)
    yield Case("regression.short-nt-prstatus-flattened-elf", "flat-elf",
               tuple((at + 4096 + 16, data) for at, data in short))
    yield Case("regression.flattened-elf-overlapping-segments", "flat-elf")
    yield Case("regression.elf-unknown-machine", "elf", ((18, (0xA501).to_bytes(2, "little")),))
    yield Case("regression.elfcorehdr-sign-bit", "oldmem",
               args=("--oldmem", "{dump}", "--elfcorehdr", "0x8000000000000000"))
    hdr = ws.elfcorehdr  # type: ignore[attr-defined]
    yield Case("regression.elfcorehdr-kernel-form", "oldmem",
               args=("--oldmem", "{dump}", "--elfcorehdr", f"1M@{hdr >> 10}K"))
    size = ws.inputs["oldmem"][0].stat().st_size
    yield Case("regression.oldmem-one-byte-short", "oldmem", truncate=size - 1)
    yield Case("regression.oldmem-directory", "oldmem",
               args=("--oldmem", str(ws.workdir), "--elfcorehdr", hex(hdr)))
    files = ws.inputs["raw"]
    addrs = ws.extra_args["raw"]
    yield Case("regression.raw-negative-address", "raw",
               args=("{dump}@-4096", *(f"{f}{a}" for f, a in zip(files[1:], addrs[1:],
                                                              strict=True))))
    fifo = ws.workdir / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    yield Case("regression.fifo-as-dump", "kdump", args=(str(fifo),))
    yield Case("regression.fifo-as-vmlinux", "kdump", args=(str(fifo), str(kd)),
               no_vmlinux=True)
    yield Case("regression.fifo-as-oldmem", "oldmem",
               args=("--oldmem", str(fifo), "--elfcorehdr", hex(hdr)))
    yield Case("regression.directory-as-dump", "kdump", args=(str(ws.workdir),))
    vsize = ws.vmlinux.stat().st_size
    yield Case("regression.vmlinux-truncated-1mib", "vmlinux", truncate=1 << 20)
    yield Case("regression.vmlinux-truncated-100-short", "vmlinux", truncate=vsize - 100)
    yield Case("regression.report-on-truncated-vmlinux", "vmlinux", truncate=vsize - 100,
               args=("{vmlinux}",), report=True)
    yield Case("regression.vmlinux-truncated-half", "vmlinux", truncate=vsize // 2)
    shoff, shnum, secs = vmlinux_sections(ws.vmlinux)
    # .rodata's offset past any file, and the build id changed: the mismatch message reads
    # the release from .rodata (pyelftools seeks there)
    rodata = list(secs).index(".rodata")
    notes_at, notes_size = secs[".notes"]
    with open(ws.vmlinux, "rb") as f:
        f.seek(notes_at)
        id_at = notes_at + f.read(notes_size).index(b"GNU\0") + 4
    yield Case("regression.vmlinux-section-offset-sign-bit", "vmlinux",
               ((shoff + rodata * 64 + 24, (1 << 63).to_bytes(8, "little")),
                (id_at, b"\xee")))
    off, length = secs[".debug_info"]
    bad_dwarf = ((off, b"\xff" * 64), (off + length // 2, b"\xff" * 64))
    # the default start reads types from .BTF: the session opens, the commands that
    # reach the DWARF say it is damaged; --dwarf indexes it at open and refuses
    yield Case("regression.vmlinux-invalid-dwarf", "vmlinux", bad_dwarf,
               commands="sys; p max_threads; bt -l")
    yield Case("regression.vmlinux-invalid-dwarf-eager", "vmlinux", bad_dwarf,
               args=("--dwarf", str(ws.inputs["kdump"][0])))
    yield Case("regression.bad-option", "kdump", args=("{dump}", "--bogus"))


def all_cases(ws: Workspace, long: bool = False, seed: int = SEED) -> list[Case]:
    """Return the regression cases, then ``n`` generated cases per structure of each form
    (2 each in the quick set, 12 in the long one)."""
    n = 12 if long else 2
    rng = random.Random(seed)
    out = list(regressions(ws))
    out += kdump_cases(rng, ws, "kdump", n)
    out += kdump_cases(rng, ws, "zero-excluded", max(n // 2, 1))
    out += kdump_cases(rng, ws, "split", max(n // 2, 1))
    out += elf_cases(rng, ws, "elf", n)
    out += flat_cases(rng, ws, n)
    out += lime_cases(rng, ws, n)
    out += raw_cases(rng, ws, n)
    out += oldmem_cases(rng, ws, n)
    out += vmlinux_cases(rng, ws, n)
    if long:
        for form in ("kdump", "elf", "flattened", "lime"):
            single = [c for c in out if c.form == form and c.patches and c.args is None
                      and c.truncate is None and not c.name.startswith("regression.")
                      and len(c.patches) == 1]
            out += _combined(rng, single, n)
    return out
