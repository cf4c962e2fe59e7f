"""The running kernel (``--live``), through ``/proc/kcore``, which drgn reads itself.

Chosen by ``--live``, not by magic: there is no ``probe``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pycrash.errors import DumpError
from pycrash.memory.formats.base import DumpKind, Opened, Options

KCORE = "/proc/kcore"


def open(paths: Sequence[str], options: Options) -> Opened:  # noqa: A001
    """Open the running kernel (``paths`` is empty); it needs /proc/kcore and root."""
    import drgn

    if not os.path.exists(KCORE):
        raise DumpError("--live: this kernel has no /proc/kcore (CONFIG_PROC_KCORE)")
    if os.geteuid() != 0:
        raise DumpError("--live: reading /proc/kcore needs root")
    prog = drgn.Program()
    try:
        prog.set_kernel()
    except Exception as exc:
        raise DumpError(f"--live: cannot open the running kernel: {exc}") from None
    return Opened(prog, DumpKind.LIVE, (KCORE,))
