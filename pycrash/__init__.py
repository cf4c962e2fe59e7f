"""pycrash: a Python alternative to the crash utility, built on drgn.

The import is light: drgn and the commands load when a session opens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pycrash.session import Session


def open(dump: str | list[str], vmlinux: str | None = None, **options: Any) -> Session:  # noqa: A001
    """Open a crash dump and return a :class:`pycrash.session.Session` over it.

    ``dump`` is the vmcore path (or a list of paths); ``vmlinux`` the debuginfo
    kernel, found from the dump's release when left out; ``options`` are those
    of :func:`pycrash.target.open_target` (``force``).
    """
    from pycrash.session import Session

    return Session.open(dump, vmlinux, **options)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext pycrash``: add the ``%pycrash``, ``%crash`` and ``%%crash`` magics."""
    from pycrash.magics import load_ipython_extension as load

    load(ipython)
