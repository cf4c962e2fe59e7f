"""The kernel's BTF (BPF Type Format), parsed by pycrash and served to drgn as types.

A kernel built with CONFIG_DEBUG_INFO_BTF keeps a compact description of its types
in memory, between ``__start_BTF`` and ``__stop_BTF``; modules carry their own,
"split" over the vmlinux's (type ids and string offsets continue the vmlinux's).
This module reads a blob (header, type section, string section), indexes the
named types once, and builds drgn :class:`drgn.Type` objects lazily: a struct's
members are made when first touched, so looking up ``struct task_struct`` builds
one type, not the kernel's.

Kinds read: INT, PTR, ARRAY, STRUCT, UNION (bitfields through ``kind_flag``), ENUM,
ENUM64, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC,
FLOAT, DECL_TAG (skipped), TYPE_TAG (skipped: a type tag qualifies nothing drgn
knows).

What BTF cannot say, compared with DWARF: ``x[0]`` and ``x[]`` are one thing (both
read as ``x[]``, the kernel's usual spelling); enums' compatible integer type is
``unsigned int`` or ``int`` by its size and sign; there are no source files, lines,
inlined functions, local variables, or types of global variables other than
per-CPU ones (see :mod:`pycrash.kernel.nodebug` for those).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from drgn import (
    Object,
    Program,
    Qualifiers,
    Type,
    TypeEnumerator,
    TypeKind,
    TypeKindSet,
    TypeMember,
    TypeParameter,
)

MAGIC = 0xEB9F
HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len type_off type_len str_off str_len
TYPE = struct.Struct("<III")  # name_off info size|type

(INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC,
 FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64) = range(1, 20)

#: Bytes after the 12-byte btf_type: a fixed part, and per ``vlen`` entry.
_EXTRA = {INT: (4, 0), ARRAY: (12, 0), STRUCT: (0, 12), UNION: (0, 12), ENUM: (0, 8),
          FUNC_PROTO: (0, 8), VAR: (4, 0), DATASEC: (0, 12), DECL_TAG: (4, 0),
          ENUM64: (0, 12)}

#: The kinds a name is looked up by (drgn's TypeKind for each).
_NAMED = {STRUCT: TypeKind.STRUCT, UNION: TypeKind.UNION, ENUM: TypeKind.ENUM,
          ENUM64: TypeKind.ENUM, TYPEDEF: TypeKind.TYPEDEF, INT: TypeKind.INT,
          FLOAT: TypeKind.FLOAT, FWD: TypeKind.STRUCT}


class BtfError(ValueError):
    """A blob that is not BTF, or is damaged."""


class Btf:
    """One BTF blob: the vmlinux's, or a module's split over ``base``.

    Type ids are global: a split blob's first type is ``base.count``.
    """

    def __init__(self, data: bytes, base: Btf | None = None, name: str = "vmlinux") -> None:
        if len(data) < HEADER.size:
            raise BtfError(f"{name}: BTF too short ({len(data)} bytes)")
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
            HEADER.unpack_from(data)
        if magic != MAGIC:
            raise BtfError(f"{name}: no BTF magic (found {magic:#x})")
        t0, s0 = hdr_len + type_off, hdr_len + str_off
        if t0 + type_len > len(data) or s0 + str_len > len(data):
            raise BtfError(f"{name}: BTF sections run past its {len(data)} bytes")
        self.name = name
        self.base = base
        self.data = data
        self.strings = data[s0:s0 + str_len]
        self.str_base: int = base.str_end if base is not None else 0
        self.str_end: int = self.str_base + str_len
        self.first: int = base.count if base is not None else 1
        self.offsets: list[int] = []
        self.infos: list[int] = []
        pos, end = t0, t0 + type_len
        unpack = TYPE.unpack_from
        extra = _EXTRA
        while pos < end:
            _n, info, _s = unpack(data, pos)
            self.offsets.append(pos)
            self.infos.append(info)
            fixed, per = extra.get((info >> 24) & 0x1F, (0, 0))
            pos += 12 + fixed + per * (info & 0xFFFF)
        if pos != end:
            raise BtfError(f"{name}: BTF type section damaged")
        self.count: int = self.first + len(self.offsets)
        self._names: dict[str, list[int]] | None = None
        self._enumerators: dict[str, tuple[int, int]] | None = None

    # -- raw access --------------------------------------------------------

    def owner(self, tid: int) -> Btf:
        """The blob holding type ``tid`` (this one or a base)."""
        btf: Btf | None = self
        while btf is not None and tid < btf.first:
            btf = btf.base
        if btf is None or tid >= btf.count:
            raise BtfError(f"{self.name}: no BTF type {tid}")
        return btf

    def raw(self, tid: int) -> tuple[int, int, int, int, int, int]:
        """``(kind, vlen, kind_flag, name_off, size_or_type, extra offset)`` of ``tid``."""
        btf = self.owner(tid)
        pos = btf.offsets[tid - btf.first]
        name_off, info, size = TYPE.unpack_from(btf.data, pos)
        return (info >> 24) & 0x1F, info & 0xFFFF, info >> 31, name_off, size, pos + 12

    def string(self, off: int) -> str:
        """The string at offset ``off`` (split blobs continue their base's strings)."""
        if off < self.str_base:
            assert self.base is not None
            return self.base.string(off)
        start = off - self.str_base
        end = self.strings.find(b"\0", start)
        return self.strings[start:end if end >= 0 else None].decode("utf-8", "replace")

    def words(self, tid: int, fmt: str, count: int) -> Iterator[tuple[int, ...]]:
        """The ``count`` extra entries of ``tid``, each unpacked with ``fmt``."""
        btf = self.owner(tid)
        st = struct.Struct(fmt)
        pos = btf.offsets[tid - btf.first] + 12
        for i in range(count):
            yield st.unpack_from(btf.data, pos + i * st.size)

    # -- indexes -------------------------------------------------------------

    def names(self) -> dict[str, list[int]]:
        """``{name: [type id, ...]}`` of this blob's named types, VARs and FUNCs."""
        if self._names is None:
            names: dict[str, list[int]] = {}
            wanted = set(_NAMED) | {VAR, FUNC}
            unpack, data, strings = TYPE.unpack_from, self.data, self.strings
            for i, info in enumerate(self.infos):
                if (info >> 24) & 0x1F not in wanted:
                    continue
                name_off = unpack(data, self.offsets[i])[0]
                if name_off < self.str_base or not name_off:
                    continue
                s = name_off - self.str_base
                name = strings[s:strings.find(b"\0", s)].decode("utf-8", "replace")
                names.setdefault(name, []).append(self.first + i)
            self._names = names
        return self._names

    def enumerators(self) -> dict[str, tuple[int, int]]:
        """``{enumerator name: (enum type id, value)}`` of this blob's enums."""
        if self._enumerators is None:
            found: dict[str, tuple[int, int]] = {}
            for i, info in enumerate(self.infos):
                kind = (info >> 24) & 0x1F
                if kind not in (ENUM, ENUM64):
                    continue
                tid = self.first + i
                for name, value in _enum_values(self, tid, kind, info & 0xFFFF, info >> 31):
                    found.setdefault(name, (tid, value))
            self._enumerators = found
        return self._enumerators

    def find(self, name: str, kinds: set[int]) -> int | None:
        """The id of the first type of one of ``kinds`` named ``name``, a complete one
        before a forward declaration."""
        fwd = None
        for tid in self.names().get(name, ()):
            kind = self.raw(tid)[0]
            if kind in kinds:
                if kind != FWD:
                    return tid
                fwd = tid if fwd is None else fwd
        return fwd


def _enum_values(btf: Btf, tid: int, kind: int, vlen: int,
                 signed: int) -> Iterator[tuple[str, int]]:
    if kind == ENUM:
        for name_off, value in btf.words(tid, "<Ii" if signed else "<II", vlen):
            yield btf.string(name_off), value
    else:
        for name_off, lo, hi in btf.words(tid, "<III", vlen):
            value = lo | hi << 32
            if signed and value >= 1 << 63:
                value -= 1 << 64
            yield btf.string(name_off), value


class BtfTypes:
    """drgn types made from BTF blobs (the vmlinux's and its modules'), on demand."""

    def __init__(self, prog: Program, vmlinux: Btf) -> None:
        self.prog = prog
        self.vmlinux = vmlinux
        self.modules: dict[str, Btf] = {}
        self._made: dict[tuple[int, int], Type] = {}  # (id of blob, type id) -> Type

    def blobs(self) -> list[Btf]:
        """The vmlinux's blob, then the modules'."""
        return [self.vmlinux, *self.modules.values()]

    def type(self, btf: Btf, tid: int, quals: Qualifiers = Qualifiers.NONE) -> Type:
        """The drgn Type of BTF type ``tid`` in ``btf``, with ``quals`` added."""
        owner = btf.owner(tid) if tid else btf
        key = (id(owner), tid)
        made = self._made.get(key)
        if made is None:
            kind = owner.raw(tid)[0] if tid else 0
            if kind in (VOLATILE, CONST, RESTRICT, TYPE_TAG):
                return self._qualified(btf, tid, quals)
            made = self._make(btf, tid)
            self._made[key] = made
        return made.qualified(made.qualifiers | quals) if quals else made

    def _qualified(self, btf: Btf, tid: int, quals: Qualifiers) -> Type:
        kind, _v, _k, _n, target, _x = btf.raw(tid)
        add = {VOLATILE: Qualifiers.VOLATILE, CONST: Qualifiers.CONST,
               RESTRICT: Qualifiers.RESTRICT}.get(kind, Qualifiers.NONE)
        return self.type(btf, target, quals | add)

    def _make(self, btf: Btf, tid: int) -> Type:
        prog = self.prog
        if tid == 0:
            return prog.void_type()
        kind, vlen, kflag, name_off, size, extra = btf.raw(tid)
        name = btf.string(name_off) if name_off else None
        data = btf.owner(tid).data
        if kind == INT:
            (enc,) = struct.unpack_from("<I", data, extra)
            encoding = (enc >> 24) & 0xF
            if encoding & 4:
                return prog.bool_type(name or "_Bool", size)
            return prog.int_type(name or "int", size, bool(encoding & 1))
        if kind == FLOAT:
            return prog.float_type(name or "double", size)
        if kind == PTR:
            return prog.pointer_type(self.type(btf, size))
        if kind == ARRAY:
            elem, _index, nelems = struct.unpack_from("<III", data, extra)
            return prog.array_type(self.type(btf, elem), nelems or None)
        if kind in (STRUCT, UNION):
            members = [self._member(btf, name_off, mtype, offset, kflag)
                       for name_off, mtype, offset in btf.words(tid, "<III", vlen)]
            make = prog.struct_type if kind == STRUCT else prog.union_type
            return make(name, size, members)
        if kind in (ENUM, ENUM64):
            values = list(_enum_values(btf, tid, kind, vlen, kflag))
            signed = bool(kflag) or any(v < 0 for _n, v in values)
            compat = prog.int_type(("" if signed else "unsigned ") + (
                "int" if size <= 4 else "long"), size, signed)
            return prog.enum_type(name, compat, [TypeEnumerator(n, v) for n, v in values])
        if kind == FWD:
            return (prog.union_type if kflag else prog.struct_type)(name)
        if kind == TYPEDEF:
            return prog.typedef_type(name or "", self.type(btf, size))
        if kind == FUNC:
            return self.type(btf, size)
        if kind == FUNC_PROTO:
            params = list(btf.words(tid, "<II", vlen))
            variadic = bool(params) and params[-1] == (0, 0)
            if variadic:
                params.pop()
            return prog.function_type(
                self.type(btf, size),
                [TypeParameter(self._lazy(btf, ptype), btf.string(pname) if pname else None)
                 for pname, ptype in params], variadic)
        if kind == VAR:
            return self.type(btf, size)
        raise BtfError(f"BTF type {tid} of kind {kind} is not a type drgn has")

    def _lazy(self, btf: Btf, tid: int) -> Callable[[], Type]:
        return lambda: self.type(btf, tid)

    def _member(self, btf: Btf, name_off: int, tid: int, offset: int,
                kflag: int) -> TypeMember:
        bits = offset >> 24 if kflag else 0
        bit_offset = offset & 0xFFFFFF if kflag else offset
        name = btf.string(name_off) if name_off else None
        if bits:
            def field() -> Any:
                return Object(self.prog, self.type(btf, tid), bit_field_size=bits)
            return TypeMember(field, name, bit_offset)
        return TypeMember(self._lazy(btf, tid), name, bit_offset)

    # -- look-ups by name ---------------------------------------------------

    def find(self, kinds: TypeKindSet, name: str) -> Type | None:
        """The type named ``name`` of one of drgn's ``kinds``, from the vmlinux's BTF
        first, then the modules'."""
        wanted = {k for k, tk in _NAMED.items() if tk in kinds}
        if TypeKind.BOOL in kinds:
            wanted.add(INT)
        if not wanted:
            return None
        for btf in self.blobs():
            tid = btf.find(name, wanted)
            if tid is not None:
                t = self.type(btf, tid)
                if t.kind in kinds:
                    return t
        return None

    def find_named(self, name: str, kind: int) -> tuple[Btf, int] | None:
        """The blob and id of the VAR or FUNC named ``name``."""
        for btf in self.blobs():
            for tid in btf.names().get(name, ()):
                if btf.raw(tid)[0] == kind:
                    return btf, tid
        return None

    def enumerator(self, name: str) -> Object | None:
        """The enumerator constant ``name`` as a drgn Object of its enum type."""
        for btf in self.blobs():
            found = btf.enumerators().get(name)
            if found is not None:
                tid, value = found
                return Object(self.prog, self.type(btf, tid), value)
        return None

    def type_finder(self, prog: Program, kinds: TypeKindSet, name: str,
                    filename: str | None) -> Type | None:
        """drgn's type finder callback."""
        return self.find(kinds, name)
