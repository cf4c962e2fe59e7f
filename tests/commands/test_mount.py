"""mount's and swap's renderers (no dump needed)."""

from __future__ import annotations

from pycrash.commands import mount, swap

from pycrash.command import Result


def test_mounts() -> None:
    rows = [mount.Mount(0xFF3CF91681010000, 0xFF3CF91680020000, "proc", "proc", "/proc")]
    assert list(mount.render(Result(rows))) == [
        "     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME",
        "ff3cf91681010000 ff3cf91680020000 proc   proc      /proc"]


def test_swap_areas() -> None:
    rows = [swap.Swap(0xFF3CF91681030000, "FILE", 1024, 256, -2, "/swapfile"),
            swap.Swap(0x10, "PARTITION", 0, 0, 5, "/dev/vdb")]
    assert list(swap.render(Result(rows))) == [
        "SWAP_INFO_STRUCT    TYPE       SIZE       USED    PCT  PRI  FILENAME",
        "ff3cf91681030000  FILE          1024k      256k   25%   -2  /swapfile",
        "0000000000000010  PARTITION        0k        0k    0%    5  /dev/vdb"]
