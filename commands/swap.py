"""swap: swap devices and their use."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.swap import (
    for_each_swap_info,
    swap_file_path,
    swap_is_file,
    swap_usage_in_pages,
)

from pycrash.command import Result, command
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Swap:
    """A swap area: its swap_info_struct, kind (FILE or PARTITION), size and use in KiB,
    priority and path."""

    swap_info: Hex
    type: str
    size_kb: int
    used_kb: int
    priority: int
    filename: str


def render(result: Result) -> Iterable[str]:
    """crash's swap output: a table of swap areas with their use in percent."""
    yield "SWAP_INFO_STRUCT    TYPE       SIZE       USED    PCT  PRI  FILENAME"
    for s in result.rows:
        pct = s.used_kb * 100 // s.size_kb if s.size_kb else 0
        yield (f"{s.swap_info:016x}  {s.type:<9} {s.size_kb:>8}k {s.used_kb:>8}k "
               f"{pct:>4}%  {s.priority:>3}  {s.filename}")


@command(
    "swap",
    summary="swap device information",
    synopsis="swap",
    description="Lists the swap areas in use: size, use, priority and file.",
    examples="crash> swap",
    records=(Swap,),
)
def swap(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Swap` per swap area."""
    kb = int(session.prog["PAGE_SIZE"].value_()) // 1024
    rows = [Swap(si.value_(), "FILE" if swap_is_file(si) else "PARTITION",
                 si.pages.value_() * kb, swap_usage_in_pages(si) * kb, si.prio.value_(),
                 swap_file_path(si).decode())
            for si in for_each_swap_info(session.prog)]
    return Result(rows, render=render)
