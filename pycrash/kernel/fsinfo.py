"""File system state beyond a task's own view: an inode's pages in the page cache, the
files open on each super block, the dirty inodes of a super block (``files -p/-n``,
``mount -f/-i``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from drgn import FaultError, Object, Program, cast

from pycrash.kernel.walk import list_entries, xarray_entries

#: i_state bits that make an inode dirty (I_DIRTY_SYNC | I_DIRTY_DATASYNC | I_DIRTY_PAGES):
#: what crash's -i listed from super_block.s_dirty before 2.6.32
I_DIRTY = 0x7

#: a file type's four letters, as crash's inode_type() names them (S_IFMT of i_mode)
_TYPES = {0o140000: "SOCK", 0o120000: "LNK ", 0o100000: "REG ", 0o060000: "BLK ",
          0o040000: "DIR ", 0o020000: "CHR ", 0o010000: "FIFO"}


def inode_type(inode: Object) -> str:
    """Return crash's four-letter type of a ``struct inode *``: REG, DIR, LNK, CHR, BLK,
    SOCK, FIFO (a pipe's too: the symbols crash tells pipes by are gone since 2.6), UNKN."""
    return _TYPES.get(inode.i_mode.value_() & 0o170000, "UNKN")


def page_cache_pages(inode: Object) -> Iterator[tuple[int, Object]]:
    """Yield ``(index, struct page *)`` of each page of an inode in the page cache (its
    ``i_mapping->i_pages``, bounded), leaving out value entries (the shadows of evicted
    pages and swap entries); a large folio is one entry, its head page."""
    prog = inode.prog_
    page_type = prog.type("struct page *")
    mapping = inode.i_mapping
    for index, entry in xarray_entries(mapping.i_pages.address_of_(),
                                       f"the page cache of inode {inode.value_():#x}"):
        value = entry.value_()
        if value & 1:  # xa_is_value()
            continue
        yield index, cast(page_type, entry)


def node_of_pfn(prog: Program, pfn: int) -> int:
    """Return the NUMA node whose range of page frames holds ``pfn`` (0 on a machine
    with one node, or when no node's range holds it)."""
    from drgn.helpers.linux.mmzone import for_each_online_pgdat

    for pgdat in for_each_online_pgdat(prog):
        start = pgdat.node_start_pfn.value_()
        if start <= pfn < start + pgdat.node_spanned_pages.value_():
            return int(pgdat.node_id.value_())
    return 0


def online_nodes(prog: Program) -> list[int]:
    """Return the ids of the online NUMA nodes."""
    from drgn.helpers.linux.mmzone import for_each_online_pgdat

    return [int(p.node_id.value_()) for p in for_each_online_pgdat(prog)]


def dirty_inodes(sb: Object) -> Iterator[Object]:
    """Yield the ``struct inode *`` of a super block (its ``s_inodes`` list, bounded)
    whose ``i_state`` has a dirty bit (I_DIRTY_SYNC, I_DIRTY_DATASYNC, I_DIRTY_PAGES)."""
    for inode in list_entries("struct inode", sb.s_inodes.address_of_(), "i_sb_list",
                              f"the inode list of super block {sb.value_():#x}"):
        try:
            if inode.i_state.value_() & I_DIRTY:
                yield inode
        except FaultError:
            continue


def open_files(tasks: Iterable[Object]) -> Iterator[Object]:
    """Yield each ``struct file *`` open in the file descriptor tables of ``tasks``, each
    once (threads share a table; a file may be open under several descriptors), in
    task and descriptor order."""
    from drgn.helpers.linux.fs import for_each_file

    seen_tables: set[int] = set()
    seen: set[int] = set()
    for task in tasks:
        try:
            files = task.files.value_()
            if not files or files in seen_tables:
                continue
            seen_tables.add(files)
            for _fd, f in for_each_file(task):  # an array of max_fds slots: no loop
                if f.value_() not in seen:
                    seen.add(f.value_())
                    yield f
        except (FaultError, ValueError):
            continue
