"""Loaded eBPF programs and maps (``prog_idr``, ``map_idr``), as crash's ``bpf`` lists them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drgn import FaultError, Object, Program
from drgn.helpers.linux.cpumask import for_each_possible_cpu
from drgn.helpers.linux.timekeeping import ktime_get_coarse_boottime_ns, ktime_get_coarse_real_ns

from pycrash.kernel.walk import idr_entries
from pycrash.records import Hex


@dataclass(frozen=True)
class BpfProg:
    """A loaded program: id, bpf_prog and bpf_prog_aux, type (the enum's name without
    BPF_PROG_TYPE_), tag (hex), the ids of the maps it uses, translated and jited sizes in
    bytes, pages locked, load time (ns since boot), GPL compatibility, name and uid; the
    bytes locked (pages times the page size, as the kernel's fdinfo memlock; None where the
    kernel keeps no count), the load time as wall-clock seconds since the epoch (from the
    dump's clocks) and the address of its jited code (bpf_func)."""

    id: int
    bpf_prog: Hex
    bpf_prog_aux: Hex
    type: str
    tag: str
    used_maps: list[int]
    xlated: int
    jited: int
    pages: int
    load_time_ns: int
    gpl_compatible: bool
    name: str
    uid: int | None
    memlock: int | None = None
    load_time: int | None = None
    bpf_func: Hex = Hex(0)


@dataclass(frozen=True)
class BpfMap:
    """A map: id, bpf_map, type (without BPF_MAP_TYPE_), map_flags, key and value sizes,
    maximum entries, name and uid (None where the kernel keeps none)."""

    id: int
    bpf_map: Hex
    type: str
    flags: int
    key_size: int
    value_size: int
    max_entries: int
    name: str
    uid: int | None
    memlock: int | None = None


def _entries(prog: Program, idr: str) -> list[tuple[int, int]]:
    try:
        root = prog[idr].address_of_()
    except KeyError:
        return []
    out = []
    for index, entry in idr_entries(root, f"the {idr}"):
        if entry.value_():
            out.append((int(index), int(entry.value_())))
    return out


def _page_size(prog: Program) -> int:
    try:
        return int(prog["PAGE_SIZE"].value_())
    except KeyError:
        return 4096


def boot_wall_ns(prog: Program) -> int | None:
    """The wall-clock time of boot (ns since the epoch): the timekeeper's real time less
    its boot time (a program's load_time counts from boot: ktime_get_boottime_ns)."""
    try:
        return int(ktime_get_coarse_real_ns(prog).value_()
                   - ktime_get_coarse_boottime_ns(prog).value_())
    except (LookupError, FaultError):
        return None


#: bpf_map_type values whose value is per CPU, and those whose value is a file descriptor
PERCPU_MAPS = ("PERCPU_HASH", "PERCPU_ARRAY", "LRU_PERCPU_HASH", "PERCPU_CGROUP_STORAGE")
FD_MAPS = ("PROG_ARRAY", "PERF_EVENT_ARRAY", "CGROUP_ARRAY", "ARRAY_OF_MAPS", "HASH_OF_MAPS")


def map_memlock(prog: Program, m: Object, type_name: str) -> int | None:
    """The bytes a map charges: its ``memory.pages`` (5.3 to 5.10) or ``pages`` (before)
    times the page size, else as the kernel's bpf_map_memory_footprint counts them:
    key and value rounded up to 8 bytes, times max_entries, rounded up to a page (a per-CPU
    value once per possible CPU, a file descriptor map's value a u32)."""
    page = _page_size(prog)
    for path in ("memory.pages", "pages"):
        try:
            return int(m[0].subobject_(path).value_()) * page
        except LookupError:
            continue
    value = int(m.value_size.value_())
    if type_name in PERCPU_MAPS:
        try:
            cpus = int(prog["__num_possible_cpus"].value_())
        except KeyError:
            cpus = len(list(for_each_possible_cpu(prog)))
        value = (value + 7) // 8 * 8 * cpus
    elif type_name in FD_MAPS:
        value = 4
    size = (int(m.key_size.value_()) + value + 7) // 8 * 8
    return -(-size * int(m.max_entries.value_()) // page) * page


def xlated_insns(prog: Program, p: BpfProg) -> bytes:
    """A program's translated bytecode (``bpf_prog.insnsi``, ``len`` instructions)."""
    obj = Object(prog, "struct bpf_prog *", p.bpf_prog)
    return prog.read(obj.insnsi.address_, p.xlated)


def helper_names(prog: Program) -> Callable[[int], str | None]:
    """``name(id)``: a BPF helper's name by id (the kernel's func_id_str[], below
    __BPF_FUNC_MAX_ID), as crash names a call."""
    try:
        table = prog["func_id_str"]
        top = int(prog.constant("__BPF_FUNC_MAX_ID").value_())
    except LookupError:
        return lambda imm: None

    def name(imm: int) -> str | None:
        if not 0 <= imm < top:
            return None
        try:
            return table[imm].string_().decode(errors="replace")
        except FaultError:
            return None
    return name


def call_target(prog: Program) -> Callable[[int], str | None]:
    """``name(imm)``: the kernel function a fixed-up call calls, at __bpf_call_base + imm
    (only a symbol's start names it)."""
    try:
        base = prog.symbol("__bpf_call_base").address
    except LookupError:
        return lambda imm: None

    def name(imm: int) -> str | None:
        try:
            sym = prog.symbol(base + imm)
        except LookupError:
            return None
        return sym.name if sym.address == base + imm else None
    return name


def jited_code(prog: Program, p: BpfProg) -> bytes:
    """A program's JIT code (``jited_len`` bytes at ``bpf_func``)."""
    return prog.read(p.bpf_func, p.jited) if p.jited and p.bpf_func else b""


def _enum_name(obj: Object, prefix: str) -> str:
    value = obj.value_()
    for e in obj.type_.enumerators or ():
        if e.value == value:
            return e.name.removeprefix(prefix)
    return str(value)


def type_names(prog: Program, enum: str, prefix: str) -> list[str]:
    """The names of an enum's values without ``prefix``."""
    try:
        return [e.name.removeprefix(prefix) for e in prog.type(f"enum {enum}").enumerators or ()]
    except LookupError:
        return []


def type_width(prog: Program, enum: str) -> int:
    """crash's column width of a program or map type: the longest of the enum's names
    (``__MAX_...`` too) less the length of "BPF_PROG_TYPE_" (crash takes that prefix for
    the map types too, so their column is a character narrower than its names)."""
    try:
        names = [e.name for e in prog.type(f"enum {enum}").enumerators or ()]
    except LookupError:
        return 12
    return max(map(len, names), default=26) - len("BPF_PROG_TYPE_")


def _uid(user: Object) -> int | None:
    try:
        return int(user.uid.val.value_()) if user else None
    except (LookupError, FaultError):
        return None


def _member(obj: Object, name: str) -> Object | None:
    try:
        return obj.member_(name)
    except LookupError:
        return None


def bpf_programs(prog: Program) -> list[BpfProg]:
    """Every loaded program, by id."""
    out = []
    insn = prog.type("struct bpf_insn").size
    boot = boot_wall_ns(prog)
    page = _page_size(prog)
    for index, addr in _entries(prog, "prog_idr"):
        p = Object(prog, "struct bpf_prog *", addr)
        aux = p.aux
        used = aux.used_maps
        maps = [int(used[i].id.value_()) for i in range(int(aux.used_map_cnt.value_()))]
        user = _member(aux, "user")
        name = _member(aux, "name")
        pages = _member(p, "pages")
        load = int(aux.load_time.value_())
        out.append(BpfProg(
            index, addr, aux.value_(), _enum_name(p.type, "BPF_PROG_TYPE_"),
            bytes(p.tag.value_()).hex(), maps, int(p.len.value_()) * insn,
            int(p.jited_len.value_()), int(pages.value_()) if pages is not None else 0,
            load, bool(p.gpl_compatible.value_()),
            name.string_().decode("utf-8", "replace") if name is not None else "",
            _uid(user) if user is not None else None,
            int(pages.value_()) * page if pages is not None else None,
            (boot + load) // 1_000_000_000 if boot is not None else None,
            int(p.bpf_func.value_())))
    return out


def bpf_maps(prog: Program) -> list[BpfMap]:
    """Every map, by id."""
    out = []
    for index, addr in _entries(prog, "map_idr"):
        m = Object(prog, "struct bpf_map *", addr)
        name = _member(m, "name")
        user = _member(m, "user")
        kind = _enum_name(m.map_type, "BPF_MAP_TYPE_")
        out.append(BpfMap(
            index, addr, kind, int(m.map_flags.value_()),
            int(m.key_size.value_()), int(m.value_size.value_()),
            int(m.max_entries.value_()),
            name.string_().decode("utf-8", "replace") if name is not None else "",
            _uid(user) if user is not None else None, map_memlock(prog, m, kind)))
    return out
