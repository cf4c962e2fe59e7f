"""The vmlinux of a dump's build: found by build id, checked, remembered per process.

Looked for in the ``--debuginfo-dir`` directories (any ``vmlinux*`` or ``*.debug`` file
under them whose GNU build id is the dump's), then where distributions install it
(:func:`pycrash.target.find_vmlinux`: ``/usr/lib/debug/.build-id/``,
``/usr/lib/debug/boot/vmlinux-REL``... and ``vmlinux-REL`` beside the dump, the
fixtures' layout). A candidate whose build id differs from the dump's is passed over.
Answers are kept for the life of the worker process, so a build's debuginfo is
looked up once per worker.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from pycrash.errors import PycrashError
from pycrash.memory import elfinfo
from pycrash.target import find_vmlinux

#: build id -> vmlinux path (or None: none found), per process
_FOUND: dict[tuple[str, str, str], str | None] = {}
#: directory -> {build id: path}, per process
_INDEX: dict[str, dict[str, str]] = {}
MAX_FILES = 10_000


def _index(directory: str) -> dict[str, str]:
    """Return ``{build id: path}`` of the vmlinux files under ``directory``."""
    if directory in _INDEX:
        return _INDEX[directory]
    found: dict[str, str] = {}
    seen = 0
    for root, _dirs, files in os.walk(directory):
        for name in sorted(files):
            if not (name.startswith("vmlinux") or name.endswith(".debug")):
                continue
            seen += 1
            if seen > MAX_FILES:
                break
            path = os.path.join(root, name)
            try:
                bid = elfinfo.build_id(path)
            except (PycrashError, OSError):
                continue
            if bid:
                found.setdefault(bid, path)
    _INDEX[directory] = found
    return found


def _matches(path: str, build_id: str | None) -> bool:
    """Return whether ``path`` is a vmlinux of build ``build_id`` (any, when unknown)."""
    if not build_id:
        return True
    try:
        return elfinfo.build_id(path) == build_id
    except (PycrashError, OSError):
        return False


def find(release: str, build_id: str | None, dump_dir: str | None,
         dirs: Sequence[str] = ()) -> str | None:
    """Return the vmlinux with debuginfo of the dump's build, or None when there is none."""
    key = (release, build_id or "", dump_dir or "")
    if key in _FOUND:
        return _FOUND[key]
    path: str | None = None
    if build_id:
        path = next((_index(d)[build_id] for d in dirs if build_id in _index(d)), None)
    if path is None:
        for directory in [*dirs, dump_dir or ""]:
            if not directory:
                continue
            for name in (f"vmlinux-{release}", "vmlinux"):
                candidate = os.path.join(directory, name)
                if os.path.isfile(candidate) and _matches(candidate, build_id):
                    path = candidate
                    break
            if path:
                break
    if path is None:
        system = find_vmlinux(release, build_id, dump_dir or "")
        if system is not None and _matches(system, build_id):
            path = system
    _FOUND[key] = path
    return path
