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

What BTF cannot say, compared with DWARF: ``x[0]`` and ``x[]`` are one thing (read
as ``x[0]`` inside a struct, ``x[]`` as its last member, the kernel's usual spellings);
enums' compatible integer type is ``unsigned int`` or ``int`` by its size and sign;
there are no source files, lines, inlined functions, local variables, or types of
global variables other than per-CPU ones (see :mod:`pycrash.kernel.nodebug` for those).
"""

from __future__ import annotations

import array
import bisect
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
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

    Type ids are global: a split blob's first type is ``base.count``. The blob is
    indexed by one pass over its type section (each type's offset and name), kept on
    disk under ``cache_key`` (the kernel's build id) when one is given; names are
    looked up in the string section, so no dictionary of names is built.
    """

    def __init__(self, data: bytes, base: Btf | None = None, name: str = "vmlinux",
                 cache_key: str | None = None) -> None:
        if len(data) < HEADER.size:
            raise BtfError(f"{name}: BTF too short ({len(data)} bytes)")
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
            HEADER.unpack_from(data)
        if magic != MAGIC:
            raise BtfError(f"{name}: no BTF magic (found {magic:#x})")
        t0, s0 = hdr_len + type_off, hdr_len + str_off
        if t0 + type_len > len(data) or s0 + str_len > len(data) or t0 % 4 or type_len % 4:
            raise BtfError(f"{name}: BTF sections run past its {len(data)} bytes")
        self.name = name
        self.base = base
        self.data = data
        self.t0 = t0
        self.words = memoryview(data)[t0:t0 + type_len].cast("I")
        self.strings = data[s0:s0 + str_len]
        self.str_base: int = base.str_end if base is not None else 0
        self.str_end: int = self.str_base + str_len
        self.first: int = base.count if base is not None else 1
        arrays = _cached_index(cache_key, type_len) if cache_key else None
        if arrays is None:
            offsets, name_offs = _scan(self.words, name)
            arrays = [offsets, name_offs]
            if cache_key:  # the vmlinux's: sorted indexes too, kept for the next start
                arrays += [*_by_name(name_offs), *_enum_index(self.words, offsets)]
                _store_index(cache_key, type_len, arrays)
        #: per type (from ``first``): its offset in the type section, in 4-byte words,
        #: and its name's offset in the strings
        self.offsets, self.name_offs = arrays[0], arrays[1]
        #: the type indexes sorted by name offset, and those name offsets (bisection)
        self._by_name = (arrays[2], arrays[3]) if len(arrays) == 6 else None
        #: every enumerator's name offset, sorted, and the index of its enum type
        self._enum_idx = (arrays[4], arrays[5]) if len(arrays) == 6 else None
        self.count: int = self.first + len(self.offsets)
        self._names: dict[str, list[int]] | None = None
        self._enumerators: dict[str, tuple[int, int] | None] = {}
        self._string_offsets: dict[str, int | None] = {}
        self._ids: dict[str, list[int]] = {}

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
        at = btf.offsets[tid - btf.first]
        w = btf.words
        info = w[at + 1]
        return (info >> 24) & 0x1F, info & 0xFFFF, info >> 31, w[at], w[at + 2], \
            btf.t0 + 4 * at + 12

    def string(self, off: int) -> str:
        """The string at offset ``off`` (split blobs continue their base's strings)."""
        if off < self.str_base:
            assert self.base is not None
            return self.base.string(off)
        start = off - self.str_base
        end = self.strings.find(b"\0", start)
        return self.strings[start:end if end >= 0 else None].decode("utf-8", "replace")

    def string_offset(self, name: str) -> int | None:
        """The offset of the string ``name`` in this blob's own strings (BTF keeps each
        string once), or None."""
        if name in self._string_offsets:
            return self._string_offsets[name]
        at = self.strings.find(b"\0" + name.encode() + b"\0")
        found = None if at < 0 else self.str_base + at + 1
        self._string_offsets[name] = found
        return found

    def words_of(self, tid: int, fmt: str, count: int) -> Iterator[tuple[int, ...]]:
        """The ``count`` extra entries of ``tid``, each unpacked with ``fmt``."""
        btf = self.owner(tid)
        st = struct.Struct(fmt)
        pos = btf.t0 + 4 * btf.offsets[tid - btf.first] + 12
        for i in range(count):
            yield st.unpack_from(btf.data, pos + i * st.size)

    # -- look-ups ----------------------------------------------------------

    def ids_named(self, name: str) -> list[int]:
        """The ids of this blob's types named ``name`` (its own, not its base's)."""
        if name in self._ids:
            return self._ids[name]
        found: list[int] = []
        offs = [o for o in (self.string_offset(name),
                            self.base.string_offset(name) if self.base else None)
                if o is not None]
        name_offs = self.name_offs
        for off in offs:
            if self._by_name is not None:  # the types sorted by name: bisect
                order, sorted_offs = self._by_name
                at = bisect.bisect_left(sorted_offs, off)
                while at < len(sorted_offs) and sorted_offs[at] == off:
                    found.append(self.first + order[at])
                    at += 1
                continue
            i = -1
            while True:
                try:
                    i = name_offs.index(off, i + 1)
                except ValueError:
                    break
                found.append(self.first + i)
        found.sort()
        self._ids[name] = found
        return found

    def names(self) -> dict[str, list[int]]:
        """``{name: [type id, ...]}`` of this blob's named types, VARs and FUNCs (for
        completion: built on first use)."""
        if self._names is None:
            names: dict[str, list[int]] = {}
            wanted = set(_NAMED) | {VAR, FUNC}
            for i, name_off in enumerate(self.name_offs):
                if not name_off or self.raw(self.first + i)[0] not in wanted:
                    continue
                names.setdefault(self.string(name_off), []).append(self.first + i)
            self._names = names
        return self._names

    def enumerator(self, name: str) -> tuple[int, int] | None:
        """``(enum type id, value)`` of the enumerator ``name`` in this blob's enums."""
        if name in self._enumerators:
            return self._enumerators[name]
        if self._enum_idx is None:
            self._enum_idx = _enum_index(self.words, self.offsets)
        sorted_offs, owners = self._enum_idx
        found = None
        for off in (self.string_offset(name),
                    self.base.string_offset(name) if self.base else None):
            if off is None:
                continue
            at = bisect.bisect_left(sorted_offs, off)
            while found is None and at < len(sorted_offs) and sorted_offs[at] == off:
                tid = self.first + owners[at]
                kind, vlen, kflag = self.raw(tid)[:3]
                found = next(((tid, value) for ename, value
                              in _enum_values(self, tid, kind, vlen, kflag) if ename == name),
                             None)
                at += 1
            if found is not None:
                break
        self._enumerators[name] = found
        return found

    def find(self, name: str, kinds: set[int]) -> int | None:
        """The id of the first type of one of ``kinds`` named ``name``, a complete one
        before a forward declaration."""
        fwd = None
        for tid in self.ids_named(name):
            kind = self.raw(tid)[0]
            if kind in kinds:
                if kind != FWD:
                    return tid
                fwd = tid if fwd is None else fwd
        return fwd


#: per kind: the words of a btf_type with its fixed extra part, and per ``vlen`` entry
_FIXED_WORDS = [3] * 32
_PER_WORDS = [0] * 32
for _kind, (_fixed, _per) in _EXTRA.items():
    _FIXED_WORDS[_kind] = 3 + _fixed // 4
    _PER_WORDS[_kind] = _per // 4


def _scan(words: memoryview, name: str) -> tuple[array.array[int], array.array[int]]:
    """One pass over a type section (as 4-byte words): each type's offset in words and
    its name's string offset. BtfError when the records do not end at the section's end."""
    offsets: array.array[int] = array.array("I")
    name_offs: array.array[int] = array.array("I")
    add, add_name = offsets.append, name_offs.append
    fixed, per = _FIXED_WORDS, _PER_WORDS
    i, n = 0, len(words)
    try:
        while i < n:
            add(i)
            add_name(words[i])
            info = words[i + 1]
            kind = (info >> 24) & 0x1F
            i += fixed[kind] + per[kind] * (info & 0xFFFF)
    except IndexError:
        raise BtfError(f"{name}: BTF type section damaged") from None
    if i != n:
        raise BtfError(f"{name}: BTF type section damaged")
    return offsets, name_offs


_INDEX_MAGIC = b"PYCBTF03"


def _by_name(name_offs: array.array[int]) -> tuple[array.array[int], array.array[int]]:
    """The type indexes sorted by name offset, and the sorted name offsets."""
    order = array.array("I", sorted(range(len(name_offs)), key=name_offs.__getitem__))
    return order, array.array("I", map(name_offs.__getitem__, order))


def _enum_index(words: memoryview,
                offsets: array.array[int]) -> tuple[array.array[int], array.array[int]]:
    """Every enumerator's name offset (sorted) and the index of the enum type it is in:
    one pass over the enums of a type section."""
    pairs = []
    for i, at in enumerate(offsets):
        info = words[at + 1]
        kind = (info >> 24) & 0x1F
        if kind not in (ENUM, ENUM64):
            continue
        step = 2 if kind == ENUM else 3
        first = at + 3
        for j in range(info & 0xFFFF):
            pairs.append((words[first + j * step], i))
    pairs.sort()
    return array.array("I", (p[0] for p in pairs)), array.array("I", (p[1] for p in pairs))


def _index_path(key: str) -> Path:
    from pycrash.kernel.symcache import cache_dir

    return cache_dir().parent / "btf" / f"{key}.idx"


def _cached_index(key: str, type_len: int) -> list[array.array[int]] | None:
    """The six index arrays stored for ``key`` if they describe a type section of
    ``type_len`` bytes and hang together; None otherwise."""
    try:
        blob = _index_path(key).read_bytes()
    except OSError:
        return None
    if blob[:8] != _INDEX_MAGIC or len(blob) < 8 + 4 * 8:
        return None
    length, n, *counts = struct.unpack_from("<8I", blob, 8)
    if length != type_len or n != 6 or len(blob) != 40 + 4 * sum(counts):
        return None
    arrays, pos = [], 40
    for count in counts:
        a: array.array[int] = array.array("I")
        a.frombytes(blob[pos:pos + 4 * count])
        arrays.append(a)
        pos += 4 * count
    offsets, name_offs, order, sorted_offs, enum_offs, owners = arrays
    count = len(offsets)
    if (len(name_offs), len(order), len(sorted_offs)) != (count,) * 3 \
            or len(owners) != len(enum_offs) \
            or (count and (offsets[-1] * 4 >= type_len or max(order) >= count)) \
            or (owners and max(owners) >= count):
        return None
    return arrays


def _store_index(key: str, type_len: int, arrays: list[array.array[int]]) -> None:
    """Keep the index on disk (best effort: a read-only cache is no error)."""
    try:
        path = _index_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(_INDEX_MAGIC + struct.pack("<8I", type_len, len(arrays),
                                                   *(len(a) for a in arrays))
                        + b"".join(a.tobytes() for a in arrays))
        tmp.replace(path)
    except OSError:
        pass  # no cache: still correct, only slower next time


def _enum_values(btf: Btf, tid: int, kind: int, vlen: int,
                 signed: int) -> Iterator[tuple[str, int]]:
    if kind == ENUM:
        for name_off, value in btf.words_of(tid, "<Ii" if signed else "<II", vlen):
            yield btf.string(name_off), value
    else:
        for name_off, lo, hi in btf.words_of(tid, "<III", vlen):
            value = lo | hi << 32
            if signed and value >= 1 << 63:
                value -= 1 << 64
            yield btf.string(name_off), value


#: The names compilers give C's integer types (DWARF's and so BTF's spelling).
_INT_SPELLINGS = ("char", "signed char", "unsigned char", "short int", "short unsigned int",
                  "int", "unsigned int", "long int", "long unsigned int", "long long int",
                  "long long unsigned int", "__int128", "__int128 unsigned", "_Bool")


def _int_key(name: str) -> tuple[str, ...]:
    """One key for every spelling of a C integer type (``unsigned long`` and ``long
    unsigned int`` alike): its words sorted, ``int`` and a non-char ``signed`` dropped."""
    words = name.split()
    if "char" not in words:
        words = [w for w in words if w not in ("int", "signed")] or ["int"]
    return tuple(sorted(words))


_AGGREGATES = TypeKindSet({TypeKind.STRUCT, TypeKind.UNION, TypeKind.ENUM, TypeKind.TYPEDEF})


class BtfTypes:
    """drgn types made from BTF blobs (the vmlinux's and its modules'), on demand."""

    def __init__(self, prog: Program, vmlinux: Btf, complete: bool = False) -> None:
        self.prog = prog
        #: whether a struct, union, enum or typedef BTF lacks is missing for good (pahole
        #: encodes every one of the vmlinux's DWARF): the type finder says so, rather
        #: than let drgn index the DWARF to find nothing either (base types BTF lacks,
        #: such as ``__int128`` on some kernels, still go on to the DWARF)
        self.complete = complete
        self.vmlinux = vmlinux
        self.modules: dict[str, Btf] = {}
        #: reads the modules' BTF into :attr:`modules`; called once, when first needed
        self.module_loader: Callable[[], Any] | None = None
        self._made: dict[tuple[int, int], Type] = {}  # (id of blob, type id) -> Type
        self._found: dict[tuple[str, frozenset[TypeKind]], Type | None] = {}
        self._making: set[tuple[int, int]] = set()  # types being made: a cycle is damage
        self._ints: dict[tuple[str, ...], str] | None = None

    def blobs(self) -> list[Btf]:
        """The vmlinux's blob, then the modules' (read now if not yet)."""
        loader, self.module_loader = self.module_loader, None
        if loader is not None:
            loader()
        return [self.vmlinux, *self.modules.values()]

    def _first(self) -> Iterator[Btf]:
        """The vmlinux's blob, then (only if asked for) the modules'."""
        yield self.vmlinux
        yield from self.blobs()[1:]

    def type(self, btf: Btf, tid: int, quals: Qualifiers = Qualifiers.NONE) -> Type:
        """The drgn Type of BTF type ``tid`` in ``btf``, with ``quals`` added."""
        owner = btf.owner(tid) if tid else btf
        key = (id(owner), tid)
        made = self._made.get(key)
        if made is None:
            if key in self._making:  # a damaged blob: a pointer to itself, say
                raise BtfError(f"{owner.name}: BTF type {tid} refers to itself")
            self._making.add(key)
            try:
                kind = owner.raw(tid)[0] if tid else 0
                if kind in (VOLATILE, CONST, RESTRICT, TYPE_TAG):
                    return self._qualified(btf, tid, quals)
                made = self._make(btf, tid)
            finally:
                self._making.discard(key)
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
            members = [self._member(btf, name_off, mtype, offset, kflag, i < vlen - 1)
                       for i, (name_off, mtype, offset)
                       in enumerate(btf.words_of(tid, "<III", vlen))]
            make = prog.struct_type if kind == STRUCT else prog.union_type
            return make(name, size, members)
        if kind in (ENUM, ENUM64):
            values = list(_enum_values(btf, tid, kind, vlen, kflag))
            signed = bool(kflag) or any(v < 0 for _n, v in values)
            compat = prog.int_type(("" if signed else "unsigned ") + (
                "int" if size <= 4 else "long"), size, signed)
            return prog.enum_type(name, compat, [TypeEnumerator(n, v) for n, v in values])
        if kind == FWD:  # the one complete definition of that name, as drgn does DWARF's
            want = UNION if kflag else STRUCT
            found = [(b, t) for b in self._first() for t in b.ids_named(name or "")
                     if b.raw(t)[0] == want]
            if len(found) == 1:
                return self.type(*found[0])
            return (prog.union_type if kflag else prog.struct_type)(name)
        if kind == TYPEDEF:
            return prog.typedef_type(name or "", self.type(btf, size))
        if kind == FUNC:
            return self.type(btf, size)
        if kind == FUNC_PROTO:
            params = list(btf.words_of(tid, "<II", vlen))
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
                kflag: int, inner: bool = False) -> TypeMember:
        """A struct's or union's member; ``inner``: not the last one, where an array of
        no elements is ``x[0]`` (a flexible ``x[]`` can only end a struct)."""
        bits = offset >> 24 if kflag else 0
        bit_offset = offset & 0xFFFFFF if kflag else offset
        name = btf.string(name_off) if name_off else None
        if bits:
            def field() -> Any:
                return Object(self.prog, self.type(btf, tid), bit_field_size=bits)
            return TypeMember(field, name, bit_offset)
        if inner and tid:
            kind, _v, _k, _n, _s, extra = btf.raw(tid)
            if kind == ARRAY and not struct.unpack_from("<I", btf.owner(tid).data,
                                                        extra + 8)[0]:
                elem = struct.unpack_from("<I", btf.owner(tid).data, extra)[0]
                return TypeMember(lambda: self.prog.array_type(self.type(btf, elem), 0),
                                  name, bit_offset)
        return TypeMember(self._lazy(btf, tid), name, bit_offset)

    # -- look-ups by name ---------------------------------------------------

    def find(self, kinds: TypeKindSet, name: str) -> Type | None:
        """The type named ``name`` of one of drgn's ``kinds``, from the vmlinux's BTF
        first, then the modules'; an integer type by any spelling of it (drgn asks for
        ``unsigned long``, BTF names it ``long unsigned int``)."""
        key = (name, frozenset(kinds))
        if key in self._found:
            return self._found[key]
        found = self._find(kinds, name)
        if found is None and TypeKind.INT in kinds:
            spelled = self._int_names().get(_int_key(name))
            if spelled is not None and spelled != name:
                found = self._find(kinds, spelled)
        self._found[key] = found
        return found

    def _int_names(self) -> dict[tuple[str, ...], str]:
        """The vmlinux BTF's integer type names by :func:`_int_key`."""
        if self._ints is None:
            self._ints = {}
            for spelling in _INT_SPELLINGS:
                tid = self.vmlinux.find(spelling, {INT})
                if tid is not None:
                    self._ints.setdefault(_int_key(spelling), spelling)
        return self._ints

    def _find(self, kinds: TypeKindSet, name: str) -> Type | None:
        wanted = {k for k, tk in _NAMED.items() if tk in kinds}
        if TypeKind.BOOL in kinds:
            wanted.add(INT)
        if not wanted:
            return None
        for btf in self._first():
            tid = btf.find(name, wanted)
            if tid is not None:
                t = self.type(btf, tid)
                if t.kind in kinds:
                    return t
        return None

    def find_named(self, name: str, kind: int) -> tuple[Btf, int] | None:
        """The blob and id of the VAR or FUNC named ``name``."""
        for btf in self._first():
            for tid in btf.ids_named(name):
                if btf.raw(tid)[0] == kind:
                    return btf, tid
        return None

    def enumerator(self, name: str) -> Object | None:
        """The enumerator constant ``name`` as a drgn Object of its enum type."""
        for btf in self._first():
            found = btf.enumerator(name)
            if found is not None:
                tid, value = found
                return Object(self.prog, self.type(btf, tid), value)
        return None

    def type_finder(self, prog: Program, kinds: TypeKindSet, name: str,
                    filename: str | None) -> Type | None:
        """drgn's type finder callback: the type, or None for the next finder; with
        :attr:`complete`, LookupError for a struct, union, enum or typedef it lacks."""
        found = self.find(kinds, name)
        if found is None and self.complete and kinds & _AGGREGATES:
            kind = next((k for k in ("struct", "union", "enum")
                         if getattr(TypeKind, k.upper()) in kinds), "")
            raise LookupError(f"could not find '{kind} {name}'".replace("' ", "'"))
        return found
