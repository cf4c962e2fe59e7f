"""mach: x86-64 as crash 8.0.2 prints it on the same dump; arm64's layout holds the
dump's own addresses."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import Dump, fixture_dump


def _crash_mach(dump: Dump) -> list[str]:
    if not shutil.which("crash"):
        pytest.fail("the crash utility is not installed (the test command installs it)")
    out = subprocess.run(["crash", "-s", str(dump.vmlinux), str(dump.vmcore)],
                         input="mach\nq\n", capture_output=True, text=True, timeout=300).stdout
    return [line for line in out.splitlines() if line and not line.startswith("WARNING")]


@pytest.mark.parametrize("name", ["small", "bullseye-small"])
def test_mach_equals_crash(name: str) -> None:
    """Every line, exception stacks included (named by the IDT handler using each IST
    slot, as crash names them: 6.1's machine-check slot is crash's "(unknown)")."""
    d = fixture_dump(name)
    ours = str(d.open().run("mach")).splitlines()
    assert ours == _crash_mach(d)
    assert any(line.strip().startswith("NMI STACK SIZE") for line in ours)


def test_arm64_mach_layout_holds_the_dumps_addresses() -> None:
    from drgn.helpers.linux.percpu import per_cpu

    s = fixture_dump("arm64-small").open()
    (m,) = s.run("mach").rows
    assert m.machine == "aarch64" and m.cpus == 2 and m.page_size == 4096 and m.hz == 250
    task = s.panic_task
    assert m.kernel_virtual_base <= task.value_() < m.modules_base  # the direct map
    assert m.vmalloc_base <= task.stack.value_() < m.vmemmap_base  # a vmap'd stack
    (page,) = s.run(f"kmem -p {s.run(f'vtop {task.value_():x}').rows[0].physical:x}").rows
    assert page.page >= m.vmemmap_base  # its struct page
    assert [c.base for c in m.irq_stacks] == [
        per_cpu(s.prog["irq_stack_ptr"], c).value_() for c in (0, 1)]
    text = str(s.run("mach"))
    assert "KERNEL START MAP" not in text and "OVERFLOW STACKS:" in text
