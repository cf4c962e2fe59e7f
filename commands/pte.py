"""pte: decode page table entries: physical page and flags, or swap device and offset."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from pycrash.cmdlib.memtext import pte_lines
from pycrash.cmdlib.render import center
from pycrash.cmdlib.resolve import parse_hex
from pycrash.command import Result, arg, command
from pycrash.kernel.pte import PteDecode, decode_pte

__all__ = ["center", "pte", "pte_lines", "render"]
from pycrash.session import Session


def render(result: Result) -> Iterable[str]:
    """crash's pte output: a header and a line for each PTE."""
    for d in result.rows:
        yield from pte_lines(d)


@command(
    "pte",
    summary="translate a page table entry",
    synopsis="pte contents ...",
    description="""
This command translates the hexadecimal contents of a PTE into its physical
page address and page bit settings.  If the PTE references a swap location,
the swap device and offset are displayed.  x86-64 and arm64 entries are
decoded as the dump's architecture lays them out.
""",
    examples="""
  crash> pte d8e067
   PTE    PHYSICAL  FLAGS
  d8e067   d8e000   (PRESENT|RW|USER|ACCESSED|DIRTY)

  crash> pte 13f600
   PTE      SWAP     OFFSET
  13f600  /dev/hda2   5104
""",
    arguments=(arg("contents", nargs="+", metavar="contents"),),
    records=(PteDecode,),
)
def pte(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`PteDecode` per value; decoding stops, as crash's does, at a swap
    entry whose swap area does not exist."""
    rows: list[PteDecode] = []
    errors: list[str] = []
    for text in args.contents:
        d = decode_pte(session.prog, parse_hex(text, "pte"))
        if not d.present and d.pte and d.swap_device is None:
            errors.append("cannot determine swap location")
            break
        rows.append(d)
    return Result(rows, render=render, errors=errors)
