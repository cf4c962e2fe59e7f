"""The one printk reader (pycrash.kernel.printkring) over hand-built rings: the lockless
ring with a wrapped text block, a data-less record, invalid blocks and garbage ids; the
pre-5.10 log_buf with a wrap marker and garbage records; layouts from VMCOREINFO and
from a program's types (and, on the real dump, the two agree)."""

from __future__ import annotations

import dataclasses
import struct

import pytest
from drgn import FaultError, Object, Program, TypeMember
from kernelstub import Memory, add_objects, add_types
from kernelstub import program as stub_program

from pycrash.errors import DumpError
from pycrash.kernel import printkring
from pycrash.kernel.printk import layout_from_types, member_field, printk_records
from pycrash.kernel.printkring import Field, LayoutError, PrintkRecord, read_records
from pycrash.triage.printk import layout_from_vmcoreinfo, stamped_lines

#: VMCOREINFO's printk lines of a 6.1 kernel (the small fixture's)
RING_INFO = {
    "SIZE(printk_ringbuffer)": "88", "OFFSET(printk_ringbuffer.desc_ring)": "0",
    "OFFSET(printk_ringbuffer.text_data_ring)": "48", "SIZE(prb_desc_ring)": "48",
    "OFFSET(prb_desc_ring.count_bits)": "0", "OFFSET(prb_desc_ring.descs)": "8",
    "OFFSET(prb_desc_ring.infos)": "16", "OFFSET(prb_desc_ring.head_id)": "24",
    "OFFSET(prb_desc_ring.tail_id)": "32", "SIZE(prb_desc)": "24",
    "OFFSET(prb_desc.state_var)": "0", "OFFSET(prb_desc.text_blk_lpos)": "8",
    "OFFSET(prb_data_blk_lpos.begin)": "0", "OFFSET(prb_data_blk_lpos.next)": "8",
    "SIZE(printk_info)": "88", "OFFSET(printk_info.seq)": "0",
    "OFFSET(printk_info.ts_nsec)": "8", "OFFSET(printk_info.text_len)": "16",
    "OFFSET(printk_info.caller_id)": "20", "SIZE(prb_data_ring)": "32",
    "OFFSET(prb_data_ring.size_bits)": "0", "OFFSET(prb_data_ring.data)": "8",
    "OFFSET(atomic_long_t.counter)": "0",
}
PRB_SYM, RB, DESCS, INFOS, TEXT = 0xFFFF0000, 0x1000, 0x2000, 0x3000, 0x4000
COUNT_BITS, SIZE_BITS = 3, 8  # 8 descriptors, 256 bytes of text
FINALIZED, COMMITTED, RESERVED = 2, 1, 0


class Mem:
    """Kernel memory as regions the test writes; a read outside them raises as the
    triage reader does (DumpError), or as drgn does (FaultError)."""

    def __init__(self, fault: type[Exception] = DumpError) -> None:
        self.regions: dict[int, bytearray] = {}
        self.fault = fault
        self.reads: list[int] = []

    def region(self, base: int, size: int) -> None:
        self.regions[base] = bytearray(size)

    def write(self, address: int, data: bytes) -> None:
        for base, buf in self.regions.items():
            if base <= address and address + len(data) <= base + len(buf):
                buf[address - base:address - base + len(data)] = data
                return
        raise AssertionError(f"no region at {address:#x}")

    def read(self, address: int, size: int) -> bytes:
        self.reads.append(size)
        for base, buf in self.regions.items():
            if base <= address and address + size <= base + len(buf):
                return bytes(buf[address - base:address - base + size])
        if self.fault is FaultError:
            raise FaultError("could not read memory", address)
        raise DumpError(f"cannot read {size} bytes at {address:#x}")


def q(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}Q", *values)


