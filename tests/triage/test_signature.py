"""Signatures, the rules file, the log's report as frames, and --resign: no dump needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_one_line_error, pycrash

from pycrash.errors import PycrashError
from pycrash.triage.logparse import parse_report
from pycrash.triage.signature import RULES, Rules, normalise, scrub, sign

pytestmark = pytest.mark.fast

#: the zoo's oops as the guest's console printed it (testdata/zoo/pcfix_oops.c writes
#: through NULL in pcfix_deref, called from its /proc write handler)
OOPS = """\
[   15.500824] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   15.501592] Oops: 0002 [#1] PREEMPT SMP NOPTI
[   15.501592] CPU: 1 PID: 174 Comm: sh Kdump: loaded Tainted: G           OE      CPULINE
[   15.501997] RIP: 0010:pcfix_deref+0xc/0x30 [pcfix_oops]
[   15.502526] RAX: 0000000000000000 RBX: 0000000000000005 RCX: c0000000ffffefff
[   15.502890] Call Trace:
[   15.502890]  <TASK>
[   15.502890]  pcfix_write+0x181/0x1a4 [pcfix_oops]
[   15.502890]  proc_reg_write+0x56/0xa0
[   15.502890]  ? handle_mm_fault+0xdb/0x2d0
[   15.502890]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
""".replace("CPULINE", "6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2").splitlines()


def test_oops_report_frames_and_signature() -> None:
    report = parse_report(OOPS)
    assert report.classified.cls.value == "oops"
    assert [f.function for f in report.frames] == [
        "pcfix_deref", "pcfix_write", "proc_reg_write", "entry_SYSCALL_64_after_hwframe"]
    assert report.frames[0].offset == 0xc and report.frames[0].module == "pcfix_oops"
    assert report.taint == "OE" and report.pid == 174 and report.command == "sh"
    assert sign("oops", [f.function for f in report.frames], Rules.load()) == "oops:pcfix_deref"


def test_skip_list_prefix_and_scrubbing() -> None:
    rules = Rules.load()
    # panic plumbing, scheduling and locking (even a driver's own lock wrapper) are skipped
    assert sign("hung_task", ["__schedule", "schedule", "schedule_preempt_disabled",
                              "__mutex_lock.constprop.0", "pcfix_lock_mutex",
                              "pcfix_waiter_fn", "kthread"], rules) == "hung_task:pcfix_waiter_fn"
    assert sign("sysrq", ["dump_stack_lvl", "panic", "sysrq_handle_crash"],
                rules) == "sysrq:sysrq_handle_crash"
    assert sign("oops", ["asm_exc_page_fault", "memcpy", "ext4_fill_super"],
                rules) == "oops:memcpy | ext4_fill_super"
    assert sign("oom", ["dump_stack_lvl", "dump_header", "out_of_memory.cold",
                        "__alloc_pages", "asm_exc_page_fault"], rules) == "oom"
    assert sign("hung_task", [], rules, "task=kworker/1:2") == "hung_task:task=kworker/N:N"
    assert normalise("check_panic_on_warn.cold+0xf/0x1e") == "check_panic_on_warn"
    assert normalise("__alloc_pages_slowpath.constprop.0") == "__alloc_pages_slowpath"
    assert scrub("at ffff88004fab1858 cpu 3") == "at ADDR cpu N"


def test_bad_rules_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text("[skip\nfunctions = [")
    with pytest.raises(PycrashError, match="not valid TOML"):
        Rules.load(bad)


def _record(key: str, cls: str, frames: list[str]) -> dict[str, object]:
    return {"key": key, "path": f"/d/{key}", "class": cls, "release": "6.1", "tier": 0,
            "crash_time": 1_700_000_000, "frames": [{"function": f, "offset": 0,
                                                      "module": None} for f in frames],
            "signature": "x", "bucket": "x"}


def test_resign_regroups_without_dumps(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    recs = [_record("a", "oops", ["helper_copy", "foo_ioctl"]),
            _record("b", "oops", ["helper_copy", "bar_ioctl"])]
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    run = pycrash("triage", "--resign", str(out), "--no-parquet")
    assert run.rc == 0, run.err
    sigs = [json.loads(x)["signature"] for x in (out / "buckets.jsonl").read_text().splitlines()]
    assert sigs == ["oops:helper_copy"]  # one bucket: helper_copy is not skipped
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.read_text().replace(
        'functions = [\n  # panic,', 'functions = [\n  "helper_copy",\n  # panic,'))
    run = pycrash("triage", "--resign", str(out), "--rules", str(rules), "--no-parquet")
    assert run.rc == 0, run.err
    sigs = sorted(json.loads(x)["signature"]
                  for x in (out / "buckets.jsonl").read_text().splitlines())
    assert sigs == ["oops:bar_ioctl", "oops:foo_ioctl"]


def test_bad_files_are_error_records(tmp_path: Path) -> None:
    from triagecorpus import bad_files

    files = bad_files(tmp_path / "in")
    run = pycrash("triage", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q",
                  "--no-parquet")
    assert run.rc == 0, run.err
    assert "Traceback" not in run.err
    errors = [json.loads(x) for x in (tmp_path / "out" / "errors.jsonl").read_text()
              .splitlines()]
    reasons = {Path(e["path"]).name: e["error"] for e in errors}
    assert set(reasons) == {p.name for p in files.values()}
    assert "not a kernel crash dump" in reasons["vmcore.random"]
    assert "empty file" in reasons["vmcore.empty"]
    assert all("\n" not in r for r in reasons.values())
    assert (tmp_path / "out" / "records.jsonl").read_text() == ""


def test_no_inputs_is_one_line() -> None:
    assert_one_line_error(pycrash("triage"), "give the dumps")
    assert_one_line_error(pycrash("triage", "/nonexistent/rules-run", "-o", "/tmp/x-never",
                                  "--rules", "/nonexistent.toml"), "signature rules")
