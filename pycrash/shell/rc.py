"""Start-up files: ``~/.pycrashrc``, then ``./.pycrashrc`` when it can be trusted."""

from __future__ import annotations

import os
from pathlib import Path


def trusted(path: Path) -> str | None:
    """Return None when ``path`` may be run, else why not (owner, or writable by others)."""
    st = path.stat()
    if st.st_uid != os.geteuid():
        return "not owned by you"
    if st.st_mode & 0o022:
        return "writable by others"
    return None


def startup_files(
    home: Path | None = None, cwd: Path | None = None
) -> tuple[list[Path], list[str]]:
    """Return the rc files to run, in order, and a message for each one skipped."""
    home = home or Path.home()
    cwd = cwd or Path.cwd()
    files: list[Path] = []
    skipped: list[str] = []
    home_rc = home / ".pycrashrc"
    if home_rc.is_file():
        files.append(home_rc)
    local_rc = cwd / ".pycrashrc"
    if local_rc.is_file() and local_rc.resolve() != home_rc.resolve():
        reason = trusted(local_rc)
        if reason:
            skipped.append(f"skipping {local_rc}: {reason}")
        else:
            files.append(local_rc)
    return files, skipped


def commands_of(path: Path) -> list[str]:
    """Return the command lines of a file: blank lines and ``#`` comments left out."""
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines
