"""dev: character and block devices; -p PCI devices."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Object

from pycrash.cmdlib.resolve import symbol_name
from pycrash.command import Result, arg, command
from pycrash.kernel.iterators import chained
from pycrash.kernel.walk import bounded
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Device:
    """A registered device major: ``chr`` (its char_device_struct, and the
    file_operations of its cdev, 0 when none, with their symbol) or ``blk`` (its
    blk_major_name), and its name."""

    kind: str
    major: int
    name: str
    address: Hex
    operations: Hex = 0
    operations_symbol: str | None = None


def render(result: Result) -> Iterable[str]:
    """crash's dev output: the CHRDEV table, then the BLKDEV table."""
    yield "CHRDEV    NAME              CHAR_DEVICE_STRUCT  OPERATIONS"
    for d in (x for x in result.rows if x.kind == "chr"):
        ops = d.operations_symbol or (f"{d.operations:x}" if d.operations else "")
        yield f" {d.major:>3}      {d.name:<17} {d.address:016x}    {ops}"
    yield ""
    yield "BLKDEV    NAME"
    for d in (x for x in result.rows if x.kind == "blk"):
        yield f" {d.major:>3}      {d.name}"


@dataclass(frozen=True)
class PciDevice:
    """A PCI device: its struct pci_dev, slot name, vendor and device ids, class code."""

    pci_dev: Hex
    slot: str
    vendor: Hex
    device: Hex
    klass: Hex


def render_pci(result: Result) -> Iterable[str]:
    """crash's dev -p output: a table of PCI devices."""
    yield "    PCI_DEV        SLOT          VENDOR DEVICE CLASS"
    for d in result.rows:
        yield f"{d.pci_dev:016x}  {d.slot:<13} {d.vendor:04x}   {d.device:04x}   {d.klass:06x}"


@dataclass(frozen=True)
class Disk:
    """A disk: its major number, struct gendisk, name, request_queue, and the reads and
    writes in flight."""

    major: int
    gendisk: Hex
    name: str
    queue: Hex
    reads: int
    writes: int


def render_disks(result: Result) -> Iterable[str]:
    """crash's dev -d output: a table of disks and their I/O in flight."""
    yield "MAJOR     GENDISK        NAME        REQUEST_QUEUE    TOTAL  READ WRITE"
    for d in result.rows:
        yield (f"{d.major:>5} {d.gendisk:016x} {d.name:<10} {d.queue:016x} "
               f"{d.reads + d.writes:>6} {d.reads:>5} {d.writes:>5}")


@command(
    "dev",
    summary="device data",
    synopsis="dev [-p | -d]",
    description="""
Lists the registered character devices (major, name, char_device_struct and
the file operations) and block devices (major and name); -p lists PCI
devices with their vendor, device and class; -d lists the disks with their
request queues and the reads and writes in flight (counted per CPU by
bio-based drivers; blk-mq drivers count requests in their tags instead).
""",
    examples="crash> dev\ncrash> dev -p",
    records=(Device, PciDevice, Disk),
    arguments=(arg("-p", dest="pci", action="store_true", help="PCI devices"),
               arg("-d", dest="disks", action="store_true", help="disks and I/O in flight")),
)
def dev(session: Session, args: argparse.Namespace) -> Result:
    """Return :class:`Device` rows, or :class:`PciDevice` rows with -p."""
    prog = session.prog
    if args.disks:
        return disks(session)
    if args.pci:
        from drgn.helpers.linux.pci import for_each_pci_dev, pci_name

        rows = [PciDevice(d.value_(), pci_name(d), d.vendor.value_(), d.device.value_(),
                          d.__getattribute__("class").value_())
                for d in bounded(for_each_pci_dev(prog), "the PCI device list")]
        return Result(rows, render=render_pci)
    devices = []
    chrdevs = prog["chrdevs"]
    for i in range(len(chrdevs)):
        for cd in chained(chrdevs[i].read_(), f"chrdevs[{i}]"):
            ops = cd.cdev.ops.value_() if cd.cdev else 0
            devices.append(Device("chr", cd.major.value_(), cd.name.string_().decode(),
                                  cd.value_(), ops, symbol_name(prog, ops) if ops else None))
    names = prog["major_names"]
    for i in range(len(names)):
        for bd in chained(names[i].read_(), f"major_names[{i}]"):
            devices.append(Device("blk", bd.major.value_(), bd.name.string_().decode(),
                                  bd.value_()))
    devices.sort(key=lambda d: (d.kind != "chr", d.major))
    return Result(devices, render=render)


def _counter(obj: Object) -> int:
    """Return the integer inside a counter (local_t wraps atomic_long_t wraps long)."""
    value = obj.value_()
    while isinstance(value, dict):
        value = next(iter(value.values()))
    return int(value)


def disks(session: Session) -> Result:
    """Return a :class:`Disk` per registered disk (``dev -d``)."""
    from drgn import FaultError
    from drgn.helpers.linux.block import disk_devt, disk_name, for_each_disk
    from drgn.helpers.linux.cpumask import for_each_possible_cpu
    from drgn.helpers.linux.device import MAJOR
    from drgn.helpers.linux.percpu import per_cpu_ptr

    prog = session.prog
    rows = []
    for disk in bounded(for_each_disk(prog), "the disk list"):
        reads = writes = 0
        try:
            stats = disk.part0.bd_stats
            for cpu in for_each_possible_cpu(prog):
                flight = per_cpu_ptr(stats, cpu).in_flight
                reads += _counter(flight[0])
                writes += _counter(flight[1])
        except (AttributeError, LookupError, FaultError):
            pass
        rows.append(Disk(MAJOR(disk_devt(disk)), disk.value_(), disk_name(disk).decode(),
                         disk.queue.value_(), reads, writes))
    return Result(rows, render=render_disks)
