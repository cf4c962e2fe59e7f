"""ORC tables read from the kernel's memory (pycrash/kernel/orc.py), on the small fixtures
of every kernel of the matrix."""

from __future__ import annotations

import pytest
from conftest import SUITES, fixture_dump


@pytest.mark.parametrize("name", ["small", *(f"{s}-small" for s in SUITES)])
def test_orc_lookup_index_agrees_with_the_whole_table(name: str) -> None:
    """The block-at-a-time look-up through orc_lookup finds the entry a search of the
    whole table finds (ORC formats of 5.10, 6.1 and 6.12)."""
    import random

    from pycrash.kernel import orc

    s = fixture_dump(name).open()
    lookup = orc.orc_index(s.prog).vmlinux
    assert isinstance(lookup, orc.LookupTable)
    whole = lookup.whole()
    assert whole is not None and whole.count > 100_000
    rng = random.Random(7)
    ips = [rng.randrange(*lookup.text) for _ in range(3000)]
    assert [lookup.find(ip) for ip in ips] == [whole.find(ip) for ip in ips]
    types = {whole.find(ip).type for ip in ips}  # type: ignore[union-attr]
    assert orc.CALL in types


@pytest.mark.fast
@pytest.mark.parametrize(("version", "flags", "sp_reg", "bp_reg", "kind"), [
    # Linux 7.1 renumbered the registers (SP 3, BP 4, PREV_SP 8, BP_INDIRECT 10, AX 1);
    # these are entries of 7.2's vmlinux: a function body, a function's first byte
    (4, 0x283, "REG_SP", "REG_PREV_SP", "CALL"), (4, 0x203, "REG_SP", "REG_UNDEFINED", "CALL"),
    (4, 0x30A, "REG_BP_INDIRECT", "REG_UNDEFINED", "REGS"), (4, 0x201, "REG_AX", "REG_UNDEFINED",
                                                             "CALL"),
    # the same frames in 6.4-7.0's numbering (SP 5, PREV_SP 1, BP_INDIRECT 8)
    (3, 0x215, "REG_SP", "REG_PREV_SP", "CALL"), (3, 0x308, "REG_BP_INDIRECT", "REG_UNDEFINED",
                                                  "REGS"),
])
def test_entries_decode_in_every_register_numbering(version: int, flags: int, sp_reg: str,
                                                    bp_reg: str, kind: str) -> None:
    import struct

    from pycrash.kernel import orc

    entry = orc.decode(struct.pack("<hhH", 48, -40, flags), 0, version)
    assert (entry.sp_offset, entry.bp_offset) == (48, -40)
    assert (entry.sp_reg, entry.bp_reg, entry.type) == (
        getattr(orc, sp_reg), getattr(orc, bp_reg), getattr(orc, kind))
