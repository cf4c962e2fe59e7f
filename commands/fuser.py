"""fuser: the tasks using a file (by path or inode address): root, cwd, fd, mmap."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from pycrash.cmdlib.resolve import parse_hex
from pycrash.command import Result, arg, command
from pycrash.errors import CommandError
from pycrash.kernel.fuser import FileUser, file_users
from pycrash.records import OptHex
from pycrash.session import Session


@dataclass(frozen=True)
class FuserQuery:
    """One file asked about: as written, its path or inode address, and its users."""

    spec: str
    path: str | None
    inode: OptHex
    users: list[FileUser]


HEADER = " PID         TASK        COMM             USAGE"


def user_line(u: FileUser) -> str:
    """crash's line for a user: the command in quotes, cut to 15 characters (crash's
    16-character field ends in a space)."""
    comm = f'"{u.task.comm}"'[:15]
    return f"{u.task.pid:>5}  {u.task.task:016x}  {comm:<16} {''.join(x + ' ' for x in u.uses)}"


def render(result: Result) -> Iterable[str]:
    """crash's fuser output: per file, a header and its users, or that it has none."""
    for q in result.rows:
        if not q.users:
            yield f"No users of {q.spec} found"
            continue
        yield HEADER
        yield from map(user_line, q.users)


@command(
    "fuser",
    summary="file users",
    synopsis="fuser [pathname | inode]",
    description="""
This command displays the tasks using specified files or sockets.
Tasks will be listed that reference the file as the current working
directory, root directory, an open file descriptor, or that mmap the
file.

    pathname  the full pathname of the file.
    inode     the hexadecimal inode address for the file.

A pathname is matched as a whole against the paths the kernel's dentries give
(crash matches its text anywhere in the lines of "foreach files" and "foreach vm");
a directory is the root or working directory when named as "files" shows it: "/",
or the path with a trailing slash. An inode address matches open files and
mappings of that inode.
""",
    examples="""
Display the tasks using file /tmp/work/hello.txt:

  crash> fuser /tmp/work/hello.txt
   PID         TASK        COMM             USAGE
     95  ffff97daaf5c5dc0  "pcfix-files"    fd
     98  ffff97daaf5c3e80  "sleep"          fd
""",
    arguments=(arg("specs", nargs="*", metavar="pathname|inode"),),
    records=(FuserQuery, FileUser),
)
def fuser(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`FuserQuery` per file named."""
    if not args.specs:
        raise CommandError("Usage: fuser [pathname | inode]")
    rows = []
    for spec in args.specs:
        if spec.startswith("/"):
            path, inode = spec, None
        else:
            path, inode = None, parse_hex(spec, "pathname or inode address")
        rows.append(FuserQuery(spec, path, inode, file_users(session.tasks(), path, inode)))
    return Result(rows, render=render)
