"""A Session: one opened dump, its drgn Program, the current context and the kernel's facts.

Commands receive the session; they never open files or parse argv themselves. What
the user changes while working (settings, aliases, history) is not the session's:
it is the :class:`pycrash.interpreter.State` of the interpreter running the
commands, reached as ``session.state`` (see :mod:`pycrash.interpreter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pycrash.command import Result
from pycrash.errors import CommandError
from pycrash.registry import Registry, registry

if TYPE_CHECKING:
    from drgn import Object, Program

    from pycrash.interpreter import Interpreter, State
    from pycrash.memory.source import ByteSource
    from pycrash.target import Target


class Session:
    """An open dump: ``prog`` (drgn), ``target`` (what was opened), the context task."""

    def __init__(self, prog: Program, target: Target, reg: Registry | None = None) -> None:
        self.prog = prog
        self.target = target
        if target.vmlinux:  # for pycrash.kernel.symindex: the vmlinux's own symbol table
            prog.cache["pycrash_vmlinux"] = (target.vmlinux, target.build_id)
        self.registry = reg or registry()
        self._context: Object | None = None
        self._cache: dict[str, Any] = {}
        self._interpreter: Interpreter | None = None

    @classmethod
    def open(
        cls, dump: str | Sequence[str], vmlinux: str | None = None, force: bool = False,
        btf: bool = False, dwarf: bool = False, **options: Any,
    ) -> Session:
        """Open ``dump`` (a path, or a list: split parts, ``file@paddr`` images) with
        ``vmlinux`` and return a Session; with ``btf``, or when no vmlinux is found,
        without one (kallsyms and BTF from the dump); with ``dwarf``, the vmlinux's DWARF
        indexed at open rather than when a look-up needs it. ``options`` are
        :class:`pycrash.target.Options` fields: ``zero_excluded``, ``live``, ``oldmem``,
        ``elfcorehdr``."""
        from pycrash.target import Options, open_target

        paths = [dump] if isinstance(dump, str) else list(dump)
        prog, target = open_target(paths, vmlinux, force=force, options=Options(**options),
                                   btf=btf, dwarf=dwarf)
        return cls(prog, target)

    @classmethod
    def from_source(cls, source: ByteSource, vmlinux: str | None = None, force: bool = False,
                    btf: bool = False, dwarf: bool = False, **options: Any) -> Session:
        """Open the dump that ``source`` serves (any
        :class:`~pycrash.memory.source.ByteSource`: a remote file read by byte range)
        with the local ``vmlinux`` and return a Session, as :meth:`open` opens a file;
        pycrash's readers serve drgn's reads from the source
        (:func:`pycrash.target.open_source_target`)."""
        from pycrash.target import Options, open_source_target

        prog, target = open_source_target(source, vmlinux, force=force,
                                          options=Options(**options), btf=btf, dwarf=dwarf)
        return cls(prog, target)

    # -- running commands -------------------------------------------------

    def run(self, line: str) -> Result:
        """Run one crash command (no ``;``, pipes or redirection; a user alias is
        expanded) with :attr:`interpreter` and return its Result. Raises
        :class:`pycrash.errors.PycrashError` when the command fails."""
        return self.interpreter.run(line)

    @property
    def interpreter(self) -> Interpreter:
        """The interpreter that runs this session's commands: the last one made over
        the session, or one made now (the Python API)."""
        if self._interpreter is None:
            from pycrash.interpreter import Interpreter

            return Interpreter(self)  # it makes itself the session's interpreter
        return self._interpreter

    @interpreter.setter
    def interpreter(self, interp: Interpreter) -> None:
        self._interpreter = interp

    @property
    def state(self) -> State:
        """The user's settings, aliases, history and ``$N`` counter: the interpreter's."""
        return self.interpreter.state

    @property
    def live(self) -> bool:
        """Whether the target is the running kernel (``/proc/kcore``), not a dump."""
        from drgn import ProgramFlags

        return bool(self.prog.flags & ProgramFlags.IS_LIVE)

    # -- look-ups for scripts ----------------------------------------------

    def task(self, spec: int | str) -> Object:
        """Return the one ``struct task_struct *`` with this pid, address or name.

        >>> s.task(1).comm.string_()
        b'init'

        Raises :class:`CommandError` when no task, or several, match.
        """
        found = self.find_task(str(spec))
        if len(found) != 1:
            raise CommandError(f"{spec} names {len(found)} tasks; give a task address")
        return found[0]

    def symbol(self, spec: str | int) -> Any:
        """Return the :class:`pycrash.kernel.symbols.SymbolRow` of a name or an address.

        >>> s.symbol("panic").text()
        'ffffffff81c3c4b0 (T) panic kernel/panic.c: 276'
        """
        from pycrash.kernel.symbols import lookup, section_bounds

        text = spec if isinstance(spec, str) else f"{spec:x}"
        return lookup(self.prog, text, section_bounds(self.prog))

    def variable(self, name: str) -> Object:
        """Return the kernel global ``name`` as a drgn Object (``s.variable("jiffies")``)."""
        try:
            return self.prog[name]
        except KeyError:
            raise CommandError(f"no kernel variable named {name!r}") from None

    # -- kernel facts shared by commands (computed once per session) ------

    @cached_property
    def panic_task(self) -> Object | None:
        """The ``struct task_struct *`` that panicked, or None (live or unknown).

        drgn knows it for the dumps it opens itself; for the others it is the
        task running on the CPU the kernel's ``panic_cpu`` names.
        """
        if self.live:
            return None
        try:
            return self.prog.crashed_thread().object
        except (ValueError, LookupError):
            pass
        from drgn import FaultError
        from drgn.helpers.linux.sched import cpu_curr

        try:
            cpu = self.prog["panic_cpu"].counter.value_()
            return cpu_curr(self.prog, cpu) if cpu >= 0 else None
        except (KeyError, LookupError, FaultError, ValueError):
            return None

    def explain_fault(self, exc: Exception) -> str:
        """Return why a drgn FaultError happened, naming pages makedumpfile excluded.

        drgn's own kdump reader says only that a page is missing; the dump's
        bitmaps tell whether makedumpfile left it out or it was never RAM.
        """
        from drgn import FaultError

        if not isinstance(exc, FaultError):
            return str(exc)
        addr, reason = exc.address, exc.message
        kd = self.target.kdump
        physical = self.target.own_reader  # pycrash's readers fault on physical addresses
        from pycrash.memory.formats.kdump import excluded_reason

        if "Excluded page" in reason and kd is not None:  # libkdumpfile's words for it
            return excluded_reason(kd.header.dump_level)
        if kd is not None and "excluded" not in reason and (physical or addr >= 1 << 63):
            phys = addr
            if not physical:  # a kernel virtual address: walk the page tables
                try:
                    from drgn.helpers.linux.mm import follow_phys

                    phys = follow_phys(self.prog["init_mm"].address_of_(), addr).value_()
                except Exception:
                    phys = -1
            pfn = phys // kd.page_size if phys >= 0 else -1
            if "ecompres" in reason and pfn >= 0:  # libkdumpfile: "Decompresion failed: ..."
                from pycrash.memory.formats.kdump import COMPRESSION_NAMES

                stored = kd.stored(pfn)
                codec = COMPRESSION_NAMES.get(stored[2], "?") if stored else "?"
                detail = reason.split(": ", 1)[-1]
                return f"page {pfn:#x} of the dump is corrupt ({codec}: {detail})"
            if pfn in kd.ram and pfn not in kd.dumped:
                reason = excluded_reason(kd.header.dump_level)
            elif phys >= 0 and pfn not in kd.ram:
                reason = "not in the crashed machine's RAM"
        if physical:
            reason += f" (physical address {addr:#x})"
        return reason

    def frames(self, task: Object, with_source: bool = False) -> list[Any]:
        """Return the crash-style :class:`pycrash.kernel.stack.Frame` list of ``task``
        (with file and line numbers when ``with_source``)."""
        return list(self.trace(task, with_source).frames)

    def trace(self, task: Object, with_source: bool = False) -> Any:
        """Return the :class:`pycrash.kernel.stack.Trace` of ``task``: its frames from
        pycrash's stack engine (ORC), and a note when the walk ended early.

        A task that was running on a CPU unwinds from what that CPU saved at the
        crash. Kernels without ORC tables (and other architectures) go to drgn's
        unwinder. Raises :class:`ValueError`, :class:`LookupError` or
        :class:`drgn.FaultError` when the task's stack cannot be read at all.
        """
        from pycrash.kernel.stack import Trace, engine_trace, task_frames

        regs = self.saved_regs(task)
        arch = self.prog.platform.arch.name if self.prog.platform is not None else ""
        if arch == "AARCH64":
            from pycrash.kernel.stack import engine_trace_arm64

            return engine_trace_arm64(self.prog, task, regs, with_source)
        if arch == "X86_64":
            try:
                panic = self.panic_task is not None and self.panic_task.value_() == task.value_()
                return engine_trace(self.prog, task, regs, panic, with_source)
            except ValueError as exc:
                if "ORC" not in str(exc):
                    raise
        return Trace(task_frames(self.prog, task, self.cpu_regs(task), with_source))

    def saved_regs(self, task: Object) -> dict[str, int] | None:
        """The registers (``struct pt_regs`` member names) a CPU saved at the crash
        when ``task`` was running on it; None for tasks that were not running, or
        when the dump holds no registers for that CPU."""
        if self.live or task.value_() not in self.active_tasks():
            return None
        key = f"saved_regs {task.value_():x}"
        if key in self._cache:
            regs: dict[str, int] | None = self._cache[key]
            return regs
        regs = None
        obj = self.cpu_regs(task)
        if obj is not None:
            from pycrash.kernel.crashnotes import named_registers

            regs = named_registers(self.prog.platform.arch.name,
                                   obj.to_bytes_())
        else:
            from pycrash.kernel.crashnotes import saved_registers

            note = saved_registers(self.prog, self.active_tasks()[task.value_()])
            if note is not None and note[0] == task.pid.value_() and note[1].get(
                    "ip", note[1].get("pc")):
                regs = note[1]
        if regs is None and obj is None:
            from drgn import FaultError

            try:
                first = self.prog.stack_trace(task)[0]
                found = first.registers()
                regs = {(k[1:] if k.startswith("r") and not k[1:2].isdigit() else k): v
                        for k, v in found.items()}
                regs["flags"] = found.get("rflags", 0)
                if "x29" in found:  # arm64: drgn names the pc only on the frame
                    regs.update(ip=first.pc, pc=first.pc, fp=found["x29"])
            except (ValueError, LookupError, FaultError, IndexError):
                regs = None
            if regs is not None and ("ip" not in regs or "sp" not in regs):
                regs = None
        self._cache[key] = regs
        return regs

    def cpu_regs(self, task: Object) -> Object | None:
        """The ``struct pt_regs`` a CPU saved in its NT_PRSTATUS note, when ``task`` was
        running on it and pycrash (not drgn) read the notes; else None. A QEMU dump's
        notes are per vCPU (whatever task it ran); registers of user mode are no start
        for a kernel stack, so they give None too."""
        from pycrash.memory.elfcore import VCPU

        regs = self.target.regs
        if not regs or task.value_() not in self.active_tasks():
            return None
        from drgn import Object as DrgnObject

        cpu = self.active_tasks()[task.value_()]
        pid = task.pid.value_()
        note = regs[cpu] if cpu < len(regs) and regs[cpu].pid in (pid, VCPU) else next(
            (r for r in regs if r.pid == pid and pid), None)
        if note is None or not note.regs:
            return None
        size = self.prog.type("struct pt_regs").size  # arm64's is longer than pr_reg
        obj = DrgnObject.from_bytes_(self.prog, "struct pt_regs",
                                     note.regs + bytes(max(size - len(note.regs), 0)))
        try:
            user = (obj.cs.value_() & 3 == 3) if self.prog.platform is not None and \
                self.prog.platform.arch.name == "X86_64" else (obj.pstate.value_() & 0xF == 0)
        except (LookupError, AttributeError):
            user = False
        return None if user else obj

    @property
    def context(self) -> Object | None:
        """crash's current context task: set by ``set``, the panic task by default."""
        return self._context if self._context is not None else self.panic_task

    @context.setter
    def context(self, task: Object | None) -> None:
        self._context = task

    def tasks(self) -> list[Object]:
        """Every task as crash lists them (idle tasks first), cached for the session.

        A corrupt task list (a loop in the pid tree) gives the tasks found before the
        break, and each command that asks for them gets the break as an error line
        (:meth:`note`)."""
        if "tasks" not in self._cache:
            from pycrash.kernel.tasks import all_tasks
            from pycrash.kernel.walk import walk_list

            errors: list[str] = []
            self._cache["tasks"] = walk_list(all_tasks(self.prog), errors)
            self._cache["tasks_errors"] = errors
        for message in self._cache["tasks_errors"]:
            self.note(message)
        tasks: list[Object] = self._cache["tasks"]
        return tasks

    def note(self, message: str) -> None:
        """Remember a problem met while the running command computed its records (a
        kernel list that loops, whose entries before the loop were used): the
        interpreter adds it, once, to the command's errors."""
        notes: list[str] = self._cache.setdefault("notes", [])
        if message not in notes:
            notes.append(message)

    def take_notes(self) -> list[str]:
        """Return the problems noted since the last call, and forget them."""
        notes: list[str] = self._cache.pop("notes", [])
        return notes

    def _task_index(self) -> tuple[dict[int, list[Object]], dict[int, Object]]:
        """``({pid: tasks}, {task address: task})``, built once per session."""
        if "task_index" not in self._cache:
            by_pid: dict[int, list[Object]] = {}
            by_addr: dict[int, Object] = {}
            for t in self.tasks():
                by_pid.setdefault(t.pid.value_(), []).append(t)
                by_addr[t.value_()] = t
            self._cache["task_index"] = (by_pid, by_addr)
        index: tuple[dict[int, list[Object]], dict[int, Object]] = self._cache["task_index"]
        return index

    def active_tasks(self) -> dict[int, int]:
        """``{task address: cpu}`` of each CPU's running task, cached."""
        if "active" not in self._cache:
            from pycrash.kernel.tasks import active_tasks

            self._cache["active"] = active_tasks(self.prog)
        active: dict[int, int] = self._cache["active"]
        return active

    def find_task(self, spec: str) -> list[Object]:
        """Return the tasks named by ``spec``: a pid, a task address, or a command name.

        A decimal number is a pid (several tasks for pid 0); a hex number
        (with or without 0x) that is a task address selects that task; any
        other word selects every task with that ``comm``. Raises
        :class:`CommandError` when nothing matches.
        """
        from pycrash.kernel.tasks import comm

        by_pid, by_addr = self._task_index()
        if spec.isdigit() and int(spec) in by_pid:
            return by_pid[int(spec)]
        try:
            addr = int(spec, 16)
        except ValueError:
            addr = None
        if addr is not None and addr in by_addr:
            return [by_addr[addr]]
        found = [t for t in self.tasks() if comm(t) == spec]
        if found:
            return found
        if spec.isdigit():
            raise CommandError(f"invalid task or pid value: {spec}")
        if addr is not None:
            raise CommandError(f"invalid task or pid value: {spec}")
        raise CommandError(f"no task named {spec!r}")
