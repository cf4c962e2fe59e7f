"""Errors that pycrash reports to the user as one line, never as a traceback."""

from __future__ import annotations


class PycrashError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message."""


class DumpError(PycrashError):
    """The dump or the vmlinux cannot be opened, or they do not belong together."""


class CommandError(PycrashError):
    """A command was misused (unknown name, bad flag, bad argument) or found nothing."""
