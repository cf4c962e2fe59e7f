"""Triage test corpora: fixture dumps linked into a temporary directory (symlinks and
hard links: no copy of a dump's bytes), format variants made from them, and bad files."""

from __future__ import annotations

import os
import struct
from pathlib import Path

FLAT_HEADER = 4096


def link(src: Path, dst: Path, hard: bool = False) -> Path:
    """Link ``src`` at ``dst`` (a hard link when asked and possible, else a symlink)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if hard:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    dst.symlink_to(src)
    return dst


def flatten(src: Path, dst: Path, chunk: int = 1 << 20) -> Path:
    """Write ``src`` as makedumpfile's flattened stream (``-F``): its header, then
    (offset, size, data) records, last chunk first (a stream need not be in order), and
    the end marker."""
    size = src.stat().st_size
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write((b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
                  .ljust(FLAT_HEADER, b"\0"))
        for offset in reversed(range(0, size, chunk)):
            f.seek(offset)
            data = f.read(chunk)
            out.write(struct.pack(">qq", offset, len(data)) + data)
        out.write(struct.pack(">qq", -1, 0))
    return dst


def bad_files(root: Path, truncate_from: Path | None = None) -> dict[str, Path]:
    """Write the bad files: random bytes, an empty file and (from a real dump) a truncated
    one; return them by kind."""
    root.mkdir(parents=True, exist_ok=True)
    out = {"random": root / "vmcore.random", "empty": root / "vmcore.empty"}
    out["random"].write_bytes(os.urandom(200_000))
    out["empty"].write_bytes(b"")
    if truncate_from is not None:
        out["truncated"] = root / "vmcore.truncated"
        with open(truncate_from, "rb") as f:
            out["truncated"].write_bytes(f.read(1 << 20))
    return out


def stall_or_extract(task):  # type: ignore[no-untyped-def]
    """The per-dump function of a worker that hangs on a task keyed ``*-hang`` (as a
    worker stuck in a C library would) and extracts every other one."""
    import time

    from pycrash.triage.extract import extract

    if task.key.endswith("-hang"):
        time.sleep(3600)
    return extract(task)
