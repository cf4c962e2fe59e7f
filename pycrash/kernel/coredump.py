"""An ELF core file of a user process, read from a dump that holds its pages, as crash's
gcore extension writes it: a PT_NOTE segment (per-thread NT_PRSTATUS and NT_PRFPREG,
NT_PRPSINFO, NT_AUXV, NT_FILE) and a PT_LOAD segment per VMA, its pages read through the
process's page tables (pages not present are left as holes of zeros). x86-64 only."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from drgn import FaultError, Object, Program
from drgn.helpers.linux.fs import d_path
from drgn.helpers.linux.mm import follow_phys

from pycrash.kernel.iterators import vmas
from pycrash.kernel.stackmem import thread_size
from pycrash.kernel.tasks import comm, parent_pid, thread_group

PAGE = 4096
NT_PRSTATUS, NT_PRFPREG, NT_PRPSINFO, NT_AUXV = 1, 2, 3, 6
NT_FILE = 0x46494C45
PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W, PF_R = 1, 2, 4
VM_READ, VM_WRITE, VM_EXEC = 1, 2, 4
#: VMAs the kernel's own core dumps leave empty: VM_IO, VM_PFNMAP (vvar), VM_DONTDUMP
VM_NODUMP = 0x4000 | 0x400 | 0x04000000
#: user_regs_struct's order: pt_regs' first 21 members, then the segment state
PT_REGS = ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx",
           "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss")
#: the names gdb gives the same registers
REG_NAMES = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax",
             "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
             "fs_base", "gs_base", "ds", "es", "fs", "gs")
#: makedumpfile's dump level bit for user process pages
DL_EXCLUDE_USER_DATA = 8


@dataclass(frozen=True)
class Segment:
    """A VMA as a PT_LOAD segment: its range, ELF flags (PF_R/W/X), the pages present in
    the dump, and its file (None for anonymous memory) with the offset in the file."""

    start: int
    end: int
    flags: int
    present: int
    file: str | None
    pgoff: int
    dumped: bool = True


@dataclass(frozen=True)
class Thread:
    """A thread's saved user registers (task_pt_regs, gdb's names and order) and pid."""

    pid: int
    regs: dict[str, int]


def _arch_ok(prog: Program) -> bool:
    return prog.platform is not None and "X86_64" in str(prog.platform.arch)


def pt_regs(task: Object) -> Object:
    """Return task_pt_regs(task): the ``struct pt_regs`` at the top of its kernel stack
    (TOP_OF_KERNEL_STACK_PADDING is 16 with FRED, else 0 on x86-64)."""
    prog = task.prog_
    regs_type = prog.type("struct pt_regs")
    pad = 0
    try:
        prog.symbol("asm_fred_entrypoint_user")
        pad = 16
    except LookupError:
        pass
    top = task.stack.value_() + thread_size(prog) - pad
    return Object(prog, regs_type, address=top - regs_type.size)


def user_regs(task: Object) -> dict[str, int]:
    """Return the thread's user registers as gdb names them (user_regs_struct)."""
    regs = pt_regs(task)
    out = {name: regs.member_(member).value_() & (2**64 - 1)
           for name, member in zip(REG_NAMES, PT_REGS, strict=False)}
    thread = task.thread
    for name, member in (("fs_base", "fsbase"), ("gs_base", "gsbase"), ("ds", "ds"),
                         ("es", "es"), ("fs", "fsindex"), ("gs", "gsindex")):
        try:
            out[name] = thread.member_(member).value_()
        except (LookupError, FaultError):
            out[name] = 0
    return out


def _fxsave(task: Object) -> bytes | None:
    """Return the thread's FXSAVE area (its saved x87/SSE state), 512 bytes, or None."""
    try:
        fpu = task.thread.fpu
        state = fpu.fpstate.regs if hasattr(fpu, "fpstate") else fpu.state
        return task.prog_.read(state.fxsave.address_of_().value_(), 512)
    except (LookupError, AttributeError, FaultError):
        return None


