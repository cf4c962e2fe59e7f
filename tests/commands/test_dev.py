"""dev's renderers: char and block devices, -p PCI devices, -d disks (no dump needed)."""

from __future__ import annotations

import pytest
from pycrash.commands.dev import Device, Disk, PciDevice, render, render_disks, render_pci

from pycrash.command import Result

pytestmark = pytest.mark.fast


def test_devices() -> None:
    rows = [Device("chr", 1, "mem", 0xFF3CF91681234560, 0xFFFFFFFF81000000, "memory_fops"),
            Device("chr", 4, "/dev/vc/0", 0x10, 0xFFFFFFFFC0000000, None),
            Device("chr", 5, "tty", 0x20),
            Device("blk", 254, "virtblk", 0x30)]
    assert list(render(Result(rows))) == [
        "CHRDEV    NAME              CHAR_DEVICE_STRUCT  OPERATIONS",
        "   1      mem               ff3cf91681234560    memory_fops",
        "   4      /dev/vc/0         0000000000000010    ffffffffc0000000",
        "   5      tty               0000000000000020    ",
        "", "BLKDEV    NAME", " 254      virtblk"]


def test_pci_and_disks() -> None:
    pci = [PciDevice(0xFF3CF91681111000, "0000:00:00.0", 0x8086, 0x1237, 0x60000)]
    assert list(render_pci(Result(pci))) == [
        "    PCI_DEV        SLOT          VENDOR DEVICE CLASS",
        "ff3cf91681111000  0000:00:00.0  8086   1237   060000"]
    disks = [Disk(254, 0xFF3CF91681AC3800, "vda", 0xFF3CF9169E42CB58, 1, 2)]
    assert list(render_disks(Result(disks))) == [
        "MAJOR     GENDISK        NAME        REQUEST_QUEUE    TOTAL  READ WRITE",
        "  254 ff3cf91681ac3800 vda        ff3cf9169e42cb58      3     1     2"]

