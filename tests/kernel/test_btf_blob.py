"""The BTF parser on a hand-built blob (issue 16): every kind pycrash types from, the
look-ups by name (bisection and linear), enumerators, the on-disk index and its
checks, and damaged blobs. The real kernels' BTF is tested in test_nodebug.py and
test_btf_start.py; this is the parser's own, fast tier."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from drgn import Architecture, Platform, PlatformFlags, Program, TypeKind

from pycrash.kernel import btf as btfmod
from pycrash.kernel.btf import (
    ARRAY,
    CONST,
    ENUM,
    FUNC,
    FUNC_PROTO,
    FWD,
    INT,
    PTR,
    STRUCT,
    TYPEDEF,
    VAR,
    Btf,
    BtfError,
    BtfTypes,
)

pytestmark = pytest.mark.fast


class Blob:
    """A BTF blob built type by type (ids from 1), as pahole lays it out."""

    def __init__(self) -> None:
        self.types = b""
        self.strings = b"\0"
        self.count = 0

    def s(self, name: str) -> int:
        if not name:
            return 0
        key = name.encode() + b"\0"
        at = self.strings.find(b"\0" + key)
        if at >= 0:
            return at + 1
        self.strings += key
        return len(self.strings) - len(key)

    def add(self, kind: int, name: str, vlen: int, size_or_type: int, extra: bytes = b"",
            kflag: int = 0) -> int:
        self.types += struct.pack("<III", self.s(name), kind << 24 | vlen | kflag << 31,
                                  size_or_type) + extra
        self.count += 1
        return self.count

    def bytes(self) -> bytes:
        header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types),
                             len(self.types), len(self.strings))
        return header + self.types + self.strings


def sample() -> tuple[bytes, dict[str, int]]:
    """A blob with ints, a struct with a bitfield and a pointer to itself, a typedef, an
    enum, an array, a const, a function and its prototype, a forward declaration named
    like the struct, and a per-CPU variable."""
    b = Blob()
    ids: dict[str, int] = {}
    ids["int"] = b.add(INT, "int", 0, 4, struct.pack("<I", 1 << 24 | 32))  # signed
    ids["ulong"] = b.add(INT, "long unsigned int", 0, 8, struct.pack("<I", 64))
    ids["fwd"] = b.add(FWD, "node", 0, 0)
    ids["ptr"] = b.add(PTR, "", 0, ids["fwd"] + 2)  # -> struct node (the next id)
    members = struct.pack("<III", b.s("next"), ids["ptr"], 0)
    members += struct.pack("<III", b.s("flags"), ids["int"], 3 << 24 | 64)  # 3 bits at 64
    members += struct.pack("<III", b.s("count"), ids["ulong"], 128)
    ids["node"] = b.add(STRUCT, "node", 3, 24, members, kflag=1)
    assert ids["node"] == ids["ptr"] + 1
    ids["typedef"] = b.add(TYPEDEF, "node_t", 0, ids["node"])
    ids["enum"] = b.add(ENUM, "color", 3, 4, struct.pack("<IiIiIi", b.s("RED"), 0,
                                                          b.s("GREEN"), 5, b.s("BLUE"), -1),
                        kflag=1)
    ids["array"] = b.add(ARRAY, "", 0, 0, struct.pack("<III", ids["int"], ids["int"], 7))
    ids["const"] = b.add(CONST, "", 0, ids["node"])
    ids["proto"] = b.add(FUNC_PROTO, "", 2, ids["int"],
                         struct.pack("<IIII", b.s("n"), ids["ptr"], b.s("len"), ids["ulong"]))
    ids["func"] = b.add(FUNC, "walk", 0, ids["proto"])
    ids["var"] = b.add(VAR, "counts", 0, ids["array"], struct.pack("<I", 1))
    return b.bytes(), ids


def _prog() -> Program:
    return Program(Platform(Architecture.X86_64, PlatformFlags.IS_64_BIT
                            | PlatformFlags.IS_LITTLE_ENDIAN))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYCRASH_CACHE", str(tmp_path))
    return tmp_path / "btf"


@pytest.mark.parametrize("key", [None, "0123abcd"])
def test_look_ups_by_name(key: str | None, cache: Path) -> None:
    data, ids = sample()
    blob = Btf(data, cache_key=key)
    assert blob.count == len(ids) + 1  # ids from 1; 0 is void
    assert (blob._by_name is not None) == (key is not None)  # bisection only when indexed
    assert blob.ids_named("node") == [ids["fwd"], ids["node"]]
    assert blob.find("node", {STRUCT, FWD}) == ids["node"]  # the complete one first
    assert blob.find("node", {FWD}) == ids["fwd"]
    assert blob.ids_named("nosuch") == [] and blob.find("nosuch", {STRUCT}) is None
    assert blob.ids_named("next") == []  # a member's name names no type
    assert blob.enumerator("GREEN") == (ids["enum"], 5)
    assert blob.enumerator("BLUE") == (ids["enum"], -1)
    assert blob.enumerator("walk") is None and blob.enumerator("nosuch") is None
    assert blob.raw(ids["func"])[:2] == (FUNC, 0)


def test_types_made_for_drgn() -> None:
    data, ids = sample()
    prog = _prog()
    types = BtfTypes(prog, Btf(data))
    prog.register_type_finder("btf", types.type_finder, enable_index=0)
    node = prog.type("struct node")
    assert node.size == 24
    assert [(m.name, m.bit_offset, m.bit_field_size) for m in node.members] == [
        ("next", 0, None), ("flags", 64, 3), ("count", 128, None)]
    assert node.member("next").type.type.tag == "node"
    assert prog.type("node_t").type.size == 24
    # the forward declaration is the one complete struct of its name (as drgn's DWARF)
    assert types.type(types.vmlinux, ids["fwd"]).size == 24
    # an integer type by any spelling drgn asks for (drgn names it its own way)
    for spelling in ("unsigned long", "long unsigned", "unsigned long int"):
        assert types.find({TypeKind.INT}, spelling) is not None, spelling
    assert types.find({TypeKind.INT}, "unsigned short") is None  # the blob has none
    assert (prog.type("unsigned long").size, prog.type("int").is_signed) == (8, True)
    color = prog.type("enum color")
    assert [(e.name, e.value) for e in color.enumerators] == [("RED", 0), ("GREEN", 5),
                                                               ("BLUE", -1)]
    assert color.type.is_signed
    array = types.type(types.vmlinux, ids["array"])
    assert array.kind == TypeKind.ARRAY and array.length == 7
    func = types.type(types.vmlinux, ids["func"])
    assert func.kind == TypeKind.FUNCTION and [p.name for p in func.parameters] == ["n",
                                                                                     "len"]
    assert str(types.type(types.vmlinux, ids["const"])).startswith("const struct node")
    assert types.enumerator("GREEN").value_() == 5
    assert types.find_named("counts", VAR) == (types.vmlinux, ids["var"])
    assert types.find_named("walk", VAR) is None


def test_a_cycle_of_references_is_an_error_not_a_recursion() -> None:
    """A damaged blob whose pointer points at itself (or a typedef at its own const)."""
    data, ids = sample()
    at = 24 + 16 + 16 + 12 + 8  # the pointer (after two ints and a fwd): its type word
    assert struct.unpack_from("<I", data, at)[0] == ids["node"]
    looped = data[:at] + struct.pack("<I", ids["ptr"]) + data[at + 4:]
    types = BtfTypes(_prog(), Btf(looped))
    with pytest.raises(BtfError, match="refers to itself"):
        types.type(types.vmlinux, ids["ptr"])


def test_module_blobs_are_read_only_when_the_vmlinux_misses() -> None:
    data, _ids = sample()
    prog = _prog()
    types = BtfTypes(prog, Btf(data))
    calls: list[int] = []
    types.module_loader = lambda: calls.append(1)
    assert types.find(prog.type("int").kind and {TypeKind.STRUCT}, "node") is not None
    assert calls == []  # found in the vmlinux's
    types.find({TypeKind.STRUCT}, "missing")
    types.find({TypeKind.STRUCT}, "missing too")
    assert calls == [1]  # read once, on the first miss


def test_index_is_cached_and_checked(cache: Path) -> None:
    data, ids = sample()
    first = Btf(data, cache_key="k1")
    stored = cache / "k1.idx"
    assert stored.is_file()
    # the second start reads the stored index: the scan is not run
    real_scan = btfmod._scan
    try:
        btfmod._scan = lambda *a: (_ for _ in ()).throw(AssertionError("scanned"))  # type: ignore[assignment]
        again = Btf(data, cache_key="k1")
    finally:
        btfmod._scan = real_scan
    assert list(again.offsets) == list(first.offsets)
    assert again.ids_named("node") == [ids["fwd"], ids["node"]]
    # an index of another section (its length differs) or cut short is not used
    stored.write_bytes(stored.read_bytes()[:-4])
    assert btfmod._cached_index("k1", len(data)) is None
    third = Btf(data, cache_key="k1")
    assert third.ids_named("node") == [ids["fwd"], ids["node"]]
    assert btfmod._cached_index("k1", len(data) + 4) is None


def test_split_blob_continues_its_base(cache: Path) -> None:
    data, ids = sample()
    base = Btf(data, cache_key="base")
    b = Blob()
    b.strings = b"\0"
    # a module type named with the base's string, and one with its own
    mod_types = struct.pack("<III", base.string_offset("node") or 0, STRUCT << 24, 0)
    own = b"\0modnode\0"
    mod_types += struct.pack("<III", base.str_end + 1, STRUCT << 24, 8)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(mod_types), len(mod_types),
                         len(own))
    module = Btf(header + mod_types + own, base, "mod")
    assert module.first == base.count
    assert module.ids_named("modnode") == [base.count + 1]
    assert module.ids_named("node") == [base.count]
    assert module.string(base.str_end + 1) == "modnode"
    assert module.owner(ids["node"]) is base


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:10], "too short"),
    (lambda d: b"\0\0" + d[2:], "no BTF magic"),
    (lambda d: d[:40], "run past"),
    # the first type claims 200 members: the records no longer end where the section does
    (lambda d: d[:28] + struct.pack("<I", STRUCT << 24 | 200) + d[32:], "damaged"),
])
def test_damaged_blobs_are_refused(damage, message: str) -> None:  # type: ignore[no-untyped-def]
    data, _ids = sample()
    with pytest.raises(BtfError, match=message):
        Btf(damage(data))
