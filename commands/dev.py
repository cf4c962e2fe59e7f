"""dev: character and block devices; -p PCI devices."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Program

from pycrash.cmdlib.render import center
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.devices import (
    PciBus,
    PciFunction,
    block_majors,
    char_majors,
    has_object,
)
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Device:
    """A registered device major: ``chr`` (the cdev crash finds for it) or ``blk`` (a
    gendisk of it), its name, that object's address (0: none found) and its file or
    block device operations, with their symbol."""

    kind: str
    major: int
    name: str
    address: Hex
    operations: Hex = 0
    operations_symbol: str | None = None


def _device_line(d: Device) -> str:
    if not d.operations:
        return f" {d.major:>3}      {d.name:<13}  {center('(none)', 16)}"
    ops = d.operations_symbol or f"{d.operations:x}"
    return f" {d.major:>3}      {d.name:<13}  {d.address:>16x}  {ops}"


def render(result: Result) -> Iterable[str]:
    """crash's dev output: the CHRDEV table (each major's cdev and its operations), then
    the BLKDEV table (a gendisk of each major and its operations), in the order of the
    kernel's chrdevs[] and major_names[] slots."""
    yield f"CHRDEV    NAME           {center('CDEV', 16)}  {'OPERATIONS':<16}"
    for d in (x for x in result.rows if x.kind == "chr"):
        yield _device_line(d)
    yield ""
    yield f"BLKDEV    NAME           {center('GENDISK', 16, right=True)}  {'OPERATIONS':<16}"
    for d in (x for x in result.rows if x.kind == "blk"):
        yield _device_line(d)


def _function_line(f: PciFunction) -> str:
    return (f"  {f.pci_dev:<16x} {center(f.name, 12)} {center(f'{f.klass:04x}', 6)} "
            f"{center(f'{f.vendor:x}:{f.device:x}', 9)} {center(f.type, 10)}")


def _bus_devices(bus: PciBus) -> Iterable[str]:
    yield (f"  {center('PCI DEV', 16)} {center('DO:BU:SL.FN', 12)} {center('CLASS', 6)} "
           f"{center('PCI_ID', 9)} {center('TYPE', 10)}")
    if bus.bridge is not None:
        yield _function_line(bus.bridge)
    yield from map(_function_line, bus.devices)


def _child_buses(bus: PciBus) -> Iterable[str]:
    for child in bus.children:
        yield f"  {center('PCI BUS', 16)} {center('PARENT BUS', 16)}"
        yield f"  {child.bus:<16x} {child.parent:<16x}"
        yield from _bus_devices(child)
        yield ""
        yield from _child_buses(child)


def render_pci_tree(result: Result) -> Iterable[str]:
    """crash's dev -p output: each root bus, its devices (PCI class, vendor:device and
    PCIe type), then each bus below it with its parent and devices."""
    for root in result.rows:
        yield f"{center('ROOT BUS', 16)} {center('BUSNAME', 7)}"
        yield f"{root.bus:<16x} {center(root.name, 7)}"
        yield from _bus_devices(root)
        yield from _child_buses(root)
        yield ""


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


@dataclass(frozen=True)
class DiskView:
    """How dev -d names its counts: ASYNC and SYNC where the kernel has BLK_RW_SYNC (crash
    reads the same two counters either way), else READ and WRITE."""

    sync_names: bool = True


def render_disks(result: Result) -> Iterable[str]:
    """crash's dev -d output: a table of disks and their I/O in flight."""
    sync = result.view.sync_names if isinstance(result.view, DiskView) else True
    first, second = ("ASYNC", "SYNC") if sync else ("READ", "WRITE")
    yield (f"MAJOR {'GENDISK':<18} NAME       {'REQUEST_QUEUE':<18} TOTAL {first:>5} "
           f"{second:>5} ")
    for d in result.rows:
        yield (f"{d.major:>5} {d.gendisk:<16x}   {d.name:<10} {d.queue:<16x}   "
               f"{d.reads + d.writes:>5} {d.reads:>5} {d.writes:>5} ")


@command(
    "dev",
    summary="device data",
    synopsis="dev [-p | -d]",
    description="""
Lists the registered character devices (major, name, the cdev and its file
operations) and block devices (major, name, a gendisk and its operations);
-p shows the PCI buses from each root bus down, each device with its class,
vendor:device ids and PCIe type; -d lists the disks with their
request queues and the reads and writes in flight (counted per CPU by
bio-based drivers; blk-mq drivers count requests in their tags instead), ram
and loop devices left out, as crash does.
""",
    examples="crash> dev\ncrash> dev -p",
    records=(Device, Disk, DiskView, PciBus, PciFunction),
    arguments=(arg("-p", dest="pci", action="store_true", help="PCI devices"),
               arg("-d", dest="disks", action="store_true", help="disks and I/O in flight")),
)
def dev(session: Session, args: argparse.Namespace) -> Result:
    """Return :class:`Device` rows, or :class:`PciDevice` rows with -p."""
    prog = session.prog
    if args.disks:
        return disks(session)
    if args.pci:
        from pycrash.kernel.devices import pci_root_buses

        if not has_object(prog, "pci_root_buses"):
            raise CommandError("no PCI devices found on this system.")
        return Result(pci_root_buses(prog), render=render_pci_tree)
    devices = [Device("chr", e.major, e.name, e.owner, e.operations,
                      _symbol(prog, e.operations)) for e in char_majors(prog)]
    devices += [Device("blk", e.major, e.name, e.owner, e.operations,
                       _symbol(prog, e.operations)) for e in block_majors(prog)]
    return Result(devices, render=render)


def _symbol(prog: Program, address: int) -> str | None:
    """``name`` or ``name+offset`` of an address, as crash's value_to_symstr() writes it."""
    from pycrash.kernel.symindex import find_symbol

    if not address:
        return None
    try:
        sym = find_symbol(prog, address)  # module symbols too, from their kallsyms
    except LookupError:
        return None
    off = address - sym.address
    return f"{sym.name}+{off}" if off else sym.name


def disks(session: Session) -> Result:
    """Return a :class:`Disk` per disk (``dev -d``), leaving out ram and loop devices as
    crash does."""
    from pycrash.kernel.devices import disks as all_disks
    from pycrash.kernel.devices import has_sync_counts

    rows = [Disk(d.major, d.gendisk, d.name, d.queue, d.reads, d.writes)
            for d in all_disks(session.prog) if not d.name.startswith(("ram", "loop"))]
    return Result(rows, render=render_disks, view=DiskView(has_sync_counts(session.prog)))
