"""Classifying a crash from the kernel's report in its log (synthetic log text of each
kernel's format; the real dumps' verdicts are tested in tests/shell/test_report.py)."""

from __future__ import annotations

import pytest

from pycrash.kernel.verdict import PanicClass, caller_of_panic, classify

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("lines,message,cls,detail,function,module", [
    (["BUG: kernel NULL pointer dereference, address: 0000000000000000",
      "#PF: supervisor write access in kernel mode", "Oops: 0002 [#1] PREEMPT SMP NOPTI",
      "CPU: 1 PID: 173 Comm: sh", "RIP: 0010:pcfix_deref+0xc/0x30 [pcfix_oops]",
      "RIP: 0033:0x47b7a0", "Kernel panic - not syncing: Fatal exception"],
     "Fatal exception", PanicClass.OOPS, "NULL pointer dereference", "pcfix_deref",
     "pcfix_oops"),
    (["BUG: unable to handle page fault for address: ffffc90000000000",
      "Oops: 0000 [#1] SMP", "RIP: 0010:memcpy_orig.constprop.0+0x10/0x120",
      "Kernel panic - not syncing: Fatal exception"],
     None, PanicClass.OOPS, "paging request", "memcpy_orig", None),
    (["general protection fault, probably for non-canonical address 0xdead: 0000 [#1]",
      "RIP: 0010:list_del+0x4/0x30", "Kernel panic - not syncing: Fatal exception"],
     None, PanicClass.OOPS, "general protection fault", "list_del", None),
    (["------------[ cut here ]------------", "kernel BUG at pcfix_oops.c:84!",
      "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
      "RIP: 0010:pcfix_bug+0x17/0x20 [pcfix_oops]"],
     None, PanicClass.BUG, None, "pcfix_bug", "pcfix_oops"),
    (["WARNING: CPU: 1 PID: 173 at pcfix_oops.c:89 pcfix_warn+0x5/0x20 [pcfix_oops]",
      "RIP: 0010:other+0x5/0x20", "Kernel panic - not syncing: kernel: panic_on_warn set ..."],
     "kernel: panic_on_warn set ...", PanicClass.WARN, None, "pcfix_warn", "pcfix_oops"),
    (["WARNING: pcfix_oops.c:89 at pcfix_warn+0x5/0x20 [pcfix_oops], CPU#1: sh/189",
      "Kernel panic - not syncing: kernel: panic_on_warn set ..."],
     "kernel: panic_on_warn set ...", PanicClass.WARN, None, "pcfix_warn", "pcfix_oops"),
    (["watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [sh:173]",
      "RIP: 0010:pcfix_spin+0x20/0x30 [pcfix_oops]",
      "Kernel panic - not syncing: softlockup: hung tasks"],
     "softlockup: hung tasks", PanicClass.SOFT_LOCKUP, None, "pcfix_spin", "pcfix_oops"),
    (["INFO: task a:1 blocked for more than 120 seconds.", "RIP: 0010:khung+0x1/0x2",
      "Kernel panic - not syncing: hung_task: blocked tasks"],
     "hung_task: blocked tasks", PanicClass.HUNG_TASK, None, None, None),
    (["sh invoked oom-killer: gfp_mask=0x140dca", "RIP: 0033:0x1",
      "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled"],
     "Out of memory: system-wide panic_on_oom is enabled", PanicClass.OOM, None, None, None),
    (["sysrq: Trigger a crash", "Kernel panic - not syncing: sysrq triggered crash"],
     "sysrq triggered crash", PanicClass.SYSRQ, None, None, None),
    (["NMI watchdog: Watchdog detected hard LOCKUP on cpu 3",
      "RIP: 0010:spin_forever+0x2/0x4 [bad]", "Kernel panic - not syncing: Hard LOCKUP"],
     "Hard LOCKUP", PanicClass.HARD_LOCKUP, None, "spin_forever", "bad"),
    (["rcu: INFO: rcu_preempt self-detected stall on CPU", "pc : looper+0x8/0x10 [m]",
      "Kernel panic - not syncing: RCU Stall"],
     "RCU Stall", PanicClass.RCU_STALL, None, "looper", "m"),
    (["Kernel panic - not syncing: VFS: Unable to mount root fs"],
     "VFS: Unable to mount root fs", PanicClass.PANIC, None, None, None),
    (["nothing happened"], None, PanicClass.NO_PANIC, None, None, None),
])
def test_classify(lines: list[str], message: str | None, cls: PanicClass,
                  detail: str | None, function: str | None, module: str | None) -> None:
    found = classify(message, lines)
    assert (found.cls, found.detail, found.function, found.module) == (cls, detail, function,
                                                                       module)
    if cls != PanicClass.NO_PANIC:
        assert "Kernel panic" in lines[found.evidence[-1]] or cls == PanicClass.BUG


def test_only_the_last_report_before_the_panic_counts() -> None:
    log = ["WARNING: CPU: 0 PID: 1 at a.c:1 early+0x1/0x2", "later text",
           "BUG: kernel NULL pointer dereference, address: 0", "Oops: 0002 [#1]",
           "RIP: 0010:late+0x1/0x2 [m]", "Kernel panic - not syncing: Fatal exception"]
    found = classify("Fatal exception", log)
    assert (found.cls, found.function, found.evidence) == (PanicClass.OOPS, "late", (2, 4, 5))


def test_caller_of_panic() -> None:
    frames = [("__crash_kexec", None), ("panic", None), ("sysrq_handle_crash", None),
              ("__handle_sysrq.cold", None)]
    assert caller_of_panic(frames) == ("sysrq_handle_crash", None)
    assert caller_of_panic([("schedule", None)]) is None
