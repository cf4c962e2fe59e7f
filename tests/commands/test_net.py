"""net on the real dump (and the system views checked with it: mount, irq, dev, timer, swap)."""

from __future__ import annotations

from conftest import Dump


def test_net_mount_irq_dev_timer_swap(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    names = {d.name for d in session.run("net").rows}
    assert {"lo", "pcfix0"} <= names
    mounts = {(m.devname, m.dirname, m.type) for m in session.run("mount").rows}
    truth = {tuple(line.split()[:3]) for line in dump.truth("mounts.txt").splitlines()}
    assert {(d, p, t) for d, p, t in truth} == mounts
    irqs = {r.irq: r for r in session.run("irq").rows}
    for line in dump.truth("interrupts.txt").splitlines()[1:]:
        head = line.split()
        if head[0].rstrip(":").isdigit():
            n = int(head[0].rstrip(":"))
            assert n in irqs, n
            # counts only grow between the snapshot and the crash
            counts = [irqs[n].counts[cpu] for cpu in (0, 1)]
            assert [int(x) for x in head[1:3]] <= counts or \
                all(a <= b for a, b in zip(map(int, head[1:3]), counts, strict=True))
    assert any(d.name == "mem" and d.major == 1 for d in session.run("dev").rows)
    assert session.run("dev -p").rows
    assert session.run("timer").rows
    assert session.run("swap").rows == []


def test_net_n_and_dev_d(session) -> None:  # type: ignore[no-untyped-def]
    assert {d.name for d in session.run("net -n 1").rows} >= {"lo", "pcfix0"}
    disks = {d.name: d for d in session.run("dev -d").rows}
    assert {"vda", "vdb"} <= set(disks)
    assert all(d.queue for d in disks.values())


# --- sockets, the ARP cache, addresses (issue 18) -------------------------------------

import ipaddress  # noqa: E402
import re  # noqa: E402
import socket as pysocket  # noqa: E402
import struct as pystruct  # noqa: E402

import pytest  # noqa: E402
from conftest import crash_commands, fixture_dump, pid_of  # noqa: E402

from pycrash.errors import CommandError  # noqa: E402


def _ours(session, line: str) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """pycrash's text of a command line and its error lines, as crash words them."""
    try:
        result = session.run(line)
    except CommandError as exc:
        return [], [f"{line.split()[0]}: {exc}"]
    name = "foreach" if line.startswith("foreach") else "net"
    return str(result).splitlines(), [f"{name}: {e}" for e in result.errors]


def _split(lines: list[str]) -> tuple[list[str], list[str]]:
    """crash's lines: its text, and its error lines (``net: ...``)."""
    errors = [ln for ln in lines if ln.startswith("net: ")]
    return [ln for ln in lines if not ln.startswith("net: ")], errors


SMALL_LINES = ["net", "net -n", "net -s", "net -S", "net -x -S", "net -d -S", "net -s -R 3",
               "net -S -R 1", "net -s 99999", "net -x -d -s", "net -a", "net -a -n"]


def test_net_s_and_S_print_each_task_header_and_its_sockets_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """The context task (the panic's, which crash 8.0.2 finds on 6.1) holds no socket:
    its header and "No open sockets." for -s and -S (radix flags or not), nothing with -R,
    crash's errors; a guest task whose descriptors the guest listed (no socket:[...]) the
    same, and init's (the golden test's net -s 1) too. The devices as crash pads them: the
    name to six columns and a space, addresses or none (the golden test's net, net -n)."""
    theirs = crash_commands(dump, SMALL_LINES)
    for line in SMALL_LINES:
        assert _ours(session, line) == _split(theirs[line]), line
    assert theirs["net -s"][1:] == ["No open sockets."]
    pid = pid_of(dump, "pcfix-files")
    truth = dump.truth("fds.txt").split(f"/proc/{pid} pcfix-files\n", 1)[1].split("/proc/")[0]
    assert " 3 -> /tmp/work/hello.txt" in truth and "socket:[" not in truth
    header = session.run(f"net -s {pid}").rows[0].task.header()
    assert _ours(session, f"net -s {pid}") == ([header, "No open sockets."], [])
    assert _ours(session, "net -s 1")[0][1:] == ["No open sockets."]
    assert _ours(session, f"net -s 1 {pid}")[0][2:] == ["", header, "No open sockets."]


BULLSEYE_LINES = ["foreach net -s", "foreach net -S", "net -S 1", "net -s 0", "net -x -S 1",
                  "net -d -S 0", "net -s -R 3 1", "foreach net -s -R 0",
                  "foreach net -S -R ffff", "net -s -S 1", "net -S -s 1", "net -s 99999",
                  "net -x -d -S 1"]


def test_net_socket_flags_equal_crash_where_crash_sees_every_task() -> None:
    """On 5.10 crash 8.0.2 finds every task (none of the guest's holds a socket): each
    task's header and "No open sockets." for -s and -S, the blank lines between tasks,
    nothing for -R, one -s or -S kept, crash's errors (crash prints an error where it
    meets it, pycrash after the text: compared apart)."""
    dump = fixture_dump("bullseye-small")
    theirs = crash_commands(dump, BULLSEYE_LINES)
    session = dump.open()
    for line in BULLSEYE_LINES:
        out, errors = _ours(session, line)
        crash_out, crash_errors = _split(theirs[line])
        assert out == crash_out, line
        assert errors == crash_errors, line
    assert theirs["foreach net -s"].count("No open sockets.") == len(session.tasks())
    assert theirs["foreach net -s -R 0"] == []


# --- the tracing fixture: pcfix-ipc holds an AF_INET datagram socket (pcfix_ipc.c) -------


@pytest.fixture(scope="module")
def tracing() -> Dump:
    return fixture_dump("tracing")


@pytest.fixture(scope="module")
def tsession(tracing: Dump):  # type: ignore[no-untyped-def]
    return tracing.open()


def _guest_socket(tracing: Dump, pid: int) -> tuple[int, int]:
    """The descriptor and inode number of the socket the guest listed for ``pid``
    (``N -> socket:[INODE]`` in /proc/PID/fd)."""
    block = tracing.truth("fds.txt").split(f"/proc/{pid} ", 1)[1].split("/proc/")[0]
    found = re.findall(r" (\d+) -> socket:\[(\d+)\]", block)
    assert len(found) == 1, block
    return int(found[0][0]), int(found[0][1])


def test_net_s_S_R_on_the_guests_socket(tracing: Dump, tsession) -> None:  # type: ignore[no-untyped-def]
    """crash 8.0.2 finds only three tasks on 6.1, not pcfix-ipc: its socket is checked
    against the guest (the descriptor and inode /proc/PID/fd named, the family and type
    pcfix_ipc.c asked for, unbound), drgn's own path from the descriptor to the socket,
    and crash's dump_struct text of the socket and inet_sock at those addresses (-S with
    the default radix, -x, -d); -R by descriptor, socket and sock address, alone and
    through foreach, as crash's sym_socket_dump() matches them."""
    from drgn import container_of
    from drgn.helpers.linux.fs import fget
    from drgn.helpers.linux.net import SOCKET_I

    pid = pid_of(tracing, "pcfix-ipc")
    fd, ino = _guest_socket(tracing, pid)
    task = tsession.task(pid)
    sock = SOCKET_I(fget(task, fd).f_inode)
    sk = sock.sk.value_()
    assert container_of(sock.sk.sk_socket, "struct socket_alloc", "socket").vfs_inode.i_ino \
        .value_() == ino
    (ts,) = tsession.run(f"net -s {pid}").rows
    (s,) = ts.sockets
    assert (s.fd, s.socket, s.sock) == (fd, sock.value_(), sk)
    assert (s.family, s.type) == (pysocket.AF_INET, pysocket.SOCK_DGRAM)
    assert (s.source, s.source_port, s.destination, s.destination_port) == \
        ("0.0.0.0", 0, "0.0.0.0", 0)
    header = ts.task.header()
    row = f"{fd:2d} {sock.value_():16x} {sk:16x} INET:DGRAM   0.0.0.0-0 0.0.0.0-0"
    table = [header, "FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT "
             "DESTINATION-PORT", row]
    assert _ours(tsession, f"net -s {pid}") == (table, [])

    structs = {f: f"struct {f} socket {sock.value_():x}" for f in ("", "-x", "-d")}
    inet = {f: f"struct {f} inet_sock {sk:x}" for f in ("", "-x", "-d")}
    theirs = crash_commands(tracing, [*structs.values(), *inet.values()])
    for flag in ("", "-x", "-d"):
        out, errors = _ours(tsession, f"net -S {flag} {pid}")
        assert errors == [] and out[:4] == [
            header, "FD       SOCKET             SOCK      ",
            f"{fd:2d}  {sock.value_():16x}  {sk:16x}", ""], flag
        assert out[4:] == theirs[structs[flag]] + theirs[inet[flag]], flag
        assert out[4] == "struct socket {" and "struct inet_sock {" in out

    for ref in (str(fd), f"{sock.value_():x}", f"{sk:#x}", f"{sk:x}"):
        assert _ours(tsession, f"net -s -R {ref} {pid}") == (table + [""], []), ref
        assert _ours(tsession, f"foreach net -s -R {ref}") == (table + [""], []), ref
    assert _ours(tsession, f"net -s -R {fd - 1} {pid}") == ([], [])
    assert _ours(tsession, f"net -s -R {sk + 8:x} {pid}") == ([], [])
    out, _ = _ours(tsession, f"foreach net -S -R {fd}")
    assert out[:3] == [header, "FD       SOCKET             SOCK      ",
                       f"{fd:2d}  {sock.value_():16x}  {sk:16x}"] and out[-1] == ""
    assert sum(ln.startswith("PID: ") for ln in out) == 1


# --- the ARP cache and -N -------------------------------------------------------------


def _neighbour_tables(session) -> None:  # type: ignore[no-untyped-def]
    """The walk -a makes, over both of the kernel's neighbour tables: as many entries as
    each table counts (tbl->entries); no guest resolved an IPv4 neighbour, and every guest
    joined the all-routers group ff02::2 on pcfix0, whose neighbour holds the Ethernet
    multicast address RFC 2464 maps it to (33:33 and the address's last four bytes),
    NOARP. That entry through -a's record and line."""
    from pycrash.commands.net import neighbour_line, neighbour_record

    from pycrash.kernel.net import neighbours

    prog = session.prog
    assert session.run("net -a").rows == []
    assert prog["arp_tbl"].entries.counter.value_() == 0
    nd = list(neighbours(prog["nd_tbl"]))
    assert len(nd) == prog["nd_tbl"].entries.counter.value_() == 1
    key = ipaddress.IPv6Address(prog.read(nd[0].primary_key.address_, 16))
    assert key == ipaddress.IPv6Address("ff02::2")
    row = neighbour_record(nd[0])
    assert row.hw_address == [0x33, 0x33, *key.packed[-4:]]
    assert (row.device_name, row.hw_type, row.states) == ("pcfix0", 1, ["NOARP"])
    assert neighbour_line(row) == (f"{nd[0].value_():<16x} 255.2.0.0       ETHER      "
                                   "33:33:00:00:00:02  pcfix0  NOARP")


NUMBERS = ["16777343", "0x0100007f", "100007f", "0X10", "12ab", "0x", "0", "4294967295",
           "4294967296", "0x1c0a80001", "99999999999999999999", "3232235777"]
N_ERRORS = ["foo", "-5", "10h", "1ffffffffffffffff"]


def _n_equals_crash(dump: Dump, session) -> None:  # type: ignore[no-untyped-def]
    """-N as crash prints it (its stol(): decimal, else hex; cut to 32 bits), and as the
    C library's inet_ntoa has it; crash's errors; -N ends the command where it stands,
    after an ARP cache -a before it printed (empty here)."""
    lines = [f"net -N {n}" for n in NUMBERS + N_ERRORS] + ["net -a -N 5", "net -N 5 -a",
                                                             "net -s -N 5"]
    theirs = crash_commands(dump, lines)
    for line in lines:
        assert _ours(session, line) == _split(theirs[line]), line
    for n in NUMBERS:
        if n.isdigit():  # decimal, saturating at an unsigned long's top
            value = min(int(n), (1 << 64) - 1)
        else:
            value = int(n[2:] or "0", 16) if n[:2].lower() == "0x" else int(n, 16)
        value &= 0xFFFFFFFF
        assert theirs[f"net -N {n}"] == [pysocket.inet_ntoa(pystruct.pack("<I", value))], n


def test_net_a_and_N_as_crash(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """-a: crash prints no ARP cache (not even its heading) on the small fixture, nor
    pycrash; the neighbour tables walked; -N as crash."""
    assert crash_commands(dump, ["net -a"])["net -a"] == []
    _neighbour_tables(session)
    _n_equals_crash(dump, session)


@pytest.mark.parametrize("name", ["bullseye-small", "sid-small"])
def test_net_a_and_N_across_kernels(name: str) -> None:
    """5.10's neighbour tables chain entries through neighbour->next, 7.2's (since 6.13)
    through an hlist: the same entries; -a and -N as crash 8.0.2 where it reads the
    kernel (5.10)."""
    dump = fixture_dump(name)
    session = dump.open()
    _neighbour_tables(session)
    if name == "bullseye-small":
        assert crash_commands(dump, ["net -a"])["net -a"] == []
        _n_equals_crash(dump, session)
