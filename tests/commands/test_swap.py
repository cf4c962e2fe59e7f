"""swap's renderer (no dump needed; the command on the real dump: test_net.py)."""

from __future__ import annotations

import pytest
from pycrash.commands import swap

from pycrash.command import Result

pytestmark = pytest.mark.fast


def test_swap_areas() -> None:
    rows = [swap.Swap(0xFF3CF91681030000, "FILE", 1024, 256, -2, "/swapfile"),
            swap.Swap(0x10, "PARTITION", 0, 0, 5, "/dev/vdb")]
    assert list(swap.render(Result(rows))) == [
        "SWAP_INFO_STRUCT    TYPE       SIZE       USED    PCT  PRI  FILENAME",
        "ff3cf91681030000  FILE          1024k      256k   25%   -2  /swapfile",
        "0000000000000010  PARTITION        0k        0k    0%    5  /dev/vdb"]
