"""dev: the renderers (no dump needed), and dev and dev -d against crash on 6.1."""

from __future__ import annotations

import pytest
from pycrash.commands.dev import Device, Disk, DiskView, render, render_disks, render_pci_tree

from pycrash.command import Result


@pytest.mark.fast
def test_devices() -> None:
    rows = [Device("chr", 1, "mem", 0xFF3CF91681234560, 0xFFFFFFFF81000000, "memory_fops"),
            Device("chr", 4, "/dev/vc/0", 0x10, 0xFFFFFFFFC0000000, None),
            Device("chr", 13, "input", 0),
            Device("blk", 254, "virtblk", 0xFF3CF91681AC3800, 0xFFFFFFFFC024D500,
                   "virtblk_fops")]
    # crash's columns: the cdev (gendisk) and the operations' symbol, "(none)" centred
    assert list(render(Result(rows))) == [
        "CHRDEV    NAME                 CDEV        OPERATIONS      ",
        "   1      mem            ff3cf91681234560  memory_fops",
        "   4      /dev/vc/0                    10  ffffffffc0000000",
        "  13      input               (none)     ",
        "", "BLKDEV    NAME                GENDISK      OPERATIONS      ",
        " 254      virtblk        ff3cf91681ac3800  virtblk_fops"]


@pytest.mark.fast
def test_pci_and_disks() -> None:
    from pycrash.kernel.devices import PciBus, PciFunction

    host = PciFunction(0xFF3CF91681111000, "0000:00:00.0", 0x600, 0x8086, 0x1237, "ENDPOINT")
    port = PciFunction(0xFF3CF91681112000, "0000:00:1c.0", 0x604, 0x8086, 0x2448,
                       "ROOT_PORT [BRIDGE]")
    leaf = PciBus(0x20, "0000:01", 0x10, port, [], [])
    root = PciBus(0x10, "0000:00", 0, None, [host, port], [leaf])
    header = "      PCI DEV      DO:BU:SL.FN  CLASS   PCI_ID      TYPE   "
    # crash's tree: the root bus, its devices, then each bus below with its bridge
    assert list(render_pci_tree(Result([root]))) == [
        "    ROOT BUS     BUSNAME", "10               0000:00", header,
        "  ff3cf91681111000 0000:00:00.0  0600  8086:1237  ENDPOINT ",
        "  ff3cf91681112000 0000:00:1c.0  0604  8086:2448 ROOT_PORT [BRIDGE]",
        "      PCI BUS         PARENT BUS   ", "  20               10              ", header,
        "  ff3cf91681112000 0000:00:1c.0  0604  8086:2448 ROOT_PORT [BRIDGE]", "", ""]
    disks = [Disk(254, 0xFF3CF91681AC3800, "vda", 0xFF3CF9169E42CB58, 1, 2)]
    assert list(render_disks(Result(disks, view=DiskView(False)))) == [
        "MAJOR GENDISK            NAME       REQUEST_QUEUE      TOTAL  READ WRITE ",
        "  254 ff3cf91681ac3800   vda        ff3cf9169e42cb58       3     1     2 "]
    assert list(render_disks(Result(disks, view=DiskView(True))))[0].endswith("ASYNC  SYNC ")



def test_dev_and_dev_d_equal_crash_on_6_1() -> None:
    """On Debian 12's 6.1 (no bdev_map: the gendisks come from the block device inodes;
    READ and WRITE, BLK_RW_SYNC being gone) as crash 8.0.2 prints them."""
    from conftest import crash_commands, fixture_dump

    dump = fixture_dump("small")
    theirs = crash_commands(dump, ["dev", "dev -d", "dev -p"])
    s = dump.open()
    for line in ("dev", "dev -d", "dev -p"):
        assert str(s.run(line)).splitlines() == theirs[line]
