"""Raw RAM images, given as ``FILE@PADDR`` (crash's syntax): the file holds the physical
memory from PADDR on. Several may be given (one per RAM range), and LiME images
beside them; the VMCOREINFO is found by scanning the memory, and pycrash serves it.

Chosen by the command line's syntax, not by magic: there is no ``probe``. Every
session start asks :func:`is_spec` of each file named, so the rest is imported on use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pycrash.errors import DumpError
from pycrash.memory.formats.base import DumpKind, Opened, Options

if TYPE_CHECKING:
    from pycrash.memory.physmem import Extent


def is_spec(path: str) -> bool:
    """Whether a command-line file names a raw image (``FILE@PADDR``), not a file itself."""
    head, sep, _addr = path.rpartition("@")
    return bool(sep and head) and not os.path.exists(path)


def images(specs: Sequence[str]) -> list[Extent]:
    """Return the extents of raw RAM images given as ``file@paddr``, sorted; overlapping
    ones, bad addresses and missing or empty files are clear errors."""
    from pycrash.memory.physmem import Extent, check_overlaps
    from pycrash.memory.source import FileSource

    found = []
    for spec in specs:
        path, sep, addr = spec.rpartition("@")
        if not sep or not path:
            raise DumpError(f"{spec}: a raw memory image is given as FILE@PHYSADDR")
        try:
            paddr = int(addr, 0)
        except ValueError:
            raise DumpError(f"{spec}: bad physical address {addr!r}") from None
        if not 0 <= paddr < 1 << 64:
            raise DumpError(f"{spec}: bad physical address {addr!r} (not in 0-0x{'f' * 16})")
        src = FileSource(path)  # refuses a missing file, a directory, a FIFO
        if src.size() == 0:
            raise DumpError(f"{path}: empty memory image")
        found.append(Extent(paddr, src.size(), src, 0))
    return check_overlaps(found)


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open raw images (and any LiME images among ``paths``) as one machine's memory."""
    from pycrash.memory import custom
    from pycrash.memory.formats import lime

    specs = [p for p in paths if is_spec(p)]
    found = images(specs)
    for path in paths:
        if not is_spec(path):
            found += lime.extents(path)
    kind = DumpKind.RAW if specs else DumpKind.LIME
    return Opened(custom.images_program(found, options.vmlinux), kind, tuple(paths),
                  own_reader=True)
