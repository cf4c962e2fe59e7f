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
        "ff3cf91681010000 ff3cf91680020000 proc   proc      /proc     "]


def test_long_type_and_the_f_and_i_sections() -> None:
    """crash's show_mounts(): a type longer than six columns eats the device name's
    padding but one space; with -f/-i each mount has its header, its open files or dirty
    inodes, then a blank line."""
    rows = [mount.Mount(0x10, 0x20, "devtmpfs", "dev", "/dev",
                        [mount.MountFile(0x30, 0x40, "CHR ", "null")], [0x40, 0x50]),
            mount.Mount(0x11, 0x21, "sysfs", "sys", "/sys", [], [])]
    assert list(mount.render(Result(rows))) == [
        "     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME",
        "0000000000000010 0000000000000020 devtmpfs dev     /dev      ",
        "   OPEN FILES   ",
        "     DENTRY           INODE       TYPE PATH",
        "0000000000000030 0000000000000040 CHR  null",
        "DIRTY INODES", "40", "50", "",
        "     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME",
        "0000000000000011 0000000000000021 sysfs  sys       /sys      ",
        "   OPEN FILES   ", "No open files found",
        "DIRTY INODES", "No dirty inodes found", ""]
