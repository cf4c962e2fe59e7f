"""Errors that pycrash reports to the user as one line, never as a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class PycrashError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""


class DumpError(PycrashError):
    """The dump or the vmlinux cannot be opened, or they do not belong together."""


class CommandError(PycrashError):
    """A command was misused (unknown name, bad flag, bad argument) or found nothing."""


@contextmanager
def named(name: str) -> Iterator[None]:
    """Put ``"name: "`` before the message of a :class:`CommandError` raised inside.

    Transitional (issue 12): a command whose helper may run under another command's
    name (rd's address under dis, list's start under tree, bt's CPUs under foreach)
    names itself, as its messages did before the kernel helpers lost their command
    argument; the interpreter puts the typed command's name before every error line.
    """
    try:
        yield
    except CommandError as exc:
        raise CommandError(f"{name}: {exc}") from None
