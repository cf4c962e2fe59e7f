"""pycrash report on the real dump: JSON and the report directory."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Dump, assert_one_line_error, pycrash


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
