"""ORC tables read from the kernel's memory (pycrash/kernel/orc.py), on the small fixtures
of three kernels."""

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
