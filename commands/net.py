"""net: network devices and their addresses; -s the sockets of a task."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.net import SOCKET_I, for_each_netdev, netdev_ipv4_addrs, netdev_name
from pycrash.commands.task import tasks_for

from pycrash.command import Result, arg, command
from pycrash.session import Session


@dataclass(frozen=True)
class NetDevice:
    """A network device: its struct net_device, name and IPv4 addresses."""

    net_device: int
    name: str
    addresses: list[str]


@dataclass(frozen=True)
class SocketFile:
    """A task's socket: fd, struct socket and sock, family and type numbers."""

    pid: int
    fd: int
    socket: int
    sock: int
    family: int
    type: int


def _render_devices(result: Result) -> Iterable[str]:
    yield "   NET_DEVICE     NAME   IP ADDRESS(ES)"
    for d in result.rows:
        yield f"{d.net_device:016x}  {d.name:<6} {', '.join(d.addresses)}".rstrip()


def _render_sockets(result: Result) -> Iterable[str]:
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

        tasks, errors = tasks_for(session, args.specs, "net")
        rows = []
        for t in tasks:
            for fd, f in for_each_file(t):
                inode = f.f_inode
                if (inode.i_mode.value_() & 0o170000) != 0o140000:
                    continue
                sock = SOCKET_I(inode)
                sk = sock.sk
                rows.append(SocketFile(t.pid.value_(), fd, sock.value_(), sk.value_(),
                                       sk.__sk_common.skc_family.value_() if sk else 0,
                                       sock.type.value_()))
        return Result(rows, render=_render_sockets, errors=errors)
    problems: list[str] = []
    if args.namespace:
        owners, problems = tasks_for(session, args.specs[:1], "net")
        netdevs = for_each_netdev(owners[0].nsproxy.net_ns) if owners else iter(())
    else:
        netdevs = for_each_netdev(session.prog)
    devices = [NetDevice(d.value_(), netdev_name(d).decode(),
                         [str(a) for a in netdev_ipv4_addrs(d)])
               for d in netdevs]
    return Result(devices, render=_render_devices, errors=problems)
