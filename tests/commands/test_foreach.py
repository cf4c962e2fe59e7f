"""foreach on the real dump."""

from __future__ import annotations

import re

from conftest import Dump, pycrash


def test_foreach_regex_bt_prints_one_trace_per_pcfix_task(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "foreach 'pcfix-.*' bt")
    assert run.rc == 0, run.err
    headers = re.findall(r'^PID: (\d+) .*COMMAND: "(pcfix-[^"]+)"$', run.out, re.M)
    assert sorted(c for _, c in headers) == ["pcfix-files", "pcfix-sleeper1",
                                             "pcfix-sleeper2", "pcfix-sleeper3"]
    assert run.out.count("PID: ") == 4
    assert run.out.count(" do_wait at ") == 4


def test_foreach_task_header_once(session) -> None:  # type: ignore[no-untyped-def]
    lines = str(session.run("foreach 'kthread.*' task -R pid")).splitlines()
    assert lines[0].startswith("PID: 2 ") and lines[1] == "  pid = 2,", lines[:3]
    assert sum(1 for line in lines if line.startswith("PID: ")) == lines.count("") + 1