def ring(tail: int = 13, head: int = 20, count_bits: int = COUNT_BITS) -> Mem:
    """A ring of 8 descriptors holding ids 13 to 20 (indexes 5, 6, 7, 0 ... 4)."""
    mem = Mem()
    mem.region(PRB_SYM, 8)
    mem.region(RB, 88)
    mem.region(DESCS, 8 * 24)
    mem.region(INFOS, 8 * 88)
    mem.region(TEXT, 1 << SIZE_BITS)
    mem.write(PRB_SYM, q(RB))
    mem.write(RB, struct.pack("<I4xQQQQ", count_bits, DESCS, INFOS, head,
                                  tail % (1 << 64)))
    mem.write(RB + 48, struct.pack("<I4xQ", SIZE_BITS, TEXT))

    def record(ident: int, state: int, begin: int, nxt: int, text: bytes = b"",
               text_len: int | None = None, caller: int = 1, stored: int | None = None) -> None:
        idx = ident & 7
        mem.write(DESCS + idx * 24, q(state << 62 | (ident if stored is None else stored),
                                      begin, nxt))
        info = struct.pack("<QQHxxI", 100 + ident, ident * 1_000_000,
                           len(text) if text_len is None else text_len, caller)
        mem.write(INFOS + idx * 88, info)
        if text:
            at = 0 if nxt >> SIZE_BITS != begin >> SIZE_BITS else begin & 0xFF
            mem.write(TEXT + at, q(ident) + text)

    wrap = 1 << SIZE_BITS
    record(13, FINALIZED, wrap + 32, wrap + 48, b"first")
    record(14, COMMITTED, 3, 3)                                  # data-less: an empty line
    record(15, FINALIZED, 1, 1)                                  # data-less: lost
    record(16, RESERVED, wrap + 48, wrap + 64, b"reserved")      # not committed yet
    record(17, FINALIZED, wrap + 240, 2 * wrap + 24, b"wrapped text 16b")  # wraps to 0
    record(18, FINALIZED, wrap + 64, wrap + 80, b"stale", stored=10)  # an older id's
    record(19, FINALIZED, wrap + 96, wrap + 112, b"abc", text_len=100)  # text_len > block
    record(20, FINALIZED, wrap + 128, wrap + 144, b"last", caller=0x80000001)
    return mem


EXPECTED = [
    PrintkRecord(b"first", None, None, 113, 13_000_000, 1, None),
    PrintkRecord(b"", None, None, 114, 14_000_000, 1, None),
    PrintkRecord(b"wrapped text 16b", None, None, 117, 17_000_000, 1, None),
    PrintkRecord(b"abc\0\0\0\0\0", None, None, 119, 19_000_000, 1, None),
    PrintkRecord(b"last", None, None, 120, 20_000_000, None, 1),
]


def layout() -> printkring.Layout:
    return layout_from_vmcoreinfo({**RING_INFO, "SYMBOL(prb)": f"{PRB_SYM:x}"})


@pytest.mark.fast
def test_ring_records_valid_blocks_only() -> None:
    assert read_records(ring().read, layout()) == (EXPECTED, None)


@pytest.mark.fast
def test_invalid_blocks_are_skipped() -> None:
    mem = ring()
    wrap = 1 << SIZE_BITS
    for idx, (begin, nxt) in enumerate([(wrap + 36, wrap + 52),   # not word aligned
                                        (wrap + 48, wrap + 32),   # ends before it begins
                                        (wrap + 32, 3 * wrap)]):  # wraps twice
        mem.write(DESCS + idx * 24 + 8, q(begin, nxt))  # ids 16, 17, 18
    mem.write(DESCS + 5 * 24 + 8, q(wrap + 32, wrap + 36))  # id 13: shorter than its id
    records, problem = read_records(mem.read, layout())
    assert problem is None
    assert [r.seq for r in records] == [114, 119, 120]


@pytest.mark.fast
@pytest.mark.parametrize("tail", [20 + 5, 20 - 1000, (1 << 62) - 3])
def test_garbage_ids_read_one_ring_ending_at_head(tail: int) -> None:
    records, problem = read_records(ring(tail=tail).read, layout())
    assert records == EXPECTED
    assert problem is not None and problem.startswith("the printk ring's ids are garbage")
    assert problem.endswith("read the last 8 ids")


@pytest.mark.fast
def test_reads_are_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printkring, "CHUNK", 2)
    mem = ring()
    assert read_records(mem.read, layout()) == (EXPECTED, None)
    assert max(mem.reads) <= 2 * 88  # two infos at most, never the whole ring


@pytest.mark.fast
@pytest.mark.parametrize("count_bits", [0, 23, 1 << 20])
def test_garbage_sizes(count_bits: int) -> None:
    records, problem = read_records(ring(count_bits=count_bits).read, layout())
    assert records == []
    assert problem is not None and problem.startswith("the printk ring's sizes are garbage")


