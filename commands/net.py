"""net: network devices and their addresses; a task's sockets (-s, -S, -R); the ARP
cache (-a); an IPv4 address in dotted notation (-N)."""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from drgn import FaultError, Object
from drgn.helpers.linux.net import netdev_name

from pycrash.cmdlib.dumpstruct import crash_struct_dump
from pycrash.cmdlib.render import per_task
from pycrash.cmdlib.select import select_tasks
from pycrash.cmdlib.structs import StructDump, dump_lines
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.iterators import ipv4_addrs, netdevs
from pycrash.kernel.net import (
    AF_INET,
    AF_INET6,
    fd_limit,
    inet_endpoints,
    ipv4_text,
    neighbours,
    nud_state_names,
    sock_family_type,
    task_sockets,
)
from pycrash.kernel.tasks import TaskId, task_id
from pycrash.kernel.walk import WalkError, collect, note
from pycrash.records import Hex, OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class NetDevice:
    """A network device: its struct net_device, name and IPv4 addresses."""

    net_device: Hex
    name: str
    addresses: list[str]


@dataclass(frozen=True)
class SocketFile:
    """An open socket of a task: its fd, struct socket and struct sock, the sock's address
    family (AF_*) and type (SOCK_*), and for AF_INET and AF_INET6 its local and remote
    addresses and ports (host order); with -S the socket and the sock (as an inet_sock)
    as gdb shows them."""

    fd: int
    socket: Hex
    sock: Hex
    family: int
    type: int
    source: str | None = None
    source_port: int = 0
    destination: str | None = None
    destination_port: int = 0
    socket_struct: StructDump | None = None
    sock_struct: StructDump | None = None


@dataclass(frozen=True)
class TaskSockets:
    """A task's open sockets (with -R only those the reference names), or why they could
    not be read."""

    task: TaskId
    sockets: list[SocketFile] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Neighbour:
    """An ARP cache entry (a struct neighbour of arp_tbl): its IPv4 address, its device's
    name and hardware type (ARPHRD_*), the hardware address (the device's addr_len bytes)
    and the NUD state with the names of its bits."""

    neighbour: Hex
    address: str
    device: OptHex
    device_name: str
    hw_type: int
    hw_address: list[int]
    state: int
    states: list[str]


@dataclass(frozen=True)
class Ipv4Address:
    """An IPv4 address given as a number (-N): the number and its dotted notation."""

    value: int
    address: str


@dataclass(frozen=True)
class NetView:
    """How -s/-S show sockets: each socket with its structs (-S), and whether a reference
    chose them (-R: only tasks holding it, each block ending in an empty line)."""

    structs: bool = False
    reference: bool = False

    @property
    def self_separated(self) -> bool:
        """Whether each task's block ends with an empty line of its own (foreach adds
        none between them)."""
        return self.reference


#: crash's names of the address families (net.c get_sock_info)
FAMILIES = {0: "UNSPEC", 1: "UNIX", 2: "INET", 3: "AX25", 4: "IPX", 5: "APPLETALK",
            6: "NETROM", 7: "BRIDGE", 8: "ATMPVC", 9: "X25", 10: "INET6", 11: "ROSE",
            12: "DECnet", 13: "NETBEUI", 14: "SECURITY/KEY", 16: "NETLINK/ROUTE",
            17: "PACKET", 18: "ASH", 19: "ECONET", 20: "ATMSVC", 22: "SNA", 23: "IRDA",
            24: "PPPOX"}
#: crash's names of the socket types (DGRAM with its trailing space, as crash prints it)
TYPES = {1: "STREAM", 2: "DGRAM ", 3: "RAW", 4: "RDM", 5: "SEQPACKET", 10: "PACKET"}
#: crash's names of the hardware types it knows (ARPHRD_*); the rest are UNKNOWN
HW_TYPES = {1: "ETHER", 0: "NETROM", 2: "EETHER", 3: "AX25", 4: "PRONET", 5: "CHAOS",
            6: "IEEE802", 7: "ARCNET", 8: "APPLETLK", 15: "DLCI", 23: "METRICOM"}
ARPHRD_ETHER = 1

