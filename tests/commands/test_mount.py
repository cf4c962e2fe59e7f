"""mount's renderer (no dump needed; the command on the real dump: test_net.py)."""

from __future__ import annotations

import pytest
from pycrash.commands import mount

from pycrash.command import Result

pytestmark = pytest.mark.fast


def test_mounts() -> None:
    rows = [mount.Mount(0xFF3CF91681010000, 0xFF3CF91680020000, "proc", "proc", "/proc")]
    assert list(mount.render(Result(rows))) == [
        "     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME",
        "ff3cf91681010000 ff3cf91680020000 proc   proc      /proc"]
