"""Sockets and the neighbour cache: a task's open sockets, a sock's endpoints, the ARP
table's entries (what crash's ``net -s``, ``-S`` and ``-a`` read).

Walks are bounded (:mod:`pycrash.kernel.walk`): a task's descriptor table is an array
of ``max_fds`` slots, a neighbour table an array of hash buckets, each a chain.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator

from drgn import Object, PlatformFlags, Program, container_of

from pycrash.kernel.iterators import chained
from pycrash.kernel.walk import WalkError, bounded, hlist_entries

#: S_IFMT and S_IFSOCK of an inode's i_mode
S_IFMT = 0o170000
S_IFSOCK = 0o140000
#: address families whose sock is an inet_sock (AF_INET, AF_INET6)
AF_INET = 2
AF_INET6 = 10
#: the most descriptor slots a task's table may claim (fs.nr_open's ceiling is 2^30;
#: beyond 2^27 the table is taken as corrupt rather than read)
MAX_FDS = 1 << 27
#: the most hash buckets a neighbour table may have (its hash_shift is at most 31)
MAX_BUCKETS = 1 << 24

#: the NUD_* bits of a neighbour's nud_state, lowest first (include/uapi/linux/neighbour.h)
NUD_STATES = ("INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP",
              "PERMANENT")


def fd_limit(task: Object) -> int:
    """Return ``task->files->fdt->max_fds``: how many descriptor slots the task's table
    has (0 without a files_struct or table)."""
    files = task.files.read_()
    if not files:
        return 0
    fdt = files.fdt.read_()
    return int(fdt.max_fds.value_()) if fdt else 0


def open_files(task: Object) -> Iterator[tuple[int, Object]]:
    """Yield ``(fd, struct file *)`` for each open descriptor of a task, lowest first:
    the bits of ``fdt->open_fds`` whose ``fdt->fd[]`` slot is not NULL. A table claiming
    more than :data:`MAX_FDS` slots, or one that cannot be read, raises
    :class:`WalkError` (after the descriptors before it)."""
    from drgn.helpers.linux.fs import for_each_file

    limit = fd_limit(task)
    what = f"the file descriptor table of task {task.value_():#x}"
    if limit > MAX_FDS:
        raise WalkError(f"{what} claims {limit} descriptors")
    for fd, file in bounded(for_each_file(task), what, limit=max(limit, 1),
                            key=lambda item: item[0]):
        if file:
            yield fd, file


def file_socket(file: Object) -> Object | None:
    """Return the ``struct socket *`` of a ``struct file *`` whose inode is a socket
    (``S_ISSOCK(f_inode->i_mode)``: the socket_alloc holding the inode), else None."""
    inode = file.f_inode.read_()
    if not inode or (inode.i_mode.value_() & S_IFMT) != S_IFSOCK:
        return None
    return container_of(inode, "struct socket_alloc", "vfs_inode").socket.address_of_()


def task_sockets(task: Object) -> Iterator[tuple[int, Object, Object]]:
    """Yield ``(fd, struct socket *, struct sock *)`` for each socket a task has open,
    lowest descriptor first (``socket->sk`` may be NULL)."""
    for fd, file in open_files(task):
        sock = file_socket(file)
        if sock is not None:
            yield fd, sock, sock.sk.read_()


def sock_family_type(sk: Object) -> tuple[int, int]:
    """Return a ``struct sock *``'s address family (``__sk_common.skc_family``, AF_*)
    and socket type (``sk_type``, SOCK_*)."""
    return int(sk.__sk_common.skc_family.value_()), int(sk.sk_type.value_())


def _port(field: Object) -> int:
    """A ``__be16`` port field's value in host order (its bytes in network order)."""
    return int.from_bytes(field.prog_.read(field.address_, 2), "big")


def _ipv4(field: Object) -> str:
    """A ``__be32`` address field in dotted decimal (its bytes in network order)."""
    return str(ipaddress.IPv4Address(field.prog_.read(field.address_, 4)))