def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    name += b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def prstatus(thread: Thread, ppid: int, pgrp: int, sid: int, signo: int = 0) -> bytes:
    """Return an x86-64 ``struct elf_prstatus`` (336 bytes) for the thread."""
    head = struct.pack("<iiih2xQQiiii", signo, 0, 0, signo, 0, 0, thread.pid, ppid, pgrp,
                       sid)
    times = b"\0" * 64
    regs = struct.pack("<27Q", *(thread.regs[n] for n in REG_NAMES))
    return head + times + regs + struct.pack("<i4x", 1)


def prpsinfo(state: str, uid: int, gid: int, pid: int, ppid: int, pgrp: int, sid: int,
             fname: str, args: str, nice: int = 0, flags: int = 0) -> bytes:
    """Return an x86-64 ``struct elf_prpsinfo`` (136 bytes)."""
    order = "RSDTtZX"
    num = order.index(state) if state in order else 0
    return struct.pack("<bcbb4xQIIiiii16s80s", num, state.encode()[:1] or b"R",
                       int(state == "Z"), nice, flags, uid, gid, pid, ppid, pgrp, sid,
                       fname.encode()[:15], args.encode()[:79])


def file_note(segments: list[Segment]) -> bytes:
    """Return NT_FILE's body: count, page size, (start, end, page offset) per file mapping,
    then the file names."""
    files = [s for s in segments if s.file is not None]
    body = struct.pack("<QQ", len(files), PAGE)
    body += b"".join(struct.pack("<QQQ", s.start, s.end, s.pgoff) for s in files)
    return body + b"".join((s.file or "").encode() + b"\0" for s in files)


def auxv(mm: Object) -> bytes:
    """Return mm->saved_auxv up to and including its AT_NULL pair."""
    words = [w.value_() for w in mm.saved_auxv]
    out: list[int] = []
    for i in range(0, len(words) - 1, 2):
        out += words[i:i + 2]
        if words[i] == 0:
            break
    return struct.pack(f"<{len(out)}Q", *out)


def _vdso(mm: Object) -> tuple[int, bytes] | None:
    """Return where the process's vDSO is mapped and the kernel's image of it
    (vdso_image_64), whose pages a process maps only as it touches them."""
    prog = mm.prog_
    try:
        image = prog["vdso_image_64"]
        data = prog.read(image.data.value_(), image.size.value_())
        return mm.context.vdso.value_(), data
    except (LookupError, FaultError, AttributeError):
        return None


def _pages(mm: Object, start: int, end: int,
           vdso: tuple[int, bytes] | None = None) -> Iterator[tuple[int, bytes | None]]:
    """Yield each page of ``start..end`` and its contents (None: not in memory)."""
    prog = mm.prog_
    for addr in range(start, end, PAGE):
        try:
            phys = follow_phys(mm, addr).value_()
            yield addr, prog.read(phys, PAGE, True)
        except (FaultError, ValueError):
            if vdso is not None and vdso[0] <= addr < vdso[0] + len(vdso[1]):
                yield addr, vdso[1][addr - vdso[0]:addr - vdso[0] + PAGE]
            else:
                yield addr, None


def _file_name(vma: Object) -> str | None:
    f = vma.vm_file.read_()
    if not f:
        return None
    try:
        return d_path(f.f_path).decode(errors="replace")
    except (FaultError, ValueError):
        return None


def user_pages_missing(prog: Program, dump_level: int | None) -> str | None:
    """Return why the dump cannot hold user pages (its makedumpfile dump level), or None."""
    if dump_level is not None and dump_level & DL_EXCLUDE_USER_DATA:
        return (f"the dump holds no user pages (makedumpfile dump level {dump_level} "
                "excludes them)")
    return None


@dataclass(frozen=True)
class Core:
    """What a written core holds: its threads and segments, and the file's size."""

    threads: list[Thread]
    segments: list[Segment]
    size: int


