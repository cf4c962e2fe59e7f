"""The Python API on the real dump: pycrash.open, sessions, results as records."""

from __future__ import annotations

import json

from conftest import Dump


def test_api_results_are_records(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    import pycrash as api

    s = api.open(str(dump.vmcore))  # the vmlinux is found beside the dump
    ps = s.run("ps -k")
    assert len(ps) == len(list(ps)) and all(r.kernel for r in ps)
    assert ps[0].pid == 0 and ps[0].comm == "swapper/0"
    assert json.loads(ps.to_json())[0]["comm"] == "swapper/0"
    assert str(ps).splitlines()[0].startswith("      PID    PPID  CPU")
    assert ps.columns()[:3] == ["pid", "ppid", "cpu"]
    assert s.task(1).comm.string_() == b"init"
    assert s.symbol("panic").name == "panic"
    assert s.variable("jiffies_64").value_() > 0
    assert type(s.prog).__name__ == "Program"
