"""Open a dump and its vmlinux as one drgn Program, and describe what was opened.

crash accepts ``crash VMLINUX VMCORE`` in either order; so does :func:`open_target`.
The vmlinux may be left out: it is looked for by the dump's release in the
places distributions install debuginfo, and the file used is reported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pycrash.errors import DumpError
from pycrash.memory import detect, elfinfo

if TYPE_CHECKING:
    import drgn

    from pycrash.memory.elfcore import PrStatus
    from pycrash.memory.kdump import KdumpFile

#: Where a vmlinux with debuginfo is looked for, ``{rel}`` being the dump's release.
VMLINUX_PLACES = (
    "/usr/lib/debug/boot/vmlinux-{rel}",
    "/usr/lib/debug/lib/modules/{rel}/vmlinux",
    "/boot/vmlinux-{rel}",
    "/lib/modules/{rel}/build/vmlinux",
)

#: How ``sys`` labels each kind of source after the file names.
KIND_LABELS = {"flattened": "[FLATTENED]", "split": "[SPLIT]", "oldmem": "[OLDMEM]",
               "raw": "[RAW]", "lime": "[LIME]", "live": "[LIVE]"}


@dataclass(eq=False)
class Options:
    """How to open a target: the command line's choices."""

    force: bool = False
    zero_excluded: bool = False
    live: bool = False
    oldmem: str | None = None
    elfcorehdr: int | None = None


@dataclass(eq=False)
class Target:
    """What was opened: the dump files, the vmlinux, and the kernel they describe.

    ``regs`` are the CPUs' NT_PRSTATUS registers when pycrash read the notes
    itself (sources drgn does not open); ``kdump`` is the kdump reader used to
    explain excluded pages.
    """

    dumpfiles: list[str]
    kind: str
    partial: bool
    vmlinux: str
    release: str
    build_id: str | None
    vmlinux_found: bool = False  # True when the vmlinux was looked up, not given
    notes: list[str] = field(default_factory=list)
    regs: list[PrStatus] = field(default_factory=list)
    kdump_file: KdumpFile | None = None
    own_reader: bool = False  # pycrash serves the memory: faults name physical addresses

    @property
    def kdump(self) -> KdumpFile | None:
        """The kdump reader of a kdump-format dump (made on first use), else None."""
        if self.kdump_file is None and self.kind == "kdump" and len(self.dumpfiles) == 1:
            from pycrash.memory.kdump import KdumpFile
            from pycrash.memory.source import FileSource

            self.kdump_file = KdumpFile(FileSource(self.dumpfiles[0]))
        return self.kdump_file

    @property
    def dumpfile_label(self) -> str:
        """crash's ``DUMPFILE:`` value: the paths as given, then what kind and if filtered."""
        parts = ["  ".join(self.dumpfiles)]
        if self.kind in KIND_LABELS:
            parts.append(KIND_LABELS[self.kind])
        if self.partial:
            parts.append("[PARTIAL DUMP]")
        return "  ".join(parts)


def classify(paths: Sequence[str]) -> tuple[list[detect.FileKind], list[str], str | None]:
    """Split command-line files into dumps, raw images (``file@paddr``) and one vmlinux."""
    dumps: list[detect.FileKind] = []
    raws: list[str] = []
    vmlinux: str | None = None
    for path in paths:
        head, sep, _addr = path.rpartition("@")
        if sep and head and not os.path.exists(path):
            raws.append(path)
            continue
        kind = detect.identify(path)
        if kind.kind == "vmlinux":
            if vmlinux is not None:
                raise DumpError(f"two kernel files given: {vmlinux} and {path}")
            vmlinux = path
        else:
            dumps.append(kind)
    return dumps, raws, vmlinux


