"""dev: character and block devices; -p PCI devices."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn import Program

from pycrash.cmdlib.render import center
from pycrash.command import Result, arg, command
from pycrash.kernel.devices import block_majors, char_majors
from pycrash.kernel.walk import bounded
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
Lists the registered character devices (major, name, char_device_struct and
the file operations) and block devices (major and name); -p lists PCI
devices with their vendor, device and class; -d lists the disks with their
request queues and the reads and writes in flight (counted per CPU by
bio-based drivers; blk-mq drivers count requests in their tags instead), ram
and loop devices left out, as crash does.
""",
    examples="crash> dev\ncrash> dev -p",
    records=(Device, PciDevice, Disk, DiskView),
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