def write_core(task: Object, out: BinaryIO) -> Core:
    """Write the ELF core of ``task``'s process to ``out`` (a seekable file) and return
    what it holds. Raises ValueError for a kernel thread or another architecture."""
    prog = task.prog_
    if not _arch_ok(prog):
        raise ValueError("only x86-64 processes can be written as core files")
    mm = task.mm.read_()
    if not mm:
        raise ValueError(f"pid {task.pid.value_()} is a kernel thread: it has no user memory")
    leader = task.group_leader.read_()
    tgid = leader.pid.value_()
    ppid = parent_pid(leader)
    try:
        pgrp = leader.signal.pids[2].numbers[0].nr.value_()  # PIDTYPE_PGID
        sid = leader.signal.pids[3].numbers[0].nr.value_()   # PIDTYPE_SID
    except (LookupError, FaultError, AttributeError):
        pgrp = sid = 0
    tasks = [leader, *thread_group(leader)]
    threads = [Thread(t.pid.value_(), user_regs(t)) for t in tasks]

    vma_list = list(vmas(mm))
    segments = []
    for vma in vma_list:
        flags = vma.vm_flags.value_()
        pf = ((PF_R if flags & VM_READ else 0) | (PF_W if flags & VM_WRITE else 0)
              | (PF_X if flags & VM_EXEC else 0))
        segments.append(Segment(vma.vm_start.value_(), vma.vm_end.value_(), pf, 0,
                                _file_name(vma), vma.vm_pgoff.value_(),
                                not flags & VM_NODUMP))

    notes = b""
    for th in threads:
        notes += _note(b"CORE", NT_PRSTATUS, prstatus(th, ppid, pgrp, sid))
        fx = _fxsave(next(t for t in tasks if t.pid.value_() == th.pid))
        if fx is not None:
            notes += _note(b"CORE", NT_PRFPREG, fx)
        if th.pid == tgid:  # gdb takes the process notes after the first thread's
            cred = leader.cred
            args = _cmdline(mm)
            notes += _note(b"CORE", NT_PRPSINFO, prpsinfo(
                _state(leader), cred.uid.val.value_(), cred.gid.val.value_(), tgid, ppid,
                pgrp, sid, comm(leader), args, leader.static_prio.value_() - 120,
                leader.flags.value_()))
            notes += _note(b"CORE", NT_AUXV, auxv(mm))
            notes += _note(b"CORE", NT_FILE, file_note(segments))

    phnum = 1 + len(segments)
    ehsize, phentsize = 64, 56
    note_off = ehsize + phnum * phentsize
    data_off = (note_off + len(notes) + PAGE - 1) // PAGE * PAGE
    phdrs = [struct.pack("<IIQQQQQQ", PT_NOTE, 0, note_off, 0, 0, len(notes), 0, 1)]
    off = data_off
    for s in segments:
        size = s.end - s.start
        filesz = size if s.dumped else 0
        phdrs.append(struct.pack("<IIQQQQQQ", PT_LOAD, s.flags, off, s.start, 0, filesz,
                                 size, PAGE))
        off += filesz
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, ehsize, 0, 0, ehsize,
                               phentsize, phnum, 0, 0, 0)
    out.write(ehdr + b"".join(phdrs) + notes)
    off = data_off
    done = []
    vdso = _vdso(mm)
    for s in segments:
        present = 0
        if not s.dumped:
            done.append(s)
            continue
        for addr, page in _pages(mm, s.start, s.end, vdso):
            if page is not None and any(page):
                out.seek(off + addr - s.start)
                out.write(page)
                present += 1
            elif page is not None:
                present += 1
        off += s.end - s.start
        done.append(Segment(s.start, s.end, s.flags, present, s.file, s.pgoff, True))
    out.truncate(off)
    return Core(threads, done, off)


def _state(task: Object) -> str:
    from pycrash.kernel.tasks import task_state

    st = task_state(task)
    return {"RU": "R", "IN": "S", "UN": "D", "ST": "T", "TR": "t", "ZO": "Z",
            "DE": "X"}.get(st, st[:1] or "R")


def _cmdline(mm: Object) -> str:
    """Return the process's arguments (mm->arg_start..arg_end), spaces between, or ''."""
    from drgn.helpers.linux.mm import access_remote_vm

    start, end = mm.arg_start.value_(), mm.arg_end.value_()
    try:
        raw = access_remote_vm(mm, start, min(end - start, 80))
    except (FaultError, ValueError):
        return ""
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
