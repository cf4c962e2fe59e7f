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

#: Where a vmlinux with debuginfo is looked for, ``{rel}`` being the dump's release.
VMLINUX_PLACES = (
    "/usr/lib/debug/boot/vmlinux-{rel}",
    "/usr/lib/debug/lib/modules/{rel}/vmlinux",
    "/boot/vmlinux-{rel}",
    "/lib/modules/{rel}/build/vmlinux",
)


@dataclass
class Target:
    """What was opened: the dump files, the vmlinux, and the kernel they describe."""

    dumpfiles: list[str]
    kind: str
    partial: bool
    vmlinux: str
    release: str
    build_id: str | None
    vmlinux_found: bool = False  # True when the vmlinux was looked up, not given
    notes: list[str] = field(default_factory=list)

    @property
    def dumpfile_label(self) -> str:
        """crash's ``DUMPFILE:`` value: the paths as given, and ``[PARTIAL DUMP]`` when filtered."""
        names = "  ".join(self.dumpfiles)
        return f"{names}  [PARTIAL DUMP]" if self.partial else names


def classify(paths: Sequence[str]) -> tuple[list[detect.FileKind], str | None]:
    """Split command-line files into dump files and at most one vmlinux, in any order."""
    dumps: list[detect.FileKind] = []
    vmlinux: str | None = None
    for path in paths:
        kind = detect.identify(path)
        if kind.kind == "vmlinux":
            if vmlinux is not None:
                raise DumpError(f"two kernel files given: {vmlinux} and {path}")
            vmlinux = path
        else:
            dumps.append(kind)
    if not dumps:
        raise DumpError("no dump file given (only a vmlinux)")
    return dumps, vmlinux


def find_vmlinux(release: str, build_id: str | None, dump_dir: str) -> str | None:
    """Return the first vmlinux for ``release`` found in the usual places, or None.

    The build-id tree ``/usr/lib/debug/.build-id/`` comes first, and the dump's
    own directory (``vmlinux-REL`` or ``vmlinux`` beside it) last.
    """
    candidates = []
    if build_id:
        candidates.append(f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug")
    candidates += [p.format(rel=release) for p in VMLINUX_PLACES]
    candidates += [os.path.join(dump_dir, f"vmlinux-{release}"), os.path.join(dump_dir, "vmlinux")]
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def open_target(
    paths: Sequence[str], vmlinux: str | None = None, force: bool = False
) -> tuple[drgn.Program, Target]:
    """Open the dump in ``paths`` (and the vmlinux among them or in ``vmlinux``).

    Returns ``(prog, target)``: a drgn Program with the kernel's DWARF loaded,
    and the :class:`Target` description. Raises :class:`DumpError` with one
    clear line for every way this can fail.
    """
    import drgn

    dumps, given = classify(list(paths) + ([vmlinux] if vmlinux else []))
    for d in dumps:
        if d.kind == "flattened":
            raise DumpError(
                f"{d.path}: makedumpfile flattened format is not supported yet; "
                f"convert it with 'makedumpfile -R {d.path}.kdump < {d.path}'"
            )
    if len(dumps) > 1:
        raise DumpError(
            "several dump files given ("
            + ", ".join(d.path for d in dumps)
            + "); split dumps are not supported yet"
        )
    dump = dumps[0]
    # drgn's own command sets load as drgn plugins at start-up (0.1 s) and pycrash
    # does not use them; other drgn plugins (debuginfo finders) still load.
    os.environ.setdefault("DRGN_DISABLE_PLUGINS", "builtin_commands,crash_commands")
    prog = drgn.Program()
    try:
        prog.set_core_dump(dump.path)
    except Exception as exc:
        raise DumpError(f"{dump.path}: cannot open dump: {exc}") from None
    if not (prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL):
        raise DumpError(f"{dump.path}: a core file, but not of a Linux kernel (no VMCOREINFO)")
    try:
        release = prog["UTS_RELEASE"].string_().decode()
        main, _new = next(iter(prog.loaded_modules()))
    except Exception as exc:
        raise DumpError(f"{dump.path}: cannot read the kernel's VMCOREINFO: {exc}") from None
    dump_build_id = main.build_id.hex() if main.build_id else None

    found = False
    if given is None:
        given = find_vmlinux(release, dump_build_id, os.path.dirname(os.path.abspath(dump.path)))
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
        main.try_file(given, force=force)
    except Exception as exc:
        raise DumpError(f"{given}: cannot load: {exc}") from None
    file_id = elfinfo.build_id(given)
    mismatch = (
        f"vmlinux release {elfinfo.release(given) or '?'} build id {file_id or '?'}, "
        f"dump release {release} build id {dump_build_id or '?'}"
    )
    if main.debug_file_status != drgn.ModuleFileStatus.HAVE:
        if force:
            raise DumpError(f"{given}: not usable as the kernel's debuginfo even with --force "
                            f"({mismatch})")
        raise DumpError(f"{given} is from another build than {dump.path}: {mismatch} "
                        f"(use --force to open anyway)")
    notes = []
    if file_id and dump_build_id and file_id != dump_build_id:
        notes.append(f"WARNING: --force: {given} is from another build: {mismatch}")
    target = Target(
        dumpfiles=[dump.path],
        kind=dump.kind,
        partial=dump.partial,
        vmlinux=given,
        release=release,
        build_id=dump_build_id,
        vmlinux_found=found,
        notes=notes,
    )
    return prog, target
