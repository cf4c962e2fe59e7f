"""net: network devices and their addresses; -s the sockets of a task."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.net import SOCKET_I, netdev_name

from pycrash.cmdlib.select import select_tasks
from pycrash.command import Result, arg, command
from pycrash.kernel.iterators import ipv4_addrs, netdevs
from pycrash.kernel.walk import collect
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class NetDevice:
    """A network device: its struct net_device, name and IPv4 addresses."""

    net_device: Hex
    name: str
    addresses: list[str]


@dataclass(frozen=True)
class SocketFile:
    """A task's socket: fd, struct socket and sock, family and type numbers."""

    pid: int
    fd: int
    socket: Hex
    sock: Hex
    family: int
    type: int


def render_devices(result: Result) -> Iterable[str]:
    """crash's net output: a line per network device."""
    yield "   NET_DEVICE     NAME   IP ADDRESS(ES)"
    for d in result.rows:
        yield f"{d.net_device:016x}  {d.name:<6} {', '.join(d.addresses)}".rstrip()


def render_sockets(result: Result) -> Iterable[str]:
    """crash's net -s output: a line per socket file descriptor."""
    yield "FD      SOCKET            SOCK       FAMILY:TYPE"
    for s in result.rows:
        yield f"{s.fd:>2}  {s.socket:016x}  {s.sock:016x}  {s.family}:{s.type}"


@command(
    "net",
    summary="network command",
    synopsis="net [-s | -n] [pid | task]",
    description="""
Lists the network devices of the initial namespace with their net_device
addresses and IPv4 addresses; -n lists those of a task's network namespace;
-s lists the sockets open in a task (the context task by default).
""",
    examples="""
crash> net
crash> net -s 1
""",
    records=(NetDevice, SocketFile),
    arguments=(
        arg("-s", dest="sockets", action="store_true", help="sockets of a task"),
        arg("-n", dest="namespace", action="store_true",
            help="devices of a task's network namespace"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def net(session: Session, args: argparse.Namespace) -> Result:
    """Return :class:`NetDevice` rows, or :class:`SocketFile` rows with -s."""
    if args.sockets:
        from drgn.helpers.linux.fs import for_each_file

        sel = select_tasks(session, args.specs)
        rows = []
        for t in sel.tasks:
            for fd, f in for_each_file(t):
                inode = f.f_inode
                if (inode.i_mode.value_() & 0o170000) != 0o140000:
                    continue
                sock = SOCKET_I(inode)
                sk = sock.sk
                rows.append(SocketFile(t.pid.value_(), fd, sock.value_(), sk.value_(),
                                       sk.__sk_common.skc_family.value_() if sk else 0,
                                       sock.type.value_()))
        return Result(rows, render=render_sockets, errors=sel.errors)
    problems: list[str] = []
    if args.namespace:
        owners = select_tasks(session, args.specs[:1])
        problems = owners.errors
        devs = netdevs(owners.tasks[0].nsproxy.net_ns) if owners.tasks else iter(())
    else:
        devs = netdevs(session.prog)
    devices = [NetDevice(d.value_(), netdev_name(d).decode(), ipv4_addrs(d))
               for d in collect(devs, problems)]
    return Result(devices, render=render_devices, errors=problems)
