"""mount: the mounted filesystems."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass

from drgn.helpers.linux.fs import mount_dst, mount_fstype, mount_src

from pycrash.command import Result, command
from pycrash.kernel.iterators import mounts
from pycrash.kernel.walk import collect
from pycrash.records import Hex
from pycrash.session import Session


@dataclass(frozen=True)
class Mount:
    """A mount: its struct mount and super_block, filesystem type, device name and mount
    point."""

    mount: Hex
    superblock: Hex
    type: str
    devname: str
    dirname: str


def render(result: Result) -> Iterable[str]:
    """crash's mount output: a table of mounts."""
    yield "     MOUNT           SUPERBLK     TYPE   DEVNAME   DIRNAME"
    for m in result.rows:
        yield f"{m.mount:016x} {m.superblock:016x} {m.type:<6} {m.devname:<9} {m.dirname}"


@command(
    "mount",
    summary="mounted filesystem data",
    synopsis="mount",
    description="Lists the mounts of the initial mount namespace, as /proc/mounts does.",
    examples="crash> mount",
    records=(Mount,),
)
def mount(session: Session, args: argparse.Namespace) -> Result:
    """Return a :class:`Mount` per mount."""
    rows = []
    errors: list[str] = []
    for mnt in collect(mounts(session.prog), errors):
        rows.append(Mount(mnt.value_(), mnt.mnt.mnt_sb.value_(),
                          mount_fstype(mnt).decode(), mount_src(mnt).decode(),
                          mount_dst(mnt).decode()))
    return Result(rows, render=render, errors=errors)
