"""System V IPC objects of an IPC namespace: shared memory segments, semaphore arrays and
message queues, as crash's ``ipcs`` reads them from the namespace's IDRs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drgn import FaultError, Object, Program, container_of

from pycrash.kernel.walk import idr_entries
from pycrash.records import Hex

#: the ipc_namespace.ids[] slots
SEM_IDS, MSG_IDS, SHM_IDS = 0, 1, 2
#: shm mode bits: destroyed when the last user detaches, locked in memory
SHM_DEST, SHM_LOCKED = 0o1000, 0o2000


@dataclass(frozen=True)
class ShmSegment:
    """A shared memory segment: its shmid_kernel, key, id, owner uid, mode bits, size in
    bytes, attaches, and (for -M) its pages allocated/resident/swapped and shmem inode."""

    shmid_kernel: Hex
    key: int
    shmid: int
    uid: int
    mode: int
    bytes: int
    nattch: int
    pages: int
    rss: int
    swap: int
    inode: Hex


@dataclass(frozen=True)
class SemArray:
    """A semaphore array: its sem_array, key, id, owner uid, mode bits and semaphores."""

    sem_array: Hex
    key: int
    semid: int
    uid: int
    mode: int
    nsems: int


@dataclass(frozen=True)
class MsgQueue:
    """A message queue: its msg_queue, key, id, owner uid, mode bits, bytes queued and
    messages."""

    msg_queue: Hex
    key: int
    msqid: int
    uid: int
    mode: int
    used_bytes: int
    messages: int


def ipc_namespace(task: Object) -> Object:
    """The ``struct ipc_namespace *`` of ``task``."""
    return task.nsproxy.ipc_ns


def _perms(ns: Object, which: int) -> Iterator[Object]:
    """The live ``struct kern_ipc_perm *`` of one of the namespace's IDRs, by id."""
    ids = ns.ids[which]
    if not ids.in_use.value_():
        return
    what = ("the semaphore", "the message queue", "the shared memory")[which] + " IDR"
    for _, entry in idr_entries(ids.ipcs_idr.address_of_(), what):
        perm = Object(ns.prog_, "struct kern_ipc_perm *", entry.value_())
        if not perm.deleted.value_():
            yield perm


def _key(perm: Object) -> int:
    return int(perm.key.value_()) & 0xFFFFFFFF


def _uid(perm: Object) -> int:
    uid = perm.uid
    return int(uid.val.value_() if uid.type_.kind.name != "INT" else uid.value_())


def shm_segments(prog: Program, ns: Object) -> list[ShmSegment]:
    """The namespace's shared memory segments."""
    page = int(prog["PAGE_SIZE"].value_())
    out = []
    for perm in _perms(ns, SHM_IDS):
        shp = container_of(perm, "struct shmid_kernel", "shm_perm")
        size = int(shp.shm_segsz.value_())
        inode = shp.shm_file.f_path.dentry.d_inode
        rss = swap = 0
        try:
            rss = int(inode.i_mapping.nrpages.value_())
            info = container_of(inode, "struct shmem_inode_info", "vfs_inode")
            swap = int(info.swapped.value_())
        except (FaultError, LookupError):
            pass
        out.append(ShmSegment(shp.value_(), _key(perm), int(perm.id.value_()), _uid(perm),
                              int(perm.mode.value_()), size, int(shp.shm_nattch.value_()),
                              (size + page - 1) // page, rss, swap, inode.value_()))
    return out


def sem_arrays(prog: Program, ns: Object) -> list[SemArray]:
    """The namespace's semaphore arrays."""
    out = []
    for perm in _perms(ns, SEM_IDS):
        sma = container_of(perm, "struct sem_array", "sem_perm")
        out.append(SemArray(sma.value_(), _key(perm), int(perm.id.value_()), _uid(perm),
                            int(perm.mode.value_()), int(sma.sem_nsems.value_())))
    return out


def msg_queues(prog: Program, ns: Object) -> list[MsgQueue]:
    """The namespace's message queues."""
    out = []
    for perm in _perms(ns, MSG_IDS):
        msq = container_of(perm, "struct msg_queue", "q_perm")
        out.append(MsgQueue(msq.value_(), _key(perm), int(perm.id.value_()), _uid(perm),
                            int(perm.mode.value_()), int(msq.q_cbytes.value_()),
                            int(msq.q_qnum.value_())))
    return out
