"""Memory nodes, their zones, the sparse memory sections and the memory blocks, as crash's
``kmem -n`` describes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from drgn import FaultError, Program

from pycrash.kernel.walk import bounded
from pycrash.records import Hex


@dataclass(frozen=True)
class NodeZone:
    """A zone of a node: its index and name, spanned pages, the struct page of its first
    page (0: empty), its first physical address and page number (0 when empty)."""

    index: int
    name: str
    size: int
    mem_map: Hex
    start_paddr: Hex
    start_mapnr: int


@dataclass(frozen=True)
class MemoryNode:
    """A NUMA memory node: its id, spanned pages, struct pglist_data, its zones' struct
    zone addresses, the struct page of its first page, its first physical address and
    page number, and its zones."""

    node: int
    size: int
    pglist_data: Hex
    zones: tuple[int, ...]
    mem_map: Hex = 0
    start_paddr: Hex = 0
    start_mapnr: int = 0
    zone_rows: tuple[NodeZone, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class MemSection:
    """A present sparse memory section: its number, struct mem_section, its encoded
    section_mem_map, the struct page of its first page, its state (crash's letters: P
    present, M has a mem_map, O online, E early, D zone device) and its first pfn."""

    nr: int
    section: Hex
    coded_mem_map: Hex
    mem_map: Hex
    state: str
    pfn: int


@dataclass(frozen=True)
class MemoryBlock:
    """A memory block device: its struct memory_block, name, physical range, node, state
    (ONLINE, OFFLINE...) and first section."""

    block: Hex
    name: str
    start: Hex
    end: Hex
    node: int | None
    state: str
    start_section: int


def _page_of_pfn(prog: Program, pfn: int) -> int:
    from drgn.helpers.linux.mm import pfn_to_page

    try:
        page = pfn_to_page(prog, pfn)
        prog.read(page.value_(), 1)
        return int(page.value_())
    except (FaultError, LookupError, ValueError):
        return 0


def memory_nodes(prog: Program) -> list[MemoryNode]:
    """Return each online node with its zones."""
    from drgn.helpers.linux.mmzone import for_each_online_pgdat

    shift = int(prog["PAGE_SIZE"].value_()).bit_length() - 1
    out = []
    for p in bounded(for_each_online_pgdat(prog), "the online nodes"):
        start = p.node_start_pfn.value_()
        zones = []
        for i in range(len(p.node_zones)):
            z = p.node_zones[i]
            size = z.spanned_pages.value_()
            zstart = z.zone_start_pfn.value_()
            zones.append(NodeZone(i, z.name.string_().decode("utf-8", "replace"), size,
                                  _page_of_pfn(prog, zstart) if size else 0,
                                  zstart << shift, zstart if size else 0))
        out.append(MemoryNode(p.node_id.value_(), p.node_spanned_pages.value_(), p.value_(),
                              tuple(p.node_zones[i].address_of_().value_()
                                    for i in range(len(p.node_zones))),
                              _page_of_pfn(prog, start), start << shift, start, tuple(zones)))
    return out


#: crash's letters of the section flags, in its order
_SECTION_LETTERS = (("SECTION_MARKED_PRESENT", "P"), ("SECTION_HAS_MEM_MAP", "M"),
                    ("SECTION_IS_ONLINE", "O"), ("SECTION_IS_EARLY", "E"),
                    ("SECTION_TAINT_ZONE_DEVICE", "D"))


def mem_sections(prog: Program) -> list[MemSection]:
    """Return every present sparse memory section (none without SPARSEMEM)."""
    from drgn.helpers.linux.mmzone import (
        _section_flags,
        for_each_present_section,
        section_decode_mem_map,
        section_nr_to_pfn,
    )

    try:
        flags = _section_flags(prog)
        sections = list(bounded(for_each_present_section(prog), "the memory sections"))
    except (KeyError, LookupError):
        return []
    out = []
    for nr, section in sections:
        raw = section.section_mem_map.value_()
        state = "".join(letter for name, letter in _SECTION_LETTERS
                        if raw & flags.get(name, 0))
        out.append(MemSection(nr, section.value_(), raw & flags["SECTION_MAP_MASK"],
                              section_decode_mem_map(section, nr).value_(), state,
                              section_nr_to_pfn(prog, nr).value_()))
    return out


_BLOCK_STATES = {1: "ONLINE", 2: "GOING_OFFLINE", 4: "OFFLINE", 8: "GOING_ONLINE",
                 16: "CANCEL_ONLINE", 32: "CANCEL_OFFLINE"}


def memory_blocks(prog: Program) -> list[MemoryBlock]:
    """Return the memory block devices of ``memory_subsys``, in its device list's order,
    each with its range: the probed block size from its first section
    (``memory_block_size_probed``), else through its last section."""
    from drgn import container_of
    from drgn.helpers.linux.mmzone import section_nr_to_pfn

    from pycrash.kernel.walk import list_entries

    try:
        private = prog["memory_subsys"].p
    except KeyError:
        return []
    shift = int(prog["PAGE_SIZE"].value_()).bit_length() - 1
    try:
        probed = int(prog["memory_block_size_probed"].value_())
    except KeyError:
        probed = 0
    out = []
    for knode in list_entries("struct device_private", private.klist_devices.k_list.address_of_(),
                              "knode_bus.n_node", "the memory block devices"):
        block = container_of(knode.device, "struct memory_block", "dev")
        start_sec = block.start_section_nr.value_()
        start = section_nr_to_pfn(prog, start_sec).value_() << shift
        if probed:
            end = start + probed - 1
        else:
            end_sec = block.end_section_nr.value_()
            end = (section_nr_to_pfn(prog, end_sec + 1).value_() << shift) - 1
        try:
            node: int | None = block.nid.value_()
        except AttributeError:
            node = None
        name = block.dev.kobj.name.string_().decode("utf-8", "replace")
        out.append(MemoryBlock(block.value_(), name, start, end, node,
                               _BLOCK_STATES.get(block.state.value_(), "UNKNOWN"), start_sec))
    return out

