"""One module per dump format, and the two things done with them: identify a file, open a dump.

Each format module has ``open(paths, options) -> Opened``; those recognised by
their bytes (ELF vmcores, kdump, flattened, LiME) also ``probe(head) -> bool``
and ``inspect``, which checks the headers at identification, so that a dump
whose data stops early (a truncated copy) is refused here, before drgn would
fail on a page read in the middle of a command. Raw images, ``/dev/oldmem``
and the live kernel are chosen by the command line, not by magic.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from types import ModuleType

from pycrash.errors import DumpError
from pycrash.memory import elffile
from pycrash.memory.formats.base import DumpKind, Identified, Opened, Options
from pycrash.memory.source import ByteSource, FileSource

__all__ = ["DumpKind", "Identified", "Opened", "Options", "format_module", "identify",
           "open_from_source", "open_memory"]

#: the formats told by their first bytes, in the order they are tried
PROBED = (DumpKind.ELF, DumpKind.KDUMP, DumpKind.FLATTENED, DumpKind.LIME)
#: the formats a dump can be served in from any byte source (:func:`open_from_source`)
FROM_SOURCE = (DumpKind.ELF, DumpKind.KDUMP, DumpKind.FLATTENED)
HEAD_SIZE = 4096


def format_module(kind: DumpKind) -> ModuleType:
    """Return the module of the format ``kind``, named after it (imported on first use:
    a session imports only the formats it tries)."""
    return importlib.import_module(f"{__name__}.{kind.name.lower()}")


def identify(path: str) -> Identified:
    """Return what ``path`` holds (a dump, or a vmlinux); :class:`DumpError` for anything
    unusable: a missing or unreadable file, a truncated dump, an unknown format."""
    try:
        with FileSource(path) as source:
            head = source.pread(0, HEAD_SIZE)
            if elffile.is_elf(head):
                hdr = elffile.header(head)
                if hdr is None:
                    raise DumpError(f"{path}: only 64-bit ELF files are supported")
                if hdr.type in (elffile.ET_EXEC, elffile.ET_DYN):
                    return Identified(path, None)
            for kind in PROBED:
                fmt = format_module(kind)
                if fmt.probe(head):
                    found: Identified = fmt.inspect(path, source, head)
                    return found
    except FileNotFoundError:
        raise DumpError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DumpError(f"{path}: is a directory, not a dump file") from None
    except PermissionError:
        raise DumpError(f"{path}: permission denied") from None
    except OSError as exc:
        raise DumpError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if elffile.is_elf(head):
        raise DumpError(f"{path}: an ELF file, but neither a vmcore nor a vmlinux")
    if not head:
        raise DumpError(f"{path}: empty file, not a dump")
    raise DumpError(
        f"{path}: not a kernel crash dump or vmlinux (unknown format, "
        f"first bytes {head[:8].hex()})"
    )


def _choose(dumps: Sequence[Identified], raws: Sequence[str],
            options: Options) -> tuple[DumpKind, list[str]]:
    """Return the format that opens this combination of files, and its paths."""
    paths = [d.path for d in dumps]
    kinds = {d.kind for d in dumps}
    if options.live:
        if dumps or raws or options.oldmem:
            raise DumpError("--live reads the running kernel: give no dump file")
        return DumpKind.LIVE, []
    if options.oldmem:
        if dumps or raws:
            raise DumpError("--oldmem is the only memory source: give no other dump file")
        return DumpKind.OLDMEM, [options.oldmem]
    if raws or kinds == {DumpKind.LIME}:
        if dumps and kinds != {DumpKind.LIME}:
            raise DumpError("raw memory images (file@paddr) cannot be mixed with a dump file")
        return (DumpKind.RAW if raws else DumpKind.LIME), [*raws, *paths]
    if len(dumps) > 1:
        return DumpKind.SPLIT, paths
    if not dumps:
        raise DumpError("no dump file given (only a vmlinux)")
    kind = dumps[0].kind
    assert kind is not None  # vmlinux files are not among the dumps
    return kind, paths


def open_memory(dumps: Sequence[Identified], raws: Sequence[str], options: Options) -> Opened:
    """Open the memory of the dump files ``dumps`` (identified) and raw images ``raws``
    (``file@paddr``), or what ``options`` name (``--live``, ``--oldmem``), as a drgn
    Program without debug info; :class:`DumpError` for a combination that makes no dump."""
    # drgn's own command sets load as drgn plugins at start-up (0.1 s) and pycrash
    # does not use them; other drgn plugins (debuginfo finders) still load.
    os.environ.setdefault("DRGN_DISABLE_PLUGINS", "builtin_commands,crash_commands")
    kind, paths = _choose(dumps, raws, options)
    opened: Opened = format_module(kind).open(paths, options)
    return opened


def open_from_source(source: ByteSource, options: Options | None = None) -> Opened:
    """Open the dump whose bytes ``source`` serves (a remote file read by byte range, any
    :class:`~pycrash.memory.source.ByteSource`) as a drgn Program without debug info.

    drgn's own readers take a file by path; here pycrash's readers serve every read
    drgn makes from the source: an ELF vmcore's PT_LOADs, a kdump file's pages, either in
    a flattened stream. Only the pages read are asked of the source (and the headers,
    bitmaps and page table that locate them). :class:`DumpError` with one line for what
    is not one of these dumps, or is damaged, as :func:`identify` says it of a file."""
    os.environ.setdefault("DRGN_DISABLE_PLUGINS", "builtin_commands,crash_commands")
    path = source.path
    head = source.pread(0, HEAD_SIZE)
    if not head:
        raise DumpError(f"{path}: empty file, not a dump")
    for kind in FROM_SOURCE:
        fmt = format_module(kind)
        if fmt.probe(head):
            opened: Opened = fmt.from_source(source, options or Options())
            return opened
    if elffile.is_elf(head):
        raise DumpError(f"{path}: an ELF file, but not a vmcore")
    if format_module(DumpKind.LIME).probe(head):
        raise DumpError(f"{path}: a LiME memory image: pycrash reads those from files only")
    raise DumpError(f"{path}: not a kernel crash dump (unknown format, first bytes "
                    f"{head[:8].hex()})")
