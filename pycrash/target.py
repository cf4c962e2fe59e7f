"""Open a dump and its vmlinux as one drgn Program, and describe what was opened.

crash accepts ``crash VMLINUX VMCORE`` in either order; so does :func:`open_target`.
The vmlinux may be left out: it is looked for by the dump's release in the
places distributions install debuginfo, and the file used is reported.
Opening is three steps: classify the files (:func:`classify`), open the dump's
memory (:mod:`pycrash.memory.formats`), load the vmlinux into it; what was
opened is an immutable :class:`Target`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from pycrash.errors import DumpError
from pycrash.memory import elfinfo
from pycrash.memory.formats import (
    DumpKind,
    Identified,
    Opened,
    Options,
    identify,
    open_from_source,
    open_memory,
)
from pycrash.memory.formats.raw import is_spec
from pycrash.memory.source import ByteSource

if TYPE_CHECKING:
    import drgn

    from pycrash.memory.elfcore import PrStatus
    from pycrash.memory.formats.kdump import KdumpFile

__all__ = ["Options", "Target", "classify", "find_vmlinux", "open_source_target", "open_target",
           "with_debuginfo"]

#: Where a vmlinux with debuginfo is looked for, ``{rel}`` being the dump's release.
VMLINUX_PLACES = (
    "/usr/lib/debug/boot/vmlinux-{rel}",
    "/usr/lib/debug/lib/modules/{rel}/vmlinux",
    "/boot/vmlinux-{rel}",
    "/lib/modules/{rel}/build/vmlinux",
)


@dataclass(frozen=True, eq=False)
class Target:
    """What was opened: the dump files, the vmlinux, and the kernel they describe.

    ``regs`` are the CPUs' NT_PRSTATUS registers when pycrash read the notes
    itself (sources drgn does not open); ``kdump_file`` is the kdump reader pycrash
    serves the memory with, if it does; ``notes`` are warnings to show the user.
    """

    dumpfiles: tuple[str, ...]
    kind: DumpKind
    partial: bool
    vmlinux: str
    release: str
    build_id: str | None
    vmlinux_found: bool = False  # True when the vmlinux was looked up, not given
    notes: tuple[str, ...] = ()
    regs: tuple[PrStatus, ...] = ()
    kdump_file: KdumpFile | None = None
    own_reader: bool = False  # pycrash serves the memory: faults name physical addresses
    qemu: bool = False  # QEMU's dump-guest-memory wrote it (crash's "QEMU" dumps)
    #: "btf+dwarf": the vmlinux's BTF and symbols, its DWARF indexed when first needed;
    #: "dwarf": its DWARF indexed at open (--dwarf); "btf": no vmlinux, kallsyms and BTF
    #: from the dump
    debuginfo: str = "dwarf"

    @cached_property
    def kdump(self) -> KdumpFile | None:
        """The kdump reader of a kdump-format dump (pycrash's own, or made on first use
        to explain excluded pages), else None."""
        if self.kdump_file is None and self.kind == DumpKind.KDUMP and len(self.dumpfiles) == 1:
            from pycrash.memory.formats.kdump import KdumpFile
            from pycrash.memory.source import FileSource

            return KdumpFile(FileSource(self.dumpfiles[0]))
        return self.kdump_file

    @property
    def dumpfile_label(self) -> str:
        """crash's ``DUMPFILE:`` value: the paths as given, then what kind and if filtered."""
        parts = ["  ".join(self.dumpfiles)]
        if self.qemu:
            parts.append("[QEMU ELF]" if self.kind == DumpKind.ELF else "[QEMU KDUMP]")
        if self.kind.label:
            parts.append(self.kind.label)
        if self.partial:
            parts.append("[PARTIAL DUMP]")
        return "  ".join(parts)


def classify(paths: Sequence[str]) -> tuple[list[Identified], list[str], str | None]:
    """Split command-line files into dumps, raw images (``file@paddr``) and one vmlinux."""
    dumps: list[Identified] = []
    raws: list[str] = []
    vmlinux: str | None = None
    for path in paths:
        if is_spec(path):
            raws.append(path)
            continue
        found = identify(path)
        if found.vmlinux:
            if vmlinux is not None:
                raise DumpError(f"two kernel files given: {vmlinux} and {path}")
            vmlinux = path
        else:
            dumps.append(found)
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