def ipv4_text(value: int) -> str:
    """Return the dotted decimal of an IPv4 address held as a number whose bytes, little
    endian, are the address in network order (``inet_ntoa`` of ``s_addr = value`` on
    x86-64, as crash's ``net -N``): 16777343 (0x0100007f) is 127.0.0.1. The number is
    cut to its low 32 bits."""
    return str(ipaddress.IPv4Address(struct.pack("<I", value & 0xFFFFFFFF)))


def inet_endpoints(sk: Object) -> tuple[str, int, str, int]:
    """Return the local address and port and the remote address and port of an AF_INET
    or AF_INET6 ``struct sock *`` (an inet_sock): ``skc_rcv_saddr`` (``skc_v6_rcv_saddr``)
    and ``inet_sport``, ``skc_daddr`` (``skc_v6_daddr``) and ``skc_dport``; ports in host
    order, addresses as text (IPv6 compressed)."""
    prog = sk.prog_
    common = sk.__sk_common
    inet = Object(prog, "struct inet_sock", address=sk.value_())
    sport = _port(inet.inet_sport)
    dport = _port(common.skc_dport)
    if int(common.skc_family.value_()) == AF_INET6:
        src = ipaddress.IPv6Address(prog.read(common.skc_v6_rcv_saddr.address_, 16))
        dst = ipaddress.IPv6Address(prog.read(common.skc_v6_daddr.address_, 16))
        return str(src), sport, str(dst), dport
    return _ipv4(common.skc_rcv_saddr), sport, _ipv4(common.skc_daddr), dport


def nud_state_names(state: int) -> list[str]:
    """Return the names of the NUD_* bits set in a neighbour's ``nud_state``, lowest
    bit first (``REACHABLE``, ``NOARP``...)."""
    return [name for bit, name in enumerate(NUD_STATES) if state & (1 << bit)]


def _bucket_heads(prog: Program, address: int, count: int) -> list[int]:
    """The ``count`` pointers of a hash bucket array, read at once."""
    size = prog.type("void *").size
    order = "<" if prog.platform and prog.platform.flags & PlatformFlags.IS_LITTLE_ENDIAN \
        else ">"
    return list(struct.unpack(f"{order}{count}{'Q' if size == 8 else 'I'}",
                              prog.read(address, count * size)))


def neighbours(table: Object) -> Iterator[Object]:
    """Yield the ``struct neighbour *`` of a neighbour table (``struct neigh_table``,
    such as ``arp_tbl``), bucket by bucket of ``tbl->nht``'s ``1 << hash_shift``: each
    bucket a chain through ``neighbour->next`` (``hash_buckets``) or, since 6.13, an
    hlist through ``neighbour->hash`` (``hash_heads``). A chain that loops, an entry in
    two buckets, or a table that cannot be read raises :class:`WalkError` after the
    entries before it."""
    prog = table.prog_
    name = table.id.string_().decode("utf-8", "replace") if table.id else "neighbour"
    what = f"the {name} table"

    def walk() -> Iterator[Object]:
        nht = table.nht.read_()
        if not nht:
            return
        shift = int(nht.hash_shift.value_())
        if (1 << shift) > MAX_BUCKETS:
            raise WalkError(f"{what} claims 2^{shift} hash buckets")
        count = 1 << shift
        try:
            heads = nht.hash_heads.read_()
        except AttributeError:  # before 6.13: chains through neighbour->next
            buckets = nht.hash_buckets.read_()
            ntype = prog.type("struct neighbour *")
            for i, first in enumerate(_bucket_heads(prog, buckets.value_(), count)):
                if first:
                    yield from chained(Object(prog, ntype, value=first),
                                       f"{what}'s bucket {i}")
            return
        for i, first in enumerate(_bucket_heads(prog, heads.value_(), count)):
            if first:
                yield from hlist_entries("struct neighbour", heads + i, "hash",
                                         f"{what}'s bucket {i}")

    yield from bounded(walk(), what)
