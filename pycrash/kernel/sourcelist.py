"""The source code of a kernel text address, as crash's ``dis -s`` lists it through gdb's
``list *ADDRESS``: the file and line the address was compiled from, then the lines
around it from the source file, when the file is on this machine.

gdb looks for a file named relative to the compilation directory (``$cdir``, here
relative itself, as Debian builds the kernel) and then relative to the current
directory (``$cwd``); the listing starts five lines before the line (gdb's listsize of
10, centred) and runs to the end of the function (the first ``}`` alone on a line after
it), or ``count`` lines past it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from drgn import Program

#: gdb's "listsize": lines centred on the line asked for
LISTSIZE = 10


@dataclass(frozen=True)
class SourceLine:
    """One line of a source file: its number and its text (tabs kept)."""

    number: int
    text: str


def source_file(prog: Program, name: str) -> str | None:
    """Return the path on this machine of the source file ``name`` (as the line table
    names it), looked for as gdb does: absolute, under the compilation directory, then
    under the current directory; None when it is in none."""
    if os.path.isabs(name):
        return name if os.path.isfile(name) else None
    from pycrash.kernel.compdir import comp_dir

    base = comp_dir(prog)
    for candidate in ([os.path.join(base, name)] if base else []) + [name]:
        if os.path.isfile(candidate):
            return candidate
    return None


def listing(path: str, line: int, count: int | None = None) -> list[SourceLine]:
    """Return the lines crash lists around ``line`` of the file at ``path``: from five
    before it, to the end of its function (a line ``}``) or, with ``count``, ``count``
    lines after it (fewer at the end of the file)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read().split("\n")
    if text and text[-1] == "":
        text.pop()
    first = max(line - LISTSIZE // 2, 1)
    out: list[SourceLine] = []
    for number in range(first, len(text) + 1):
        if number > line and count is not None and len(out) >= count + line - first + 1:
            break
        body = text[number - 1]
        out.append(SourceLine(number, body))
        if count is None and number > line and body == "}":
            break
    return out