def find_vmlinux(release: str, build_id: str | None, dump_dir: str) -> str | None:
    """Return the first vmlinux for ``release`` found in the usual places, or None.

    The build-id tree ``/usr/lib/debug/.build-id/`` comes first, and the dump's
    own directory (``vmlinux-REL`` or ``vmlinux`` beside it) last.
    """
    candidates = []
    if build_id:
        candidates.append(f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug")
    candidates += [p.format(rel=release) for p in VMLINUX_PLACES]
    if dump_dir:
        candidates += [os.path.join(dump_dir, f"vmlinux-{release}"),
                       os.path.join(dump_dir, "vmlinux")]
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def _split_set(dumps: list[detect.FileKind]) -> list[KdumpFile]:
    """Open the parts of a ``makedumpfile --split`` set; name a missing or foreign part."""
    from pycrash.memory.kdump import KdumpFile
    from pycrash.memory.source import open_source

    for d in dumps:
        if d.kind != "kdump" or not d.split:
            raise DumpError(f"several dump files given, but {d.path} is not part of a split "
                            f"dump (makedumpfile --split)")
    parts = [KdumpFile(open_source(d.path)) for d in dumps]
    first = parts[0]
    for p in parts[1:]:
        if p.vmcoreinfo() != first.vmcoreinfo():
            raise DumpError(f"{p.path} is not part of the same dump as {first.path}")
    parts.sort(key=lambda p: p.header.start_pfn)
    covered = 0
    for p in parts:
        if p.header.start_pfn > covered:
            raise DumpError(f"a part of the split dump is missing: page frames "
                            f"{covered:#x}-{p.header.start_pfn - 1:#x} are in none of "
                            + ", ".join(q.path for q in parts))
        covered = max(covered, p.header.end_pfn)
    if covered < first.header.max_mapnr:
        raise DumpError(f"a part of the split dump is missing: page frames from "
                        f"{covered:#x} are in none of " + ", ".join(q.path for q in parts))
    return parts


def _open_memory(dumps: list[detect.FileKind], raws: list[str], opts: Options,
                 target: Target) -> drgn.Program:
    """Open the memory source and return its Program (no debug info yet)."""
    import drgn

    # drgn's own command sets load as drgn plugins at start-up (0.1 s) and pycrash
    # does not use them; other drgn plugins (debuginfo finders) still load.
    os.environ.setdefault("DRGN_DISABLE_PLUGINS", "builtin_commands,crash_commands")
    kinds = {d.kind for d in dumps}
    if opts.live:
        if dumps or raws or opts.oldmem:
            raise DumpError("--live reads the running kernel: give no dump file")
        if not os.path.exists("/proc/kcore"):
            raise DumpError("--live: this kernel has no /proc/kcore (CONFIG_PROC_KCORE)")
        if os.geteuid() != 0:
            raise DumpError("--live: reading /proc/kcore needs root")
        prog = drgn.Program()
        try:
            prog.set_kernel()
        except Exception as exc:
            raise DumpError(f"--live: cannot open the running kernel: {exc}") from None
        target.dumpfiles, target.kind = ["/proc/kcore"], "live"
        return prog
    if opts.oldmem:
        if dumps or raws:
            raise DumpError("--oldmem is the only memory source: give no other dump file")
        return _open_oldmem(opts, target)
    if raws or kinds == {"lime"} or len(dumps) > 1 or (
            len(dumps) == 1 and (dumps[0].kind == "flattened" or
                                 (dumps[0].kind == "kdump" and opts.zero_excluded))):
        return _open_custom(dumps, raws, kinds, opts, target)
    if not dumps:
        raise DumpError("no dump file given (only a vmlinux)")
    dump = dumps[0]
    target.dumpfiles, target.kind, target.partial = [dump.path], dump.kind, dump.partial
    if dump.kind == "kdump" and dump.split:
        _split_set(dumps)  # names the missing part
    prog = drgn.Program()
    try:
        prog.set_core_dump(dump.path)
    except Exception as exc:
        raise DumpError(f"{dump.path}: cannot open dump: {exc}") from None
    return prog


def _open_custom(dumps: list[detect.FileKind], raws: list[str], kinds: set[str],
                 opts: Options, target: Target) -> drgn.Program:
    """Open the sources that pycrash reads itself: raw images, LiME, split sets,
    flattened files (and kdump files with --zero-excluded)."""
    from pycrash.memory import custom, elfcore, physmem

    if raws or kinds == {"lime"}:
        if dumps and kinds != {"lime"}:
            raise DumpError("raw memory images (file@paddr) cannot be mixed with a dump file")
        extents = physmem.raw_images(raws) if raws else []
        for d in dumps:
            extents += physmem.lime_image(d.path)
        extents = physmem.check_overlaps(extents)
        info = physmem.scan_vmcoreinfo(extents)
        if info is None:
            raise DumpError("no VMCOREINFO found in the memory image(s): is this a Linux "
                            "kernel's RAM, all of it?")
        prog = custom.new_program()
        custom.add_extents(prog, extents)
        custom.finish(prog, info)
        target.dumpfiles = raws + [d.path for d in dumps]
        target.kind = "raw" if raws else "lime"
        return prog
    if len(dumps) > 1:
        parts = _split_set(dumps)
        prog = custom.new_program()
        custom.add_kdump(prog, parts, opts.zero_excluded)
        target.regs, _ = elfcore.collect(elfcore.parse_notes(parts[0].notes()))
        custom.finish(prog, parts[0].vmcoreinfo())
        target.dumpfiles, target.kind = [d.path for d in dumps], "split"
        target.partial, target.kdump_file = parts[0].header.dump_level > 0, parts[0]
        return prog
    # one flattened file, or a kdump file with --zero-excluded (drgn's kdump reader
    # cannot be told to read excluded pages as zeros): pycrash's reader serves it
    from pycrash.memory.kdump import KdumpFile
    from pycrash.memory.source import open_source

    dump = dumps[0]
    target.dumpfiles, target.kind, target.partial = [dump.path], dump.kind, dump.partial
    source = open_source(dump.path)
    prog = custom.new_program()
    if source.pread(0, 4) == b"\x7fELF":  # makedumpfile -F -E
        segs = elfcore.read_header(source)
        extents = [physmem.Extent(s.paddr, s.filesz, source, s.offset)
                   for s in segs if s.type == elfcore.PT_LOAD and s.filesz]
        notes = [n for s in segs if s.type == elfcore.PT_NOTE
                 for n in elfcore.parse_notes(source.pread(s.offset, s.filesz))]
        target.regs, info = elfcore.collect(iter(notes))
        custom.add_extents(prog, physmem.check_overlaps(extents))
        if info is None:
            raise DumpError(f"{dump.path}: no VMCOREINFO note")
        custom.finish(prog, info)
        return prog
    kd = KdumpFile(source)
    custom.add_kdump(prog, [kd], opts.zero_excluded)
    target.regs, _ = elfcore.collect(elfcore.parse_notes(kd.notes()))
    target.kdump_file = kd
    custom.finish(prog, kd.vmcoreinfo())
    return prog


def _open_oldmem(opts: Options, target: Target) -> drgn.Program:
    """Open a raw /dev/oldmem (or a file laid out like it) through its ELF core header."""
    from pycrash.memory import custom, physmem

    path = opts.oldmem or ""
    if not os.path.exists(path):
        raise DumpError(f"{path}: no such file")
    addr = opts.elfcorehdr
    if addr is None:
        try:
            with open("/proc/cmdline") as f:
                addr = physmem.elfcorehdr_from_cmdline(f.read())
        except OSError:
            addr = None
        if addr is None:
            raise DumpError("--oldmem: no --elfcorehdr given and none on /proc/cmdline "
                            "(this is not a capture kernel)")
    info = physmem.oldmem(path, addr)
    vmcoreinfo = info.vmcoreinfo or physmem.scan_vmcoreinfo(info.extents)
    if vmcoreinfo is None:
        raise DumpError(f"{path}: no VMCOREINFO in the notes or in memory")
    prog = custom.new_program()
    custom.add_extents(prog, info.extents)
    custom.finish(prog, vmcoreinfo)
    target.dumpfiles, target.kind, target.regs = [path], "oldmem", info.prstatus
    return prog


def open_target(
    paths: Sequence[str], vmlinux: str | None = None, force: bool = False,
    options: Options | None = None,
) -> tuple[drgn.Program, Target]:
    """Open the dump in ``paths`` (and the vmlinux among them or in ``vmlinux``).

    Returns ``(prog, target)``: a drgn Program with the kernel's DWARF loaded,
    and the :class:`Target` description. Raises :class:`DumpError` with one
    clear line for every way this can fail.
    """
    import drgn

    opts = options or Options()
    opts.force = opts.force or force
    dumps, raws, given = classify(list(paths) + ([vmlinux] if vmlinux else []))
    target = Target([], "", False, "", "", None)
    prog = _open_memory(dumps, raws, opts, target)
    target.own_reader = target.kind in ("flattened", "split", "oldmem", "raw", "lime") or \
        (target.kind == "kdump" and opts.zero_excluded)
    if not (prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL):
        raise DumpError(f"{target.dumpfiles[0]}: a core file, but not of a Linux kernel "
                        f"(no VMCOREINFO)")
    try:
        release = prog["UTS_RELEASE"].string_().decode()
        main, _new = next(iter(prog.loaded_modules()))
    except Exception as exc:
        raise DumpError(f"{target.dumpfiles[0]}: cannot read the kernel's VMCOREINFO: "
                        f"{exc}") from None
    dump_build_id = main.build_id.hex() if main.build_id else None
    found = False
    if given is None:
        where = "" if target.kind == "live" else os.path.dirname(os.path.abspath(
            target.dumpfiles[0].rpartition("@")[0] or target.dumpfiles[0]))
        given = find_vmlinux(release, dump_build_id, where)
        if given is None:
            places = ", ".join(p.format(rel=release) for p in VMLINUX_PLACES)
            raise DumpError(
                f"no vmlinux given, and none found for release {release} in {places}; "
                f"install the kernel's debuginfo package or name the vmlinux"
            )
        found = True
    if not elfinfo.has_debug_info(given):
        raise DumpError(f"{given}: this vmlinux has no debug info (.debug_info); "
                        f"use the one from the -dbg/-debuginfo package")
    try:
        main.try_file(given, force=opts.force)
    except Exception as exc:
        raise DumpError(f"{given}: cannot load: {exc}") from None
    file_id = elfinfo.build_id(given)
    mismatch = (
        f"vmlinux release {elfinfo.release(given) or '?'} build id {file_id or '?'}, "
        f"dump release {release} build id {dump_build_id or '?'}"
    )
    if main.debug_file_status != drgn.ModuleFileStatus.HAVE:
        if opts.force:
            raise DumpError(f"{given}: not usable as the kernel's debuginfo even with --force "
                            f"({mismatch})")
        raise DumpError(f"{given} is from another build than {target.dumpfiles[0]}: "
                        f"{mismatch} (use --force to open anyway)")
    if file_id and dump_build_id and file_id != dump_build_id:
        target.notes.append(f"WARNING: --force: {given} is from another build: {mismatch}")
    target.vmlinux, target.release, target.build_id = given, release, dump_build_id
    target.vmlinux_found = found
    return prog, target