def _load_vmlinux(main: drgn.Module, vmlinux: str, release: str, dump_build_id: str | None,
                  force: bool, dumpfile: str, check: bool = True) -> tuple[str, ...]:
    """Load ``vmlinux`` as the kernel's debuginfo (its DWARF indexed now with ``check``,
    else on drgn's first look-up in it); return the warnings to show (one, when
    ``force`` made pycrash use another build's). :class:`DumpError` when it has no DWARF,
    or is another build's and ``force`` is not given (or does not help)."""
    import drgn

    if not elfinfo.has_debug_info(vmlinux):
        raise DumpError(f"{vmlinux}: this vmlinux has no debug info (.debug_info); "
                        f"use the one from the -dbg/-debuginfo package")
    try:
        main.try_file(vmlinux, force=force)
    except Exception as exc:
        raise DumpError(f"{vmlinux}: cannot load: {exc}") from None
    file_id = elfinfo.build_id(vmlinux)

    def mismatch() -> str:  # only when it is said: the release costs a read of .rodata
        return (f"vmlinux release {elfinfo.release(vmlinux) or '?'} build id {file_id or '?'}, "
                f"dump release {release} build id {dump_build_id or '?'}")

    if main.debug_file_status != drgn.ModuleFileStatus.HAVE:
        if force:
            raise DumpError(f"{vmlinux}: not usable as the kernel's debuginfo even with "
                            f"--force ({mismatch()})")
        raise DumpError(f"{vmlinux} is from another build than {dumpfile}: "
                        f"{mismatch()} (use --force to open anyway)")
    if check:
        _check_dwarf(main.prog, vmlinux)
    if file_id and dump_build_id and file_id != dump_build_id:
        return (f"WARNING: --force: {vmlinux} is from another build: {mismatch()}",)
    return ()


def _open_btf(prog: drgn.Program, release: str, build_id: str | None,
              why: str) -> tuple[str, ...]:
    """Make ``prog`` work without a vmlinux (:mod:`pycrash.kernel.nodebug`); return the
    lines to show: the mode, and warnings. :class:`DumpError` naming what the kernel
    lacks (BTF, kallsyms) when it cannot."""
    from pycrash.kernel import nodebug

    try:
        nd = nodebug.load(prog, release, build_id)
    except ValueError as exc:
        raise DumpError(f"{why}, and {exc}; install "
                        f"{nodebug.debuginfo_hint(release, build_id)}") from None
    return (f"{why}: symbols from the dump's kallsyms, types from its BTF (no source "
            f"lines; for them install {nodebug.debuginfo_hint(release, build_id)})",
            *nd.notes)


def _check_dwarf(prog: drgn.Program, vmlinux: str) -> None:
    """Index the vmlinux's DWARF now (every command but a few needs it, so its first use
    would pay the same 0.3 s): damaged debug info is then refused in one line at open,
    rather than failing each command with libdw's words."""
    try:
        prog.type("struct task_struct")
    except LookupError:
        raise DumpError(f"{vmlinux}: its debug info has no struct task_struct: "
                        "not a Linux kernel's, or damaged") from None
    except Exception as exc:  # drgn's "libdw error: invalid DWARF" and the like
        text = str(exc).strip().splitlines()
        raise DumpError(f"{vmlinux}: damaged debug info "
                        f"({text[0] if text else type(exc).__name__})") from None


def open_target(
    paths: Sequence[str], vmlinux: str | None = None, force: bool = False,
    options: Options | None = None, btf: bool = False, dwarf: bool = False,
) -> tuple[drgn.Program, Target]:
    """Open the dump in ``paths`` (and the vmlinux among them or in ``vmlinux``).

    Returns ``(prog, target)``: a drgn Program with the kernel's vmlinux loaded,
    and the :class:`Target` description. Its types come from the vmlinux's ``.BTF``
    section and its DWARF is indexed only when a look-up needs it
    (``Target.debuginfo == "btf+dwarf"``); with ``dwarf``, or a vmlinux without BTF,
    the DWARF is indexed now (``"dwarf"``). With no vmlinux given or found (or with
    ``btf``), the Program's symbols come from the dump's kallsyms and its types from
    the kernel's BTF (``"btf"``). Raises :class:`DumpError` with one clear line for
    every way this can fail.
    """
    opts = options or Options()
    opts = opts._replace(force=opts.force or force)
    dumps, raws, given = classify(list(paths) + ([vmlinux] if vmlinux else []))
    opened: Opened = open_memory(dumps, raws, opts._replace(vmlinux=given))
    first = opened.dumpfiles[0]
    where = "" if opened.kind == DumpKind.LIVE else os.path.dirname(os.path.abspath(
        first.rpartition("@")[0] or first))
    return with_debuginfo(opened, given, opts.force, btf, where, dwarf)


