"""pycrash report on the real dump: JSON and the report directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import HANGS, SUITES, ZOO, Dump, assert_one_line_error, fixture_dump, pid_of, pycrash


def test_report_json_names_the_panic_and_task(dump: Dump, tmp_path: Path) -> None:
    run = pycrash("report", str(dump.vmcore), str(dump.vmlinux), "--json")
    assert run.rc == 0, run.err
    doc = json.loads(run.out)
    assert "sysrq triggered crash" in doc["panic"]["message"]
    bt = doc["crashed_task_bt"][0]
    assert doc["panic"]["pid"] == bt["task"]["pid"] and doc["panic"]["command"] == "sh"
    assert any(f["function"] == "panic" for f in bt["frames"])
    assert len(doc["bt_all"]) == 2 and len(doc["log_tail"]) == 50
    assert doc["blocked"] == [] and doc["taint"]["flags"] is not None
    assert doc["memory"][0]["name"] == "TOTAL MEM"
    out = tmp_path / "r"
    text = pycrash("report", str(dump.vmcore), "-o", str(out))
    assert text.rc == 0, text.err
    report = (out / "report.txt").read_text()
    assert "Backtrace of the task that panicked" in report and "sysrq_handle_crash" in report
    assert json.loads((out / "report.json").read_text())["panic"] == doc["panic"]
    assert_one_line_error(pycrash("report", str(tmp_path / "none")), "no such file")


#: what each zoo dump was made to do: its class and the module function that did it
#: (None: the function is read from the guest's truth, or there is none)
MADE = {
    "zoo-oops": ("oops", "pcfix_deref"), "zoo-bug": ("bug", "pcfix_bug"),
    "zoo-timer": ("oops", "pcfix_timer_deref"), "zoo-warn": ("warn", "pcfix_warn"),
    "zoo-softlockup": ("soft_lockup", "pcfix_spin"), "zoo-oom": ("oom", None),
    # a hang's culprit: where the lock holder sleeps (a deadlock: where its first task
    # waits), the first line of that task's /proc/PID/stack before the crash
    "zoo-hung": ("hung_task", "pcfix_holder"), "zoo-rwsem": ("hung_task", "pcfix_writer"),
    "zoo-abba": ("hung_task", "pcfix_abba_a"),
}


def _first_stack_function(dump: Dump, comm: str) -> str:
    pid = pid_of(dump, comm)
    block = next(b for b in dump.truth("stacks.txt").split("\n\n")
                 if b.startswith(f"task {pid} "))
    return block.splitlines()[1].split()[1].split("+")[0]


@pytest.mark.parametrize("name", [*ZOO, *HANGS])
def test_verdict_of_every_zoo_dump(name: str) -> None:
    dump = fixture_dump(name)
    run = pycrash("report", str(dump.vmcore), str(dump.vmlinux), "--json")
    assert run.rc == 0, run.err
    verdict = json.loads(run.out)["verdict"]
    cls, function = MADE[name.split("-", 1)[1] if name.split("-")[0] in SUITES else name]
    if function is not None and function.startswith(("pcfix_holder", "pcfix_writer",
                                                     "pcfix_abba")):
        function = _first_stack_function(dump, function)
    assert verdict["class"] == cls, verdict
    assert verdict["function"] == function, verdict
    assert verdict["module"] == ("pcfix_oops" if function else None), verdict
    # the kernel's report (an oops goes to kdump from oops_end(), before any panic line)
    assert verdict["log"]
    console = (dump.dir / "console.log").read_text(errors="replace")
    for line in verdict["log"]:  # the evidence is the kernel's own lines, as it printed them
        assert line.split("] ", 1)[1] in console, line
    if cls == "hung_task":
        assert verdict["chains"] and verdict["deadlocks"] == (name == "zoo-abba")
    if cls == "oom":  # the largest user is the one the OOM report's task table shows
        log = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "log").out
        table = re.findall(r"\[\s*(\d+)\]\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\d+\s+\d+\s+-?\d+ (\S+)",
                           log)
        pid, rss_pages, comm = max(table, key=lambda row: int(row[1]))
        top = verdict["memory_users"][0]
        assert (top["pid"], top["comm"]) == (int(pid), comm)
        assert abs(top["rss_kb"] - int(rss_pages) * 4) <= int(rss_pages) * 4 // 100
        slabs = dump.truth("slabinfo.txt")
        assert all(c["name"] in slabs for c in verdict["slab_caches"])


def test_verdict_of_the_sysrq_dump(dump: Dump) -> None:
    run = pycrash("report", str(dump.vmcore), str(dump.vmlinux), "--json")
    verdict = json.loads(run.out)["verdict"]
    # the guest crashed itself through /proc/sysrq-trigger: the sysrq handler called panic()
    assert (verdict["class"], verdict["function"], verdict["module"]) == (
        "sysrq", "sysrq_handle_crash", None)
    assert verdict["command"] == "sh" and verdict["cpu"] == 1
