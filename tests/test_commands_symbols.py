"""struct, p, whatis, sym, rd, dis, list, tree, search, eval and the system views."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, assert_one_line_error, parse_stat, pycrash

from pycrash.kernel.symbols import symbol_line


def _sleeper(dump: Dump) -> int:
    return next(p for p, (c, _s, _pp) in parse_stat(dump.truth("stat.txt")).items()
                if c == "pcfix-sleeper1")


def test_struct_members_of_a_task(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    task = session.task("pcfix-sleeper1").value_()
    out = str(session.run(f"struct task_struct.pid,comm {task:x}")).splitlines()
    assert out == [f"  pid = {_sleeper(dump)},", '  comm = "pcfix-sleeper1\\000",']
    layout = str(session.run("struct list_head -o")).splitlines()
    assert layout == ["struct list_head {", "  [0] struct list_head *next;",
                      "  [8] struct list_head *prev;", "}", "SIZE: 16"]


def test_p_prints_as_crash_does(session) -> None:  # type: ignore[no-untyped-def]
    comm = str(session.run("p init_task.comm")).strip()
    assert re.fullmatch(r'\$\d+ = "swapper/0\\000\\000\\000\\000\\000\\000"', comm)
    jiffies = str(session.run("p jiffies")).strip()
    m = re.fullmatch(r"jiffies = \$\d+ = (\d+)", jiffies)
    assert m and int(m.group(1)) == session.prog["jiffies"].value_()
    addr = str(session.run("p &init_task")).strip()
    assert addr.endswith(f"(struct task_struct *) {session.prog['init_task'].address_:#x} "
                         "<init_task>")
    pid = str(session.run("p ((struct task_struct *)&init_task)->tasks.next->prev == "
                          "&init_task.tasks")).strip()
    assert pid.endswith("= 1")
    per_cpu = session.run("p runqueues:1").rows[0]
    assert {m.name: m.value for m in per_cpu.value.items}["cpu"] == 1
    assert "  cpu = 1," in str(session.run("p runqueues:1")).splitlines()
    numbers = [session.run("p 1").rows[0].number for _ in range(2)]
    assert numbers[1] == numbers[0] + 1


def test_whatis(session) -> None:  # type: ignore[no-untyped-def]
    assert str(session.run("whatis init_task")).strip() == "struct task_struct init_task;"
    assert str(session.run("whatis panic")).strip() == "void panic(const char *, ...);"
    assert str(session.run("whatis struct list_head")).splitlines()[-1] == "SIZE: 16"


def test_sym_of_an_address_inside_panic_round_trips(session) -> None:  # type: ignore[no-untyped-def]
    panic = session.prog.symbol("panic")
    row = session.run(f"sym {panic.address + 16:x}").rows[0]
    text = symbol_line(row)
    assert re.fullmatch(rf"{panic.address + 16:016x} \(T\) panic\+16 kernel/panic\.c: \d+",
                        text)
    back = session.run("sym panic").rows[0]
    assert back.address == panic.address and back.name == "panic" and back.offset == 0


def test_rd_s_on_the_panic_stack_shows_panic(session) -> None:  # type: ignore[no-untyped-def]
    frames = session.run("bt").rows[0].frames
    top = frames[0].stack_addr
    out = str(session.run(f"rd -s {top:x} 64"))
    assert re.search(r"\bpanic\+\d+\b", out)
    assert re.search(r"\bsysrq_handle_crash\+\d+\b", out)
    words = str(session.run("rd linux_banner 2")).splitlines()[0]
    assert words.endswith("   Linux version 6.")
    assert str(session.run("rd -a linux_banner")).split(":  ", 1)[1].startswith("Linux version ")


def test_dis_panic_5(session) -> None:  # type: ignore[no-untyped-def]
    rows = session.run("dis panic 5").rows
    assert len(rows) == 5
    assert rows[0].address == session.prog.symbol("panic").address
    assert rows[0].location == "panic" and rows[1].location.startswith("panic+")
    text = str(session.run("dis sysrq_handle_crash"))
    assert re.search(r"call\w*\s+0x[0-9a-f]+ <panic>", text)
    assert "drivers/tty/sysrq.c" in str(session.run("dis -l sysrq_handle_crash"))


def test_list_over_init_task_tasks_visits_every_process(session) -> None:  # type: ignore[no-untyped-def]
    entries = session.run("list -H init_task.tasks -o task_struct.tasks").rows
    ps = [r for r in session.run("ps").rows if r.pid != 0]
    leaders = [r for r in ps if session.task(str(r.pid)).tgid.value_() == r.pid]
    assert len(entries) == len(leaders)
    assert {e.address for e in entries} == {r.task for r in leaders}
    shown = session.run("list -H init_task.tasks -o task_struct.tasks "
                        "-s task_struct.pid").rows
    first = shown[0].struct
    assert first.type == "struct task_struct" and first.address == shown[0].address
    assert [(m.path, m.value.value, m.value.text) for m in first.members] == [("pid", 1, "1")]
    assert str(session.run("list -H init_task.tasks -o task_struct.tasks "
                           "-s task_struct.pid")).splitlines()[1] == "  pid = 1,"


def test_a_corrupted_list_ends_with_an_error(dump: Dump) -> None:
    import pycrash

    s = pycrash.open(str(dump.vmcore), str(dump.vmlinux))
    entries = s.run("list -H init_task.tasks -o task_struct.tasks").rows
    offset = s.prog.type("struct task_struct").member("tasks").offset
    victim = entries[3].address + offset  # the 4th process's list_head
    bad = 0xDEAD000000000100  # LIST_POISON1, as a freed entry would hold

    def overlay(address: int, count: int, offs: int, physical: bool) -> bytes:
        return bad.to_bytes(8, "little")[offs : offs + count]

    s.prog.add_memory_segment(victim, 8, overlay, False)  # next pointer only
    result = s.run("list -H init_task.tasks -o task_struct.tasks")
    assert len(result.rows) == 4
    assert result.errors == [result.errors[0]]
    assert f"invalid next pointer {bad:x}" in result.errors[0]
    # and a loop that never comes back to the head is named too
    loop_to = entries[1].address + offset

    def loop(address: int, count: int, offs: int, physical: bool) -> bytes:
        return loop_to.to_bytes(8, "little")[offs : offs + count]

    s.prog.add_memory_segment(victim, 8, loop, False)
    looped = s.run("list -H init_task.tasks -o task_struct.tasks")
    assert looped.errors and "loop" in looped.errors[0]
    assert len(looped.rows) == 4


def test_tree_and_search(session) -> None:  # type: ignore[no-untyped-def]
    areas = session.run("tree -t rbtree -o vmap_area.rb_node vmap_area_root").rows
    from drgn.helpers.linux.mm import for_each_vmap_area

    assert {a.address for a in areas} == {v.value_() for v in for_each_vmap_area(session.prog)}
    hits = session.run("search -c pycrash-fixture: marker").rows
    assert any("pycrash-fixture: marker before crash" in h.text for h in hits)
    pointers = session.run("search init_task").rows
    target = session.prog.symbol("init_task").address
    assert pointers and all(session.prog.read_u64(h.address) == target for h in pointers)
    assert all(h.value == target and h.text is None for h in pointers)


def test_eval_and_translations(session) -> None:  # type: ignore[no-untyped-def]
    ev = str(session.run("eval 4096 * 3")).splitlines()
    assert ev[0] == "hexadecimal: 3000  (12KB)" and ev[1] == "    decimal: 12288"
    assert str(session.run("ascii 6f6c6c6568")).strip() == "6f6c6c6568: hello"
    init = session.prog.symbol("init_task").address
    phys = session.run(f"vtop {init:x}").rows[0].physical
    assert phys is not None
    assert session.prog.read(phys, 64, True) == session.prog.read(init, 64)
    assert str(session.run("btop 10000")).strip() == "10000: 10"
    assert str(session.run("ptob 10")).strip() == "10: 10000"


def test_net_mount_irq_dev_timer_swap(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    names = {d.name for d in session.run("net").rows}
    assert {"lo", "pcfix0"} <= names
    mounts = {(m.devname, m.dirname, m.type) for m in session.run("mount").rows}
    truth = {tuple(line.split()[:3]) for line in dump.truth("mounts.txt").splitlines()}
    assert {(d, p, t) for d, p, t in truth} == mounts
    irqs = {r.irq: r for r in session.run("irq").rows}
    for line in dump.truth("interrupts.txt").splitlines()[1:]:
        head = line.split()
        if head[0].rstrip(":").isdigit():
            n = int(head[0].rstrip(":"))
            assert n in irqs, n
            # counts only grow between the snapshot and the crash
            counts = [irqs[n].counts[cpu] for cpu in (0, 1)]
            assert [int(x) for x in head[1:3]] <= counts or \
                all(a <= b for a, b in zip(map(int, head[1:3]), counts, strict=True))
    assert any(d.name == "mem" and d.major == 1 for d in session.run("dev").rows)
    assert session.run("dev -p").rows
    assert session.run("timer").rows
    assert session.run("swap").rows == []


@pytest.mark.parametrize("cmd,message", [
    ("p init_task.nosuch", "no member named 'nosuch'"),
    ("p (1 +", "invalid expression"),
    ("p nosuchsymbol", 'no symbol "nosuchsymbol"'),
    ("struct nosuchtype", "invalid data structure reference: nosuchtype"),
    ("whatis nosuchthing", "not a symbol or type"),
    ("sym nosuchsymbol", "symbol not found"),
    ("rd 10", "invalid kernel virtual address: 10"),
    ("dis 10", "dis: cannot read memory at 10"),
    ("list 10", "invalid next pointer 10"),
    ("search zzz", "invalid value or symbol: zzz"),
    ("eval 1/0", "division by zero"),
])
def test_bad_input_is_one_line(dump: Dump, cmd: str, message: str) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
    assert_one_line_error(run, message)
    assert run.err.count("\n") == 1


def test_struct_l_and_sym_m(session) -> None:  # type: ignore[no-untyped-def]
    first = session.prog["init_task"].tasks.next.value_()
    out = str(session.run(f"struct task_struct.pid -l task_struct.tasks {first:x}")).rstrip()
    assert out == "  pid = 1,"
    names = {r.name for r in session.run("sym -m dummy").rows}
    assert "dummy_setup" in names and "panic" not in names


def test_net_n_and_dev_d(session) -> None:  # type: ignore[no-untyped-def]
    assert {d.name for d in session.run("net -n 1").rows} >= {"lo", "pcfix0"}
    disks = {d.name: d for d in session.run("dev -d").rows}
    assert {"vda", "vdb"} <= set(disks)
    assert all(d.queue for d in disks.values())