@pytest.mark.fast
@pytest.mark.parametrize("fault", [DumpError, FaultError])
def test_unreadable_text_keeps_the_records_before(fault: type[Exception]) -> None:
    mem = ring()
    mem.fault = fault
    mem.write(DESCS + 4 * 24 + 8, q(1 << 20, (1 << 20) + 16))  # id 20's block: far away
    mem.regions[TEXT] = mem.regions[TEXT][:64]  # the text ring cut after 64 bytes
    records, problem = read_records(mem.read, layout())
    assert records == EXPECTED[:3]  # id 19's text lies past the cut
    assert problem is not None and problem.startswith("the printk ring breaks")


@pytest.mark.fast
def test_facility_level_and_caller_from_a_fuller_layout() -> None:
    mem = ring()
    mem.write(INFOS + 4 * 88 + 18, bytes([3, 0b110_00001]))  # id 20: facility 3, level 6
    lay = dataclasses.replace(layout(), facility=Field(18, 1), level=Field(19, 1, 5, 3))
    last = read_records(mem.read, lay)[0][-1]
    assert (last.facility, last.level, last.caller_cpu) == (3, 6, 1)


@pytest.mark.fast
@pytest.mark.parametrize(("key", "value", "message"), [
    ("OFFSET(printk_info.text_len)", "87", "puts printk_info.text_len"),
    ("OFFSET(prb_desc_ring.infos)", "5000", "puts printk_ringbuffer.infos"),
    ("SIZE(prb_desc)", "1000000", "gives struct prb_desc 1000000 bytes"),
    ("SIZE(printk_info)", "0", "gives struct printk_info 0 bytes"),
])
def test_a_layout_outside_its_structure_is_refused(key: str, value: str, message: str) -> None:
    with pytest.raises(LayoutError, match=message):
        layout_from_vmcoreinfo({**RING_INFO, "SYMBOL(prb)": "1000", key: value})


@pytest.mark.fast
def test_vmcoreinfo_without_an_offset_is_a_dump_error() -> None:
    info = {k: v for k, v in RING_INFO.items() if k != "SIZE(prb_desc)"}
    with pytest.raises(DumpError, match=r"SIZE\(prb_desc\)"):
        layout_from_vmcoreinfo({**info, "SYMBOL(prb)": "1000"})
    with pytest.raises(DumpError, match="neither prb nor log_buf"):
        layout_from_vmcoreinfo({})


# The log before 5.10: struct printk_log {u64 ts_nsec; u16 len, text_len, dict_len;
# u8 facility; u8 flags:5, level:3; u32 caller_id;} (24 bytes) in a 128-byte log_buf.
LOG_BUF, LOG_VARS = 0x5000, 0x6000
HDR = 24


def log_entry(ts: int, text: bytes, length: int | None = None, level: int = 6) -> bytes:
    size = length if length is not None else (HDR + len(text) + 7) & ~7
    return struct.pack("<QHHHBBI4x", ts, size, len(text), 0, 1, level << 5, 7) + text


def log_buf_mem(first: int, nxt: int, entries: dict[int, bytes]) -> Mem:
    mem = Mem()
    mem.region(LOG_BUF, 128)
    mem.region(LOG_VARS, 32)
    mem.write(LOG_VARS, q(LOG_BUF) + struct.pack("<III", 128, first, nxt) + q(40))
    for at, data in entries.items():
        mem.write(LOG_BUF + at, data)
    return mem


LOG_BUF_INFO = {"SYMBOL(log_buf)": f"{LOG_VARS:x}", "SYMBOL(log_buf_len)": f"{LOG_VARS + 8:x}",
                "SYMBOL(log_first_idx)": f"{LOG_VARS + 12:x}",
                "SYMBOL(log_next_idx)": f"{LOG_VARS + 16:x}", "SIZE(printk_log)": str(HDR),
                "OFFSET(printk_log.ts_nsec)": "0", "OFFSET(printk_log.len)": "8",
                "OFFSET(printk_log.text_len)": "10"}
#: a record at 64, a wrap marker at 96, a record at 0: next at 32
WRAPPED = {64: log_entry(5_000_123_000, b"tail rec"), 96: bytes(HDR),
           0: log_entry(6_000_000_000, b"wrap\nsecond")}


@pytest.mark.fast
def test_log_buf_wraps_once() -> None:
    records, problem = read_records(log_buf_mem(64, 40, WRAPPED).read,
                                    layout_from_vmcoreinfo(LOG_BUF_INFO))
    assert problem is None
    assert [(r.seq, r.timestamp, r.text, r.level) for r in records] == [
        (0, 5_000_123_000, b"tail rec", None), (1, 6_000_000_000, b"wrap\nsecond", None)]
    assert stamped_lines(records) == ["[    5.000123] tail rec", "[    6.000000] wrap",
                                      "[    6.000000] second"]


