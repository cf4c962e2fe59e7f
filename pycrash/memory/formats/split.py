"""A kdump split into several files (``makedumpfile --split``), opened together.

Each part is a kdump file holding the pages of one range of page frames; the
parts given must all be of one dump (the same VMCOREINFO) and together cover
every page frame. pycrash serves the memory from all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pycrash.errors import DumpError
from pycrash.memory import custom
from pycrash.memory.formats import kdump
from pycrash.memory.formats.base import DumpKind, Opened, Options
from pycrash.memory.source import FileSource


def _is_part(path: str) -> bool:
    """Whether ``path`` is a (plain, not flattened) kdump file that is one part of a split set."""
    with FileSource(path) as src:
        return kdump.probe(src.pread(0, 8)) and kdump.read_header(src).split


def parts(paths: Sequence[str]) -> list[kdump.KdumpFile]:
    """Return the readers of a split set's parts, sorted by first page frame; name a file
    that is no part, a part of another dump, or the page frames no part holds."""
    for path in paths:
        if not _is_part(path):
            raise DumpError(f"several dump files given, but {path} is not part of a split "
                            f"dump (makedumpfile --split)")
    found = [kdump.KdumpFile(FileSource(p)) for p in paths]
    first = found[0]
    for p in found[1:]:
        if p.vmcoreinfo() != first.vmcoreinfo():
            raise DumpError(f"{p.path} is not part of the same dump as {first.path}")
    found.sort(key=lambda p: p.header.start_pfn)
    covered = 0
    for p in found:
        if p.header.start_pfn > covered:
            raise DumpError(f"a part of the split dump is missing: page frames "
                            f"{covered:#x}-{p.header.start_pfn - 1:#x} are in none of "
                            + ", ".join(q.path for q in found))
        covered = max(covered, p.header.end_pfn)
    if covered < first.header.max_mapnr:
        raise DumpError(f"a part of the split dump is missing: page frames from "
                        f"{covered:#x} are in none of " + ", ".join(q.path for q in found))
    return found


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open the parts of a split set as one dump, served by pycrash."""
    found = parts(paths)
    prog = custom.new_program(found[0].machine())
    kdump.add_to_program(prog, found, options.zero_excluded)
    regs = found[0].regs()
    custom.finish(prog, found[0].vmcoreinfo())
    return Opened(prog, DumpKind.SPLIT, tuple(paths), found[0].header.dump_level > 0, regs,
                  found[0], own_reader=True)
