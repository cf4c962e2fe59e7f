"""Loaded eBPF programs and maps (``prog_idr``, ``map_idr``), as crash's ``bpf`` lists them."""

from __future__ import annotations

from dataclasses import dataclass

from drgn import FaultError, Object, Program

from pycrash.kernel.walk import idr_entries
from pycrash.records import Hex


@dataclass(frozen=True)
class BpfProg:
    """A loaded program: id, bpf_prog and bpf_prog_aux, type (the enum's name without
    BPF_PROG_TYPE_), tag (hex), the ids of the maps it uses, translated and jited sizes in
    bytes, pages locked, load time (ns since boot), GPL compatibility, name and uid."""

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


def _enum_name(obj: Object, prefix: str) -> str:
    value = obj.value_()
    for e in obj.type_.enumerators or ():
        if e.value == value:
            return e.name.removeprefix(prefix)
    return str(value)


def type_names(prog: Program, enum: str, prefix: str) -> list[str]:
    """The names of an enum's values without ``prefix`` (for the column width)."""
    try:
        return [e.name.removeprefix(prefix) for e in prog.type(f"enum {enum}").enumerators or ()]
    except LookupError:
        return []


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
    for index, addr in _entries(prog, "prog_idr"):
        p = Object(prog, "struct bpf_prog *", addr)
        aux = p.aux
        used = aux.used_maps
        maps = [int(used[i].id.value_()) for i in range(int(aux.used_map_cnt.value_()))]
        user = _member(aux, "user")
        name = _member(aux, "name")
        out.append(BpfProg(
            index, addr, aux.value_(), _enum_name(p.type, "BPF_PROG_TYPE_"),
            bytes(p.tag.value_()).hex(), maps, int(p.len.value_()) * insn,
            int(p.jited_len.value_()), int(p.pages.value_()),
            int(aux.load_time.value_()), bool(p.gpl_compatible.value_()),
            name.string_().decode("utf-8", "replace") if name is not None else "",
            _uid(user) if user is not None else None))
    return out


def bpf_maps(prog: Program) -> list[BpfMap]:
    """Every map, by id."""
    out = []
    for index, addr in _entries(prog, "map_idr"):
        m = Object(prog, "struct bpf_map *", addr)
        name = _member(m, "name")
        user = _member(m, "user")
        out.append(BpfMap(
            index, addr, _enum_name(m.map_type, "BPF_MAP_TYPE_"), int(m.map_flags.value_()),
            int(m.key_size.value_()), int(m.value_size.value_()),
            int(m.max_entries.value_()),
            name.string_().decode("utf-8", "replace") if name is not None else "",
            _uid(user) if user is not None else None))
    return out
