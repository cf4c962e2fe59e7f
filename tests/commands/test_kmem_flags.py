"""kmem -f, -F and -m on the real dump, against crash 8.0.2 and the kernel's own buddy
bookkeeping."""

from __future__ import annotations

from conftest import Dump, assert_one_line_error, crash_commands, pycrash


def _page(session) -> int:  # type: ignore[no-untyped-def]
    """A page of /bin/busybox's page cache (mapped, with a mapping and an index)."""
    from drgn import Object

    vma = session.run("vm 1").rows[0].vmas[0]
    inode = Object(session.prog, "struct vm_area_struct *", vma.vma).vm_file.f_inode
    return session.run(f"files -p {inode.value_():x}").rows[0].pages[1].page


def test_kmem_f_F_and_m_are_crash_s_text(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Line for line as crash 8.0.2 prints them: the zones and free areas (-f), each free
    list with its blocks' first pages (-F), and struct page members of a page named by
    its struct page or physical address: a long in hex (flags), an atomic_t as crash
    shows it (_refcount in hex without trailing spaces, _mapcount in decimal), a list
    head as two words, a nested member, an unsigned char, and the errors."""
    page = _page(session)
    phys = session.run(f"kmem -p {page:x}").rows[0].physical
    commands = ["kmem -f", "kmem -F", f"kmem -m flags,_refcount {page:x}",
                f"kmem -m lru {page:x}", f"kmem -m lru.next,mapping,index {phys:x}",
                f"kmem -m _mapcount,private {page:x}", f"kmem -m compound_dtor {page:x}",
                f"kmem -m nosuch {page:x}", "kmem -m flags,"]
    theirs = crash_commands(dump, commands)
    for cmd in commands:
        run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
        out = run.out.splitlines() + run.err.splitlines()
        assert out == [ln for ln in theirs[cmd] if not ln.startswith("WARNING")], cmd
    assert any(ln.startswith("ZONE  NAME") for ln in theirs["kmem -F"])
    assert_one_line_error(pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x",
                                  "kmem -m nosuch"), "kmem: invalid page struct member: nosuch")


def test_kmem_F_pages_are_free_blocks_of_their_order(session) -> None:  # type: ignore[no-untyped-def]
    """Each page -F lists heads a free block of its list's order: the buddy allocator
    marks it PG_buddy (page_type) and keeps the order in page->private; the blocks add
    up to the zones' free pages."""
    from drgn import Object

    prog = session.prog
    lists = session.run("kmem -F").rows[0]
    buddy = 0x80  # PG_buddy: page_type holds it inverted (the bit is clear when set)
    total = 0
    for area in lists.areas:
        for address in area.pages:
            page = Object(prog, "struct page *", address)
            assert page.private.value_() == area.order, hex(address)
            assert page.page_type.value_() & (0xF0000000 | buddy) == 0xF0000000, hex(address)
        total += len(area.pages) << area.order
    assert total == lists.nr_free_pages == sum(z.free for z in lists.zones)
    assert sum(len(a.pages) for a in lists.areas) > 10
