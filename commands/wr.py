"""wr: write memory, which pycrash never does: dumps are read-only, and so is its view of
a live kernel."""

from __future__ import annotations

import argparse

from pycrash.command import Result, command
from pycrash.errors import CommandError
from pycrash.session import Session


@command(
    "wr",
    summary="write memory",
    synopsis="wr [-u|-k|-p] [-8|-16|-32|-64] [address|symbol] value",
    description="""
crash's wr modifies the contents of memory on a live system. pycrash opens every
source read-only, so wr refuses: on a dump file, as crash does ("not allowed on
dumpfiles"), and on a live kernel too, since pycrash reads /proc/kcore, which cannot
be written.

       -u  address argument is a user virtual address.
       -k  address argument is a kernel virtual address.
       -p  address argument is a physical address.
       -8  write data in an 8-bit value.
      -16  write data in a 16-bit value.
      -32  write data in a 32-bit value.
      -64  write data in a 64-bit value (default on 64-bit machines).
  address  address to write (hexadecimal).
   symbol  symbol of starting address to write.
    value  the value of the data to write.
""",
    examples="""
  crash> wr my_debug_flag 1
  wr: not allowed on dumpfiles
""",
    raw=True,
)
def wr(session: Session, args: argparse.Namespace) -> Result:
    """Refuse: pycrash never writes memory."""
    if session.live:
        raise CommandError("not supported: pycrash reads the live kernel's memory "
                           "read-only (/proc/kcore)")
    raise CommandError("not allowed on dumpfiles")
