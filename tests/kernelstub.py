"""A drgn Program without a dump: a few symbols, types, globals and tasks in memory the test
writes, for tests that need no vmcore."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drgn import (
    Architecture,
    Object,
    Platform,
    PlatformFlags,
    Program,
    Qualifiers,
    Symbol,
    SymbolBinding,
    SymbolKind,
    Type,
    TypeKind,
    TypeMember,
)

SYMBOLS = {"panic": (0xFFFFFFFF81000000, 0x100, SymbolKind.FUNC),
           "jiffies": (0xFFFFFFFF82000000, 8, SymbolKind.OBJECT),
           "linux_banner": (0xFFFFFFFF82002000, 16, SymbolKind.OBJECT)}
#: where :class:`Memory` puts the stub kernel's data by default (the direct map)
DATA = 0xFFFF888000000000
PF_KTHREAD = 0x00200000
#: the kernel's task_state_array (6.1): drgn's task_state_to_char reads the letters
TASK_STATE_ARRAY = ("R (running)", "S (sleeping)", "D (disk sleep)", "T (stopped)",
                    "t (tracing stop)", "X (dead)", "Z (zombie)", "P (parked)", "I (idle)")


def _platform() -> Platform:
    return Platform(Architecture.X86_64, PlatformFlags.IS_64_BIT | PlatformFlags.IS_LITTLE_ENDIAN)


def add_types(prog: Program, types: dict[str, Type]) -> None:
    """Let ``prog`` find ``types`` by name (``"pair"`` is ``struct pair``)."""

    def find_type(prog: Program, kinds: object, name: str, filename: str | None) -> Type | None:
        t = types.get(name)
        return t if t is not None and t.kind in kinds else None  # type: ignore[operator]

    prog.register_type_finder(f"stub-types-{id(types)}", find_type, enable_index=0)


def add_objects(prog: Program, objects: dict[str, Object]) -> None:
    """Let ``prog`` find the globals ``objects`` by name (``prog["jiffies"]``)."""

    def find_object(prog: Program, name: str, flags: object,
                    filename: str | None) -> Object | None:
        return objects.get(name)

    prog.register_object_finder(f"stub-objects-{id(objects)}", find_object, enable_index=0)


class Memory:
    """A zeroed stretch of kernel memory that ``prog`` reads and the test writes."""

    def __init__(self, prog: Program, base: int = DATA, size: int = 0x10000) -> None:
        self.base, self.data, self.free = base, bytearray(size), base
        prog.add_memory_segment(base, size, self._read, False)

    def _read(self, address: int, count: int, offset: int, physical: bool) -> bytes:
        return bytes(self.data[offset : offset + count])

    def write(self, address: int, data: bytes) -> None:
        """Store ``data`` at ``address``."""
        at = address - self.base
        self.data[at : at + len(data)] = data

    def put(self, data: bytes) -> int:
        """Store ``data`` at the next free 16-byte aligned address; return that address."""
        address = self.free
        self.write(address, data)
        self.free += (len(data) + 15) & ~15
        return address


def program() -> Program:
    """Return a Program that knows :data:`SYMBOLS`, ``struct list_head`` and ``struct pair``
    (an int, a bit field and a list_head)."""
    prog = Program(_platform())

    def symbols(prog: Program, name: str | None, address: int | None,
                one: bool) -> list[Symbol]:
        found = [Symbol(n, a, s, SymbolBinding.GLOBAL, k) for n, (a, s, k) in SYMBOLS.items()
                 if (name is None or n == name) and (address is None or a <= address < a + s)]
        return found[:1] if one else found

    prog.register_symbol_finder("stub", symbols, enable_index=0)
    list_head = prog.struct_type("list_head", 16, ())
    ptr = prog.pointer_type(list_head)
    list_head = prog.struct_type("list_head", 16, (TypeMember(ptr, "next", 0),
                                                    TypeMember(ptr, "prev", 64)))
    uint = prog.int_type("unsigned int", 4, False)
    pair = prog.struct_type("pair", 24, (TypeMember(prog.int_type("int", 4, True), "count", 0),
                                         TypeMember(Object(prog, uint, bit_field_size=1),
                                                    "flag", 32),
                                         TypeMember(list_head, "node", 64)))
    add_types(prog, {"list_head": list_head, "pair": pair, "unsigned int": uint})
    return prog


@dataclass(frozen=True)
class StubTask:
    """What a stub task_struct holds: ``state`` is ``__state`` (0 running, 1 interruptible,
    2 uninterruptible, 0x402 idle), ``exit_state`` 0x20 a zombie, ``flags`` PF_*."""

    pid: int
    comm: str
    state: int = 0
    flags: int = 0
    exit_state: int = 0


def tasks_program(tasks: Sequence[StubTask], cpus: int = 2,
                  online: int | None = None) -> tuple[Program, list[Object]]:
    """Return a Program whose memory holds ``tasks`` (as ``struct task_struct`` with
    ``__state``, ``exit_state``, ``flags``, ``pid`` and ``comm``), the kernel's
    ``task_state_array`` and ``cpus`` online CPUs; and each task's ``struct task_struct *``,
    in order. The Program has no task list: a stand-in session lists the tasks."""
    prog = Program(_platform())
    mem = Memory(prog)
    uint, sint = prog.int_type("unsigned int", 4, False), prog.int_type("int", 4, True)
    char, ulong = prog.int_type("char", 1, True), prog.int_type("unsigned long", 8, False)
    task = prog.struct_type("task_struct", 32, (
        TypeMember(uint, "__state", 0), TypeMember(sint, "exit_state", 32),
        TypeMember(uint, "flags", 64), TypeMember(sint, "pid", 96),
        TypeMember(prog.array_type(char, 16), "comm", 128)))
    cpumask = prog.struct_type("cpumask", 8, (TypeMember(prog.array_type(ulong, 1), "bits", 0),))
    add_types(prog, {"task_struct": task, "cpumask": cpumask})
    names = b"".join(mem.put(s.encode() + b"\0").to_bytes(8, "little") for s in TASK_STATE_ARRAY)
    state_array = prog.array_type(prog.pointer_type(char.qualified(Qualifiers.CONST)),
                                  len(TASK_STATE_ARRAY))
    add_objects(prog, {
        "task_state_array": Object(prog, state_array, address=mem.put(names)),
        "__cpu_present_mask": Object(prog, cpumask,
                                     address=mem.put(((1 << cpus) - 1).to_bytes(8, "little"))),
        "__cpu_online_mask": Object(prog, cpumask, address=mem.put(
            ((1 << cpus) - 1 if online is None else online).to_bytes(8, "little"))),
        "nr_cpu_ids": Object(prog, sint, cpus),
    })
    found = []
    for t in tasks:
        raw = b"".join(v.to_bytes(4, "little") for v in (t.state, t.exit_state, t.flags, t.pid))
        address = mem.put(raw + t.comm.encode()[:15].ljust(16, b"\0"))
        found.append(Object(prog, task, address=address).address_of_())
    return prog, found


__all__ = ["Memory", "StubTask", "TypeKind", "add_objects", "add_types", "program",
           "tasks_program"]