def open_source_target(
    source: ByteSource, vmlinux: str | None = None, force: bool = False,
    options: Options | None = None, btf: bool = False, dwarf: bool = False,
) -> tuple[drgn.Program, Target]:
    """Open the dump that ``source`` serves (a remote file read by byte range:
    :func:`pycrash.memory.formats.open_from_source`) with ``vmlinux``, a local file, as
    :func:`open_target` opens a dump file; without one, the vmlinux is looked for in the
    system's places only (a remote dump has no directory here)."""
    opts = options or Options()
    opts = opts._replace(force=opts.force or force)
    if vmlinux is not None and not identify(vmlinux).vmlinux:
        raise DumpError(f"{vmlinux}: not a vmlinux")
    opened = open_from_source(source, opts._replace(vmlinux=vmlinux))
    return with_debuginfo(opened, vmlinux, opts.force, btf, "", dwarf)


def with_debuginfo(opened: Opened, given: str | None, force: bool, btf: bool,
                   dump_dir: str, dwarf: bool = False) -> tuple[drgn.Program, Target]:
    """Load the kernel's debuginfo into the Program of the dump ``opened``: the vmlinux
    ``given``, else one found for its build (in the system's places and ``dump_dir``),
    else the dump's kallsyms and BTF; return the Program and the :class:`Target`
    (:func:`open_target` says what ``btf`` and ``dwarf`` choose)."""
    import drgn

    prog, first = opened.prog, opened.dumpfiles[0]
    arch = prog.platform.arch if prog.platform is not None else None
    if arch not in (drgn.Architecture.X86_64, drgn.Architecture.AARCH64):
        name = arch.name.lower() if arch is not None else "unknown"
        raise DumpError(f"{first}: a dump of an {name} machine: pycrash reads x86-64 and "
                        "arm64 (aarch64) dumps")
    if not (prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL):
        raise DumpError(f"{first}: a core file, but not of a Linux kernel (no VMCOREINFO)")
    try:
        release = prog["UTS_RELEASE"].string_().decode()
        main, _new = next(iter(prog.loaded_modules()))
    except Exception as exc:
        raise DumpError(f"{first}: cannot read the kernel's VMCOREINFO: {exc}") from None
    dump_build_id = main.build_id.hex() if main.build_id else None
    found = given is None
    if btf:
        if given is not None:
            raise DumpError(f"--btf opens the dump without a vmlinux, and {given} was given")
        if dwarf:
            raise DumpError("--btf opens the dump without a vmlinux, --dwarf with one's "
                            "DWARF: give one of them")
        notes = opened.notes + _open_btf(prog, release, dump_build_id, "no vmlinux (--btf)")
        return prog, Target(opened.dumpfiles, opened.kind, opened.partial, "", release,
                            dump_build_id, False, notes, opened.regs, opened.kdump,
                            opened.own_reader, opened.qemu, debuginfo="btf")
    if given is None:
        given = find_vmlinux(release, dump_build_id, dump_dir)
        if given is None:
            notes = opened.notes + _open_btf(prog, release, dump_build_id,
                                             f"no vmlinux given or found for release {release}")
            return prog, Target(opened.dumpfiles, opened.kind, opened.partial, "", release,
                                dump_build_id, False, notes, opened.regs, opened.kdump,
                                opened.own_reader, opened.qemu, debuginfo="btf")
    notes = opened.notes + _load_vmlinux(main, given, release, dump_build_id, force, first,
                                         check=dwarf)
    mode = "dwarf"
    if not dwarf:
        from pycrash.kernel import nodebug

        if nodebug.load_with_vmlinux(prog, given, release, dump_build_id) is not None:
            mode = "btf+dwarf"
        else:  # no .BTF: every type from DWARF, indexed now
            _check_dwarf(prog, given)
    return prog, Target(opened.dumpfiles, opened.kind, opened.partial, given, release,
                        dump_build_id, found, notes, opened.regs, opened.kdump,
                        opened.own_reader, opened.qemu, debuginfo=mode)
