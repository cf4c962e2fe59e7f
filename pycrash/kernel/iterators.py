"""drgn's ``for_each_*`` helpers over kernel lists, bounded (:mod:`pycrash.kernel.walk`):
mounts, network devices, run queues. A loop ends each walk with
:class:`pycrash.kernel.walk.WalkError` after the entries before it."""

from __future__ import annotations

from collections.abc import Iterator

from drgn import Object, Program

from pycrash.kernel.walk import bounded, list_entries, rbtree_entries


def mounts(prog: Program, ns: Object | None = None) -> Iterator[Object]:
    """Yield the ``struct mount *`` of a mount namespace (default: init's), skipping
    cursors, as drgn's ``for_each_mount``: its list before 6.8, its red-black tree since."""
    if ns is None:
        ns = prog["init_task"].nsproxy.mnt_ns
    try:
        walk = list_entries("struct mount", ns.list.address_of_(), "mnt_list",
                            "the mount list")
    except AttributeError:
        walk = rbtree_entries("struct mount", ns.mounts.address_of_(), "mnt_node",
                              "the mount tree")
    for mnt in walk:
        if mnt.mnt.mnt_sb:  # not a cursor (v5.8 - v6.8)
            yield mnt


def netdevs(net: Program | Object) -> Iterator[Object]:
    """Yield the ``struct net_device *`` of a network namespace (``struct net *``, or
    the initial one of a program), as drgn's ``for_each_netdev``."""
    if isinstance(net, Program):
        net = net["init_net"].address_of_()
    yield from list_entries("struct net_device", net.dev_base_head.address_of_(), "dev_list",
                            "the network device list")


def rt_tasks(rq: Object, cpu: int) -> Iterator[Object]:
    """Yield the tasks of a run queue's real-time class (drgn's ``rq_for_each_rt_task``)."""
    for prio, queue in enumerate(rq.rt.active.queue):
        yield from list_entries("struct task_struct", queue.address_of_(), "rt.run_list",
                                f"the RT run queue (priority {prio}) of CPU {cpu}")


def fair_tasks(rq: Object, cpu: int) -> Iterator[Object]:
    """Yield the tasks of a run queue's fair class (drgn's ``rq_for_each_fair_task``)."""
    from drgn.helpers.linux.sched import rq_for_each_fair_task

    try:
        head = rq.cfs_tasks.address_of_()
    except AttributeError:  # !SMP before 6.17: drgn's walk of the hierarchy
        yield from bounded(rq_for_each_fair_task(rq), f"the CFS run queue of CPU {cpu}")
        return
    yield from list_entries("struct task_struct", head, "se.group_node",
                            f"the CFS run queue of CPU {cpu}")


def ipv4_addrs(dev: Object) -> list[str]:
    """Return a network device's IPv4 addresses (``ip_ptr->ifa_list``), as drgn's
    ``netdev_ipv4_addrs``; a loop in the list raises WalkError."""
    import ipaddress

    prog = dev.prog_
    ip_ptr = dev.ip_ptr.read_()
    if not ip_ptr:
        return []

    def chain() -> Iterator[Object]:
        ifa = ip_ptr.ifa_list.read_()
        while ifa:
            yield ifa
            ifa = ifa.ifa_next.read_()

    name = dev.name.string_().decode("utf-8", "replace")
    return [str(ipaddress.IPv4Address(prog.read(ifa.ifa_address.address_, 4)))
            for ifa in bounded(chain(), f"the IPv4 address list of {name}", limit=65536)]


def irq_descs(prog: Program) -> Iterator[tuple[int, Object]]:
    """Yield ``(irq, struct irq_desc *)`` of every allocated interrupt descriptor, as
    drgn's ``for_each_irq_desc``: the ``sparse_irqs`` maple tree (6.5+) or the
    ``irq_desc_tree`` radix tree before."""
    from drgn import cast

    from pycrash.kernel.walk import maple_entries, xarray_entries

    desc_type = prog.type("struct irq_desc *")
    try:
        sparse = prog["sparse_irqs"]
    except KeyError:
        for irq, entry in xarray_entries(prog["irq_desc_tree"].address_of_(),
                                         "the interrupt descriptor tree"):
            yield irq, cast(desc_type, entry)
        return
    for irq, _last, entry in maple_entries(sparse.address_of_(),
                                           "the interrupt descriptor tree"):
        yield irq, cast(desc_type, entry)


def chained(first: Object, what: str) -> Iterator[Object]:
    """Yield the structs of a singly linked chain through ``->next`` from ``first``
    (a pointer), bounded (``chrdevs[]``, ``major_names[]``)."""

    def chain() -> Iterator[Object]:
        cur = first
        while cur:
            yield cur
            cur = cur.next.read_()

    yield from bounded(chain(), what, limit=65536)


def irq_action_names(desc: Object) -> list[str]:
    """Return the names of an interrupt's handlers (``desc->action`` chain), as drgn's
    ``irq_desc_action_names``, bounded."""
    return [a.name.string_().decode("utf-8", "replace")
            for a in chained(desc.action.read_(), f"the handler chain of {desc.value_():#x}")
            if a.name]


def vmas(mm: Object) -> Iterator[Object]:
    """Yield the ``struct vm_area_struct *`` of an mm, as drgn's ``for_each_vma``: its maple
    tree (6.1+) or its ``mmap`` chain before, bounded."""
    from drgn import cast

    from pycrash.kernel.walk import maple_entries

    what = f"the VMAs of mm {mm.value_():#x}"
    try:
        mt = mm.mm_mt.address_of_()
    except AttributeError:
        def chain() -> Iterator[Object]:
            vma = mm.mmap.read_()
            while vma:
                yield vma
                vma = vma.vm_next.read_()

        yield from bounded(chain(), what)
        return
    vma_type = mm.prog_.type("struct vm_area_struct *")
    for _first, _last, entry in maple_entries(mt, what):
        yield cast(vma_type, entry)
