"""Files pycrash writes (``> file``, ``pycrash report -o DIR``): whole or not at all.

The text goes to a temporary file beside the target, which is renamed over it only
once everything is written and flushed to disk; a full disk or any other write error
removes the temporary file and raises :class:`OSError`, leaving the target as it was
(never a partial file that looks complete). ``>> file`` appends to the file itself:
what was there stays, and an error says how far the append got.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable


def write_atomically(path: str, chunks: Iterable[str]) -> None:
    """Write ``chunks`` as the whole new content of ``path`` (its mode kept if it
    exists; a symbolic link's target replaced); :class:`OSError` leaves ``path`` untouched.
    A device or FIFO (``> /dev/null``) is written to directly."""
    write_files({path: chunks})


def write_files(files: dict[str, Iterable[str]]) -> None:
    """Write several files as :func:`write_atomically` does one, all or none: each goes
    to its temporary file first, and only when all are written are they renamed."""
    done: list[tuple[str, str]] = []
    try:
        for path, chunks in files.items():
            real = os.path.realpath(path)
            if os.path.exists(real) and not stat.S_ISREG(os.stat(real).st_mode):
                with open(real, "w") as f:
                    f.writelines(chunks)
                continue
            done.append((_written(real, chunks), real))
    except BaseException:
        for tmp, _real in done:
            os.unlink(tmp)
        raise
    for tmp, real in done:
        os.replace(tmp, real)


def write_binary(path: str, chunks: Iterable[bytes]) -> None:
    """Write the bytes of ``chunks`` as the whole new content of ``path``, as
    :func:`write_atomically` writes text (``rd -r``): a read or write error on the way
    leaves ``path`` as it was."""
    real = os.path.realpath(path)
    if os.path.exists(real) and not stat.S_ISREG(os.stat(real).st_mode):
        with open(real, "wb") as f:
            f.writelines(chunks)
        return
    os.replace(_written(real, chunks, binary=True), real)


def _written(path: str, chunks: Iterable[str] | Iterable[bytes], binary: bool = False) -> str:
    """Write ``chunks`` to a new temporary file beside ``path`` with the mode ``path``
    has (or would get); return its name."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            f.writelines(chunks)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        return tmp
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def append(path: str, chunks: Iterable[str]) -> None:
    """Append ``chunks`` to ``path`` (``>> file``), flushed to disk; :class:`OSError` when
    the disk is full (what was appended before the error stays)."""
    with open(path, "a") as f:
        f.writelines(chunks)
        f.flush()
        if stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # not /dev/null
            os.fsync(f.fileno())