SOCKET_HEADER = "FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT DESTINATION-PORT"
ARP_HEADER = ("NEIGHBOUR        IP ADDRESS      HW TYPE    HW ADDRESS         DEVICE  STATE")
USAGE = "net [[-s | -S] [-xd] [-R ref] [pid | task]] [-a] [ -n [pid | task]] [-N addr]"


# -- crash's text ---------------------------------------------------------------------


def _ipv6_text(address: str, port: int) -> str:
    """crash's IPv6 endpoint: eight hex groups without compression, then -port."""
    words = ipaddress.IPv6Address(address).packed
    groups = (int.from_bytes(words[i:i + 2], "big") for i in range(0, 16, 2))
    return ":".join(f"{g:x}" for g in groups) + f"-{port}"


def _center(text: str, width: int) -> str:
    """crash's mkstring(CENTER): an odd extra space goes to the right."""
    extra = width - len(text)
    if extra <= 0:
        return text
    return " " * (extra // 2) + text + " " * (extra - extra // 2)


def sock_info(s: SocketFile) -> str:
    """crash's FAMILY:TYPE and, for INET and INET6, the endpoints (get_sock_info on a
    64-bit kernel; IPv6 endpoints as crash prints them since 8.0.3: 8.0.2 reads them
    where kernels before 3.13 kept them and prints none)."""
    text = f"{FAMILIES.get(s.family, str(s.family))}:{TYPES.get(s.type, str(s.type))} "
    if s.family == AF_INET and s.source is not None:
        text += f" {s.source}-{s.source_port} {s.destination}-{s.destination_port}"
    elif s.family == AF_INET6 and s.source is not None and s.destination is not None:
        src = _ipv6_text(s.source, s.source_port)
        text += f"{src:>12} " + _center(_ipv6_text(s.destination, s.destination_port),
                                        len(src))
    return text


def _socket_lines(ts: TaskSockets, view: NetView) -> Iterator[str]:
    """One task's sockets as -s (a table) or -S (each socket's structs) shows them."""
    if not ts.sockets:
        if not view.reference:
            yield "No open sockets."
        return
    for i, s in enumerate(ts.sockets):
        if not view.structs:
            if not i:
                yield SOCKET_HEADER
            yield f"{s.fd:2d} {s.socket:>16x} {s.sock:>16x} {sock_info(s)}"
            continue
        if i:
            yield ""
        yield f"FD  {_center('SOCKET', 16)}  {_center('SOCK', 16)}"
        yield f"{s.fd:2d}  {s.socket:>16x}  {s.sock:>16x}"
        yield ""
        for dump in (s.socket_struct, s.sock_struct):
            if dump is not None:
                yield from dump_lines(dump)
    if view.reference:
        yield ""  # crash ends a task whose reference it found with an empty line


def _hw_address(n: Neighbour) -> str:
    """crash's hardware address: colon-separated for Ethernet, else spaced bytes."""
    if n.hw_type == ARPHRD_ETHER:
        return ":".join(f"{b:02x}" for b in n.hw_address) + (" " if n.hw_address else "")
    return "".join(f"{b:02x} " for b in n.hw_address)


def neighbour_line(n: Neighbour) -> str:
    """crash's line of an ARP cache entry (net.c print_neighbour_q)."""
    return (f"{n.neighbour:<16x} {n.address:<16}{HW_TYPES.get(n.hw_type, 'UNKNOWN'):<10} "
            f"{_hw_address(n)} {n.device_name:<6}  {'|'.join(n.states)}")


def render_devices(result: Result) -> Iterable[str]:
    """crash's net output: a line per network device (a name padded to six, then a space,
    before its addresses, none or not)."""
    yield "   NET_DEVICE     NAME   IP ADDRESS(ES)"
    for d in result.rows:
        yield f"{d.net_device:016x}  {d.name:<6} {', '.join(d.addresses)}"


def render(result: Result) -> Iterator[str]:
    """crash's text of net's flags, in the order crash prints them: the ARP cache (-a),
    an address (-N), each task's sockets (-s, -S), the network devices."""
    rows = result.rows
    if any(isinstance(r, NetDevice) for r in rows):
        arp = [r for r in rows if not isinstance(r, NetDevice)]
        yield from render(Result(arp))
        yield from render_devices(Result([r for r in rows if isinstance(r, NetDevice)]))
        return
    view: NetView = result.view or NetView()
    header = False
    tasks: list[TaskSockets] = []
    for r in rows:
        if isinstance(r, Neighbour):
            if not header:
                yield ARP_HEADER
                header = True
            yield neighbour_line(r)
        elif isinstance(r, Ipv4Address):
            yield r.address
        elif isinstance(r, TaskSockets):
            tasks.append(r)
    if not tasks:
        return
    if view.reference:  # no empty line between tasks: each block ends with one
        for ts in tasks:
            yield ts.task.header()
            yield from (f"net: {ts.error}",) if ts.error else _socket_lines(ts, view)
        return
    yield from per_task(tasks, lambda ts: _socket_lines(ts, view), command="net")


# -- crash's numbers ------------------------------------------------------------------


def _decimal(text: str) -> bool:
    """crash's decimal(): digits (and spaces) only, at least one digit."""
    return all(c.isdigit() or c == " " for c in text) and any(c.isdigit() for c in text)


def _hexadecimal(text: str) -> bool:
    """crash's hexadecimal(): hex digits and x's (a space only last), one digit at least."""
    body = text[:-1] if text.endswith(" ") else text
    return (all(c in "0123456789abcdefABCDEFxX" for c in body)
            and any(c in "0123456789abcdefABCDEF" for c in body))


def _hexadecimal_only(text: str) -> bool:
    """crash's hexadecimal_only(): a hex number that cannot be read as a decimal one."""
    return _hexadecimal(text) and any(c in "abcdefABCDEFxX" for c in text)


def _htol(text: str) -> int:
    """crash's htol(): hex digits after an optional 0x, x's and h's skipped, at most 16."""
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if len(body) > 16:
        raise CommandError(f'input string too large: "{body}" ({len(body)} vs 16)')
    value = 0
    for c in body:
        if c in "xXh":
            continue
        if c not in "0123456789abcdefABCDEF":
            raise CommandError(f'invalid input: "{body}"')
        value = value * 16 + int(c, 16)
    return value


def _dtol(text: str) -> int:
    """crash's dtol(): a decimal number, saturating at the top of an unsigned long."""
    return min(int(text.strip() or "0"), (1 << 64) - 1)


def crash_number(text: str) -> int:
    """crash's stol(): decimal when every character is a digit, else hexadecimal."""
    if _decimal(text):
        return _dtol(text)
    if _hexadecimal(text):
        return _htol(text)
    raise CommandError(f"not a valid number: {text}")


def reference_matches(ref: str, max_fds: int, s: SocketFile) -> bool:
    """Whether ``net -R ref`` names a socket, as crash reads the reference: a hex number
    (a socket or sock address, or a descriptor), or a decimal one no larger than the
    task's descriptor slots (a descriptor; a larger one is read as hex)."""
    if not (_decimal(ref) or _hexadecimal(ref)):
        return False
    if not _hexadecimal_only(ref) and _dtol(ref) <= max_fds:
        return s.fd == _dtol(ref)
    value = _htol(ref)
    return value in (s.socket, s.sock, s.fd)


# -- the command ----------------------------------------------------------------------


class _Ordered(argparse.Action):
    """Record -a and -N in the order given: crash acts on each as it reads it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        ops = list(getattr(namespace, self.dest) or [])
        ops.append((option_string, values))
        setattr(namespace, self.dest, ops)


def _socket_file(fd: int, sock: Object, sk: Object, structs: bool, radix: int) -> SocketFile:
    """The :class:`SocketFile` of one descriptor's socket."""
    if sk:
        family, type_ = sock_family_type(sk)
    else:  # a socket without a sock: its own type
        family, type_ = 0, int(sock.type.value_())
    ends: tuple[str | None, int, str | None, int] = (None, 0, None, 0)
    if sk and family in (AF_INET, AF_INET6):
        ends = inet_endpoints(sk)
    socket_struct = sock_struct = None
    if structs:
        prog = sock.prog_
        socket_struct = crash_struct_dump(sock[0], radix=radix)
        if sk:
            try:
                kind = "struct inet_sock"
                prog.type(kind)
            except LookupError:
                kind = "struct sock"
            sock_struct = crash_struct_dump(Object(prog, kind, address=sk.value_()),
                                            radix=radix)
    return SocketFile(fd, sock.value_(), sk.value_(), family, type_, ends[0], ends[1],
                      ends[2], ends[3], socket_struct, sock_struct)


def _task_sockets(task: Object, structs: bool, radix: int, ref: str | None) -> TaskSockets:
    """A task's :class:`TaskSockets`, only the referenced ones with ``ref``."""
    tid = task_id(task)
    sockets: list[SocketFile] = []
    try:
        limit = fd_limit(task)
        for fd, sock, sk in task_sockets(task):
            s = _socket_file(fd, sock, sk, structs=False, radix=radix)
            if ref is not None and not reference_matches(ref, limit, s):
                continue
            sockets.append(_socket_file(fd, sock, sk, structs, radix) if structs else s)
    except (FaultError, WalkError) as exc:
        return TaskSockets(tid, sockets, str(exc))
    return TaskSockets(tid, sockets)


def neighbour_record(n: Object) -> Neighbour:
    """The :class:`Neighbour` of a ``struct neighbour *`` of arp_tbl."""
    prog = n.prog_
    dev = n.dev.read_()
    name, hw_type, addr_len = "", 0, 0
    if dev:
        name = netdev_name(dev).decode("utf-8", "replace")
        hw_type = int(dev.type.value_())
        addr_len = int(dev.addr_len.value_())
    ha = prog.read(n.ha.address_, min(addr_len, n.ha.type_.length or 0))
    state = int(n.nud_state.value_())
    key = ipaddress.IPv4Address(prog.read(n.primary_key.address_, 4))
    return Neighbour(n.value_(), str(key), dev.value_(),
                     name, hw_type, list(ha), state, nud_state_names(state))


def arp_cache(session: Session, problems: list[str]) -> list[Neighbour]:
    """The entries of the ARP cache (``arp_tbl``), bucket by bucket."""
    try:
        table = session.prog["arp_tbl"]
    except KeyError:
        raise CommandError("arp_tbl does not exist in this kernel") from None
    rows = []
    try:
        for n in collect(neighbours(table), problems):
            rows.append(neighbour_record(n))
    except FaultError as exc:
        note(problems, f"the ARP cache: {session.explain_fault(exc)}")
    return rows


def _radix(session: Session, args: argparse.Namespace) -> int:
    if args.hex:
        return 16
    if args.dec:
        return 10
    return 16 if session.state.settings.get("radix") == 16 else 10


def sockets(session: Session, args: argparse.Namespace, specs: Sequence[str],
            rows: list[Any], problems: list[str]) -> Result:
    """-s and -S: each selected task's sockets (those -R names)."""
    modes = args.modes
    if len(modes) > 1 and len(set(modes)) > 1:
        problems.append("only one -s or -S option allowed")
    structs = modes[0] == "S"
    radix = _radix(session, args)
    sel = select_tasks(session, specs)
    problems.extend(sel.errors)
    for t in sel.tasks:
        ts = _task_sockets(t, structs, radix, args.ref)
        if args.ref is not None and not ts.sockets and not ts.error:
            continue  # crash shows only the tasks holding the reference
        rows.append(ts)
    return Result(rows, render=render, errors=problems,
                  view=NetView(structs, args.ref is not None))


@command(
    "net",
    summary="network command",
    synopsis=USAGE,
    description="""
Displays various network related data.

If no arguments are entered, the list of network devices, names and IP
addresses are displayed.  For kernels supporting namespaces, the -n option
may be used to display the list of network devices with respect to the
network namespace of a current context or a task specified by pid or task:

      -n  the namespace of the current context.
  -n pid  a process PID.
 -n task  a hexadecimal task_struct pointer.

The -s and -S options display data with respect to the current context, but
may be appended with an argument to show the socket data with respect
to a specified task:

      -s  display open network socket/sock addresses, their family and type,
          and for INET and INET6 families, their source and destination
          addresses and ports.
  -s pid  same as above, for task with process PID pid.
 -s task  same as above, for task with hexadecimal task_struct pointer task.
      -S  displays open network socket/sock addresses followed by a dump
          of both data structures (the sock as an inet_sock).
  -S pid  same as above, with respect to process PID.
 -S task  same as above, with respect to hexadecimal task_struct pointer.

The -R option, typically invoked from "foreach net", and in conjunction
with the -s or -S options, searches for references to a socket address,
sock address, or a file descriptor; if found, only the referenced fd, socket
or sock data will be displayed:

  -R ref  socket or sock address, or file descriptor.

Other options:

      -a  display the ARP cache.
 -N addr  translates an IPv4 address expressed as a decimal or hexadecimal
          value into a standard numbers-and-dots notation.
      -x  override default output format with hexadecimal format.
      -d  override default output format with decimal format.
""",
    examples="""
Display the system's network device list:

  crash> net
     NET_DEVICE     NAME   IP ADDRESS(ES)
  ff36224941940000  lo
  ff3622494249a000  dummy0
  ff36224941947000  pcfix0

Display the sockets of PID 115, using both -s and -S output formats:

  crash> net -s 115
  PID: 115      TASK: ff1e53fac1d64180  CPU: 1    COMMAND: "pcfix-ipc"
  FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT DESTINATION-PORT
   6 ff1e53fac2509a00 ff1e53fac1304d80 INET:DGRAM   0.0.0.0-0 0.0.0.0-0

  crash> net -S 115
  PID: 115      TASK: ff1e53fac1d64180  CPU: 1    COMMAND: "pcfix-ipc"
  FD       SOCKET             SOCK
   6  ff1e53fac2509a00  ff1e53fac1304d80

  struct socket {
    state = SS_UNCONNECTED,
    type = 2,
    flags = 32,
    file = 0xff1e53faefd73600,
    sk = 0xff1e53fac1304d80,
    ops = 0xffffffffbbb082c0 <inet_dgram_ops>,
    wq = {
    ...
  }
  struct inet_sock {
    sk = {
    ...

Translate an address into dotted-decimal notation:

  crash> net -N 16777343
  127.0.0.1

From "foreach", find all tasks with references to a socket:

  crash> foreach net -s -R ff1e53fac2509a00
  PID: 115      TASK: ff1e53fac1d64180  CPU: 1    COMMAND: "pcfix-ipc"
  FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT DESTINATION-PORT
   6 ff1e53fac2509a00 ff1e53fac1304d80 INET:DGRAM   0.0.0.0-0 0.0.0.0-0

The ARP cache of a system that has resolved no IPv4 neighbour is empty: net -a
prints nothing.
""",
    records=(NetDevice, TaskSockets, SocketFile, Neighbour, Ipv4Address),
    arguments=(
        arg("-s", dest="modes", action="append_const", const="s", default=[]),
        arg("-S", dest="modes", action="append_const", const="S"),
        arg("-x", dest="hex", action="store_true"),
        arg("-d", dest="dec", action="store_true"),
        arg("-R", dest="ref", metavar="ref"),
        arg("-a", dest="ops", action=_Ordered, nargs=0, default=[]),
        arg("-N", dest="ops", action=_Ordered, metavar="addr"),
        arg("-n", dest="namespace", action="store_true"),
        arg("specs", nargs="*", metavar="pid|task"),
    ),
)
def net(session: Session, args: argparse.Namespace) -> Result:
    """Return :class:`NetDevice` rows; with -s or -S a :class:`TaskSockets` per task;
    with -a a :class:`Neighbour` per ARP cache entry; with -N an :class:`Ipv4Address`."""
    if args.hex and args.dec:
        raise CommandError("-d and -x are mutually exclusive")
    rows: list[Any] = []
    problems: list[str] = []
    for option, value in args.ops:  # crash acts on -a and -N as it reads them
        if option == "-a":
            rows.extend(arp_cache(session, problems))
        else:  # -N: the address, and nothing more
            number = crash_number(value)
            rows.append(Ipv4Address(number, ipv4_text(number)))
            return Result(rows, render=render, errors=problems)
    if args.modes:
        return sockets(session, args, args.specs, rows, problems)
    if args.namespace:
        owners = select_tasks(session, args.specs[:1])
        problems.extend(owners.errors)
        devs = netdevs(owners.tasks[0].nsproxy.net_ns) if owners.tasks else iter(())
    elif args.ops:
        return Result(rows, render=render, errors=problems)
    elif args.specs or args.ref is not None or args.hex or args.dec:
        raise CommandError(f"give -s, -S, -a, -n or -N (usage: {USAGE})")
    else:
        devs = netdevs(session.prog)
    rows.extend(NetDevice(d.value_(), netdev_name(d).decode(), ipv4_addrs(d))
                for d in collect(devs, problems))
    return Result(rows, render=render, errors=problems)
