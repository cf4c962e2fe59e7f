"""Errors that pycrash reports to the user as one line, never as a traceback."""

from __future__ import annotations

import argparse
from typing import NoReturn


class PycrashError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""


class DumpError(PycrashError):
    """The dump or the vmlinux cannot be opened, or they do not belong together."""


class CommandError(PycrashError):
    """A command was misused (unknown name, bad flag, bad argument) or found nothing."""


def describe(exc: BaseException) -> str:
    """Return the one line that tells what an exception no code expected was: out of
    memory and the system's errors in words, anything else as an internal error (a bug
    of pycrash's, whose traceback ``--debug`` shows)."""
    if isinstance(exc, PycrashError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (a damaged header may ask for more than the machine has)"
    if isinstance(exc, RecursionError):
        return "internal error: recursion too deep (--debug shows the traceback)"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip().splitlines()
    if type(exc).__name__ == "Exception" and text and text[0].startswith("libdw error"):
        return f"the vmlinux's debug info is damaged ({text[0]})"  # drgn's own words
    detail = f": {text[0]}" if text else ""
    return f"internal error: {type(exc).__name__}{detail} (--debug shows the traceback)"


def open_failure(exc: BaseException, debug: bool = False, prog: str = "pycrash") -> int:
    """Report on stderr, in one line, why opening a dump failed, whatever ``exc`` is (the
    traceback first with ``debug``, for an error no code expected); return the exit
    status: 130 for Ctrl-C, else 2."""
    import sys

    if isinstance(exc, KeyboardInterrupt):
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    if debug and not isinstance(exc, PycrashError):
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    sys.stderr.write(f"{prog}: {describe(exc)}\n")
    return 2


def one_line_parser(**kwargs: object) -> argparse.ArgumentParser:
    """Return an ArgumentParser whose usage errors are one line on stderr (exit status 2):
    ``PROG: MESSAGE (PROG --help shows the options)``, not argparse's usage block."""
    return _OneLineParser(**kwargs)  # type: ignore[arg-type]


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} ({self.prog} --help shows the options)\n")