@pytest.mark.fast
@pytest.mark.parametrize(("first", "nxt", "entries", "found", "message"), [
    (64, 40, {**WRAPPED, 0: log_entry(6, b"short", length=8)}, 1, "record at 0 is garbage"),
    (64, 40, {**WRAPPED, 64: log_entry(5, b"long", length=72)}, 0, "record at 64 is garbage"),
    (0, 64, {0: bytes(HDR)}, 0, "wraps at 0 without meeting its next record at 64"),
    (112, 0, {}, 0, "record at 112 runs past its end"),
    (0, 8, {0: log_entry(1, b"", length=24)}, 0, "record at 0 is garbage"),  # over next
    (64, 16, WRAPPED, 1, "record at 0 is garbage"),  # past next, after the wrap
])
def test_log_buf_garbage_ends_the_walk(first: int, nxt: int, entries: dict[int, bytes],
                                       found: int, message: str) -> None:
    records, problem = read_records(log_buf_mem(first, nxt, entries).read,
                                    layout_from_vmcoreinfo(LOG_BUF_INFO))
    assert len(records) == found
    assert problem is not None and message in problem, problem


def log_buf_program() -> Program:
    """A stub kernel before 5.10: struct printk_log, log_buf and its indexes, with
    WRAPPED's records in memory."""
    prog = stub_program()
    mem = Memory(prog)
    u8, u16 = prog.int_type("u8", 1, False), prog.int_type("u16", 2, False)
    u32, u64 = prog.int_type("u32", 4, False), prog.int_type("u64", 8, False)
    char = prog.int_type("char", 1, True)
    rec = prog.struct_type("printk_log", HDR, (
        TypeMember(u64, "ts_nsec", 0), TypeMember(u16, "len", 64),
        TypeMember(u16, "text_len", 80), TypeMember(u16, "dict_len", 96),
        TypeMember(u8, "facility", 112),
        TypeMember(Object(prog, u8, bit_field_size=5), "flags", 120),
        TypeMember(Object(prog, u8, bit_field_size=3), "level", 125),
        TypeMember(u32, "caller_id", 128)))
    add_types(prog, {"printk_log": rec, "unsigned long": prog.int_type("unsigned long", 8,
                                                                       False)})
    buf = bytearray(128)
    for at, data in WRAPPED.items():
        buf[at:at + len(data)] = data
    base = mem.put(bytes(buf))
    add_objects(prog, {
        "log_buf": Object(prog, prog.pointer_type(char), address=mem.put(q(base))),
        "log_buf_len": Object(prog, u32, address=mem.put(struct.pack("<I", 128))),
        "log_first_idx": Object(prog, u32, address=mem.put(struct.pack("<I", 64))),
        "log_next_idx": Object(prog, u32, address=mem.put(struct.pack("<I", 40))),
        "log_first_seq": Object(prog, u64, address=mem.put(q(1000))),
    })
    return prog


@pytest.mark.fast
def test_typed_log_buf_layout_reads_levels_and_callers() -> None:
    prog = log_buf_program()
    lay = layout_from_types(prog)
    assert isinstance(lay, printkring.LogBufLayout)
    assert lay.level == Field(15, 1, 5, 3) and lay.caller_id == Field(16, 4)
    records, problem = printk_records(prog)
    assert problem is None
    assert [(r.seq, r.text, r.facility, r.level, r.caller_tid) for r in records] == [
        (1000, b"tail rec", 1, 6, 7), (1001, b"wrap\nsecond", 1, 6, 7)]


@pytest.mark.fast
def test_member_field_of_a_big_endian_bit_field() -> None:
    prog = log_buf_program()
    rec = prog.type("struct printk_log")
    assert member_field(rec, "level", "big") == Field(15, 1, 0, 3)
    assert member_field(rec, "flags", "big") == Field(15, 1, 3, 5)


def test_types_and_vmcoreinfo_give_one_layout(session) -> None:  # type: ignore[no-untyped-def]
    prog = session.prog
    text = prog["VMCOREINFO"].string_().decode()
    info = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    typed = layout_from_types(prog)
    plain = layout_from_vmcoreinfo(info)
    # VMCOREINFO has no facility or level: everything else is the same
    assert dataclasses.replace(typed, facility=None, level=None) == plain
    assert read_records(prog.read, plain)[0] == [
        dataclasses.replace(r, facility=None, level=None) for r in printk_records(prog)[0]]
