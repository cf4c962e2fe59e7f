"""Registered character and block device majors as crash's ``dev`` finds them: each major's
cdev or gendisk and its file (or block device) operations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.kernel.iterators import chained
from pycrash.kernel.walk import bounded, list_entries

MINORBITS = 20


@dataclass(frozen=True)
class MajorEntry:
    """One registered major: its number, name, the cdev (character) or gendisk (block)
    crash finds for it, and that object's operations (0: none found)."""

    major: int
    name: str
    owner: int
    operations: int


def has_object(prog: Program, name: str) -> bool:
    """Whether the kernel has a global object ``name`` (``name in prog``, which a type or
    symbol finder that raises for an unknown name would turn into an error)."""
    try:
        prog[name]
    except (KeyError, LookupError):
        return False
    return True


def _probe_data(prog: Program, map_name: str, index: int) -> Iterator[tuple[int, int]]:
    """Yield ``(dev_t, data)`` of the probes of a kobj_map's ``probes[index]`` chain
    (``cdev_map``, ``bdev_map``), bounded."""
    try:
        kmap = prog[map_name]
    except KeyError:
        return
    if not kmap:
        return
    for probe in chained(kmap.probes[index].read_(), f"{map_name}->probes[{index}]"):
        yield probe.dev.value_(), probe.data.value_()


def char_majors(prog: Program) -> list[MajorEntry]:
    """Return the char_device_structs of ``chrdevs[]``, in the array's order and each
    chain's, as crash lists them: the cdev of each (``->cdev``, else the ``cdev_map`` probe
    of its major and first minor) and that cdev's ``ops``."""
    out = []
    chrdevs = prog["chrdevs"]
    for i in range(len(chrdevs)):
        for cd in chained(chrdevs[i].read_(), f"chrdevs[{i}]"):
            major, minor = cd.major.value_(), cd.baseminor.value_()
            cdev = cd.cdev.value_()
            ops = cd.cdev.ops.value_() if cdev else 0
            if not ops:
                for dev, data in _probe_data(prog, "cdev_map", major % 255):
                    if dev >> MINORBITS == major and dev & ((1 << MINORBITS) - 1) == minor:
                        try:
                            ops = Object(prog, "struct cdev *", data).ops.value_()
                            cdev = data
                        except FaultError:
                            ops = 0
                        break
            out.append(MajorEntry(major, cd.name.string_().decode("utf-8", "replace"),
                                  cdev if ops else 0, ops))
    return out


def _bdev_map_disk(prog: Program, index: int) -> tuple[int, int]:
    """The first gendisk with operations among ``bdev_map``'s probes of ``index`` (before
    5.11), as crash looks for it."""
    for dev, data in _probe_data(prog, "bdev_map", index):
        if data and dev >> MINORBITS == index:
            try:
                ops = Object(prog, "struct gendisk *", data).fops.value_()
            except FaultError:
                break
            if ops:
                return data, ops
    return 0, 0


def _inode_disk(prog: Program, major: int) -> tuple[int, int]:
    """The first gendisk of ``major`` with operations among the block device inodes of
    ``blockdev_superblock`` (5.11 and later), as crash looks for it."""
    sb = prog["blockdev_superblock"]
    bdev_size = prog.type("struct block_device").size
    for inode in list_entries("struct inode", sb.s_inodes.address_of_(), "i_sb_list",
                              "the block device inodes"):
        try:
            bdev = Object(prog, "struct block_device *", inode.value_() - bdev_size)
            disk = bdev.bd_disk
            if disk and disk.major.value_() == major and disk.fops.value_():
                return disk.value_(), disk.fops.value_()
        except FaultError:
            continue
    return 0, 0


def block_majors(prog: Program) -> list[MajorEntry]:
    """Return the first blk_major_name of each ``major_names[]`` slot, in the array's
    order, as crash lists them, with a gendisk of that major and its ``fops`` (through
    ``bdev_map``'s probes of the slot before 5.11, the block device inodes after)."""
    out = []
    names = prog["major_names"]
    use_map = has_object(prog, "bdev_map")
    for i in range(len(names)):
        bd = names[i].read_()
        if not bd:
            continue
        major = bd.major.value_()
        name = bd.name.string_().decode("utf-8", "replace")
        try:
            disk, ops = _bdev_map_disk(prog, major if major == i else i) if use_map \
                else _inode_disk(prog, major)
        except (FaultError, LookupError):
            disk, ops = 0, 0
        out.append(MajorEntry(major, name, disk, ops))
    return out


@dataclass(frozen=True)
class DiskIo:
    """A disk as crash's ``dev -d`` shows it: its major, gendisk, name, request queue, and
    the reads and writes in flight (the per-CPU ``in_flight`` counters of its part0)."""

    major: int
    gendisk: int
    name: str
    queue: int
    reads: int
    writes: int


def _counter(obj: Object) -> int:
    """The integer inside a counter (local_t wraps atomic_long_t wraps long)."""
    value = obj.value_()
    while isinstance(value, dict):
        value = next(iter(value.values()))
    return int(value)


def disks(prog: Program) -> list[DiskIo]:
    """Return every disk of the block class, in its order, with its I/O in flight."""
    from drgn.helpers.linux.block import disk_devt, disk_name, for_each_disk
    from drgn.helpers.linux.cpumask import for_each_possible_cpu
    from drgn.helpers.linux.device import MAJOR
    from drgn.helpers.linux.percpu import per_cpu_ptr

    out = []
    for disk in bounded(for_each_disk(prog), "the disk list"):
        reads = writes = 0
        try:
            part0 = disk.part0
            stats = part0.bd_stats if part0.type_.kind.name == "POINTER" else part0.dkstats
            for cpu in for_each_possible_cpu(prog):
                flight = per_cpu_ptr(stats, cpu).in_flight
                reads += _counter(flight[0])
                writes += _counter(flight[1])
        except (AttributeError, LookupError, FaultError):
            pass
        out.append(DiskIo(MAJOR(disk_devt(disk)), disk.value_(), disk_name(disk).decode(),
                          disk.queue.value_(), reads, writes))
    return out


def has_sync_counts(prog: Program) -> bool:
    """Whether the kernel names its in-flight counts async and sync (``BLK_RW_SYNC``,
    before 5.17), as crash's dev -d header does."""
    try:
        prog.constant("BLK_RW_SYNC")
        return True
    except LookupError:
        return False



#: PCIe port types (PCI_EXP_FLAGS_TYPE >> 4) as crash names them
PCIE_TYPES = {0: "ENDPOINT", 1: "LEG_END", 4: "ROOT_PORT", 5: "UPSTREAM", 6: "DOWNSTREAM",
              7: "PCI_BRIDGE", 8: "PCIE_BRIDGE", 9: "RC_END", 10: "RC_EC"}


@dataclass(frozen=True)
class PciFunction:
    """A PCI device as crash's ``dev -p`` shows it: its struct pci_dev, name
    (domain:bus:slot.function), class (base and sub-class), vendor and device ids, and
    its PCIe port type (``ENDPOINT``...; ``[BRIDGE]`` added for a bridge header)."""

    pci_dev: int
    name: str
    klass: int
    vendor: int
    device: int
    type: str


@dataclass(frozen=True)
class PciBus:
    """A PCI bus: its struct pci_bus, name (a root bus's domain:bus), parent bus (0: a
    root bus), the bridge device it hangs off (None: a root bus), its devices and its
    child buses."""

    bus: int
    name: str
    parent: int
    bridge: PciFunction | None
    devices: list[PciFunction]
    children: list[PciBus]


def _function(dev: Object) -> PciFunction:
    kind = ""
    try:
        kind = PCIE_TYPES.get((dev.pcie_flags_reg.value_() & 0xF0) >> 4, "")
    except AttributeError:
        pass
    if dev.hdr_type.value_() & 0x7F in (1, 2):  # a bridge or CardBus header
        kind += " [BRIDGE]"
    return PciFunction(dev.value_(), dev.dev.kobj.name.string_().decode("utf-8", "replace"),
                       dev.member_("class").value_() >> 8, dev.vendor.value_(),
                       dev.device.value_(), kind)


def _bus(bus: Object, depth: int = 0) -> PciBus:
    devices = [_function(d) for d in list_entries(
        "struct pci_dev", bus.devices.address_of_(), "bus_list",
        f"the devices of PCI bus {bus.value_():#x}")]
    children = [] if depth > 32 else [_bus(b, depth + 1) for b in list_entries(
        "struct pci_bus", bus.children.address_of_(), "node",
        f"the child buses of PCI bus {bus.value_():#x}")]
    return PciBus(bus.value_(), bus.dev.kobj.name.string_().decode("utf-8", "replace"),
                  bus.parent.value_(), _function(bus.self) if bus.self else None, devices,
                  children)


def pci_root_buses(prog: Program) -> list[PciBus]:
    """Return the PCI root buses (``pci_root_buses``), each with its devices and the tree
    of buses below it."""
    return [_bus(b) for b in list_entries("struct pci_bus",
                                          prog["pci_root_buses"].address_of_(), "node",
                                          "the PCI root buses")]
