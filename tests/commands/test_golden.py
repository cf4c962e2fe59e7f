"""crash text is byte-identical to the recorded baseline's (issue 12's refactor).

The baseline is pycrash as it was before the refactor, commit :data:`BASELINE`, taken
from git into a temporary directory; both it and the working tree run the same command
lines (``tests/golden/commands.txt``) on the same real dump in one session each, and
every command's stdout and stderr must be the same bytes.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import pytest
from conftest import ROOT, Dump, _fixture_module, fixture_dump

#: main before issue 12's refactor began.
BASELINE = "18591bb59e97ba521455f71b15ae33104c1df2be"
HERE = ROOT / "tests" / "golden"
#: Lines whose text changed on purpose since the baseline, and why: each must differ from
#: the baseline (so the list stays true) and is checked by its own test.
CHANGED = {
    "kmem -f":
        "each zone's line (NAME, SIZE, FREE, MEM_MAP, START_PADDR, START_MAPNR) above its free "
        "areas, empty zones too, as crash 8.0.2 prints them (tests/commands/test_kmem_flags.py::"
        "test_kmem_f_F_and_m_are_crash_s_text)",
    "vm":
        "the mm line's columns centred and the VMA line's START/END in ten columns, FLAGS "
        "in six, as crash 8.0.2 prints them (tests/commands/test_vm_flags.py::"
        "test_vm_p_P_and_R_are_crash_s_text)",
    "vm 1":
        "the mm line's columns centred and the VMA line's START/END in ten columns, FLAGS "
        "in six, as crash 8.0.2 prints them (tests/commands/test_vm_flags.py::"
        "test_vm_p_P_and_R_are_crash_s_text)",
    "foreach user vm":
        "each task's mm line and VMA lines in crash's columns, as vm's (tests/commands/"
        "test_vm_flags.py::test_vm_p_P_and_R_are_crash_s_text)",
    "vm -p 1":
        "each VMA under its own heading, physical addresses right-aligned, FILE: and OFFSET: "
        "for file pages not in memory, as crash 8.0.2 prints them (tests/commands/"
        "test_vm_flags.py::test_vm_p_P_and_R_are_crash_s_text)",
    "mount":
        "the directory padded to ten columns and a long type's device name column shortened, "
        "as crash 8.0.2 prints them (tests/commands/test_mount_flags.py::"
        "test_mount_and_mount_n_are_crash_s_text)",
    "irq -s":
        "crash's columns: each count in ten columns and a space, the chip and the flow "
        "handler's name (IO-APIC-edge), the handlers joined by commas, as crash 8.0.2 prints "
        "them (tests/commands/test_irq_flags.py::test_irq_flags_are_crash_s_text)",
    "task":
        "the structs of an array (pid_links) indented two further than its braces, as gdb"
        " prints them for crash "
        "(tests/commands/test_task.py::test_task_array_of_structs_indented_as_crash); a "
        "pointer into a kernel symbol followed by <symbol+offset>, an empty struct {<No "
        "data fields>}, no <repeats> "
        "(tests/commands/test_p.py::test_p_names_pointers_into_kernel_symbols_as_gdb); "
        "and the task's struct thread_info after it and an empty line after each task, as "
        "crash 8.0.2's task prints them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "task 1":
        "as task above "
        "(tests/commands/test_task.py::test_task_array_of_structs_indented_as_crash, "
        "tests/commands/test_p.py::test_p_names_pointers_into_kernel_symbols_as_gdb); its "
        "thread_info and an empty line after each task, as above "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "kmem -S kmalloc-64":
        "a free object of a CPU's active slab is marked (cpu N cache) and a free object's "
        "line ends in two spaces, as crash prints them; each CPU's kmem_cache_cpu, slab "
        "and partial slabs and each node's counts and lists as crash 8.0.2 lays them out "
        "(tests/commands/test_kmem.py::test_kmem_views_equal_crash_on_6_1)",
    "ps 'kworker.*'":
        "a quoted name is a regular expression over command names, as crash takes it; the "
        "baseline found no task of that name (tests/commands/test_ps.py::"
        "test_ps_flags_match_crash_where_crash_sees_every_task)",
    "ps -G":
        "only thread group leaders, as crash's -G; the baseline refused the flag "
        "(tests/commands/test_ps.py::test_ps_A_G_y_s_against_the_guest)",
    "dis panic 5":
        "x86-64 as gdb writes AT&T, as crash 8.0.2 prints it (tests/commands/test_dis.py::"
        "test_dis_is_gdb_s_att_text_as_crash_prints_it)",
    "dis -l schedule 3":
        "x86-64 as gdb writes AT&T, as crash 8.0.2 prints it (tests/commands/test_dis.py::"
        "test_dis_is_gdb_s_att_text_as_crash_prints_it)",
    "dis -u sysrq_handle_crash":
        "x86-64 as gdb writes AT&T, as crash 8.0.2 prints it (tests/commands/test_dis.py::"
        "test_dis_is_gdb_s_att_text_as_crash_prints_it)",
    "list -o 8 -s list_head init_task.tasks":
        "without -h or -H each next pointer is the next entry itself, as crash walks such a "
        "list (here the prev pointers, back round to the start) (tests/commands/test_list.py::"
        "test_list_positional_offset_and_h_as_crash)",
    "struct task_struct.pid,comm init_task 2":
        "an empty line between the objects of a count, as crash prints them "
        "(tests/commands/test_struct.py::test_struct_negative_count_shows_the_preceding_objects)",
    "struct -o list_head":
        "offsets right-aligned in the width of the size plus four, nested members with "
        "theirs, as crash 8.0.2 prints them (tests/commands/test_struct.py::"
        "test_struct_o_of_bitfields_and_nested_members_as_crash)",
    "foreach 'kthread.*' task -R pid":
        "each task's header once, as crash prints it; the baseline printed it twice "
        "(tests/commands/test_foreach.py::test_foreach_task_header_once)",
    "help":
        "repeat is a registered command now and help lists it, as crash's does, and the new "
        "mach command "
        "(tests/commands/test_repeat.py::test_repeat_is_a_listed_command)",
    "kmem -p 0x1000":
        "a number below the kernel's space is a physical address, as crash takes it; the "
        "baseline read it as a struct page and failed (tests/commands/test_kmem.py::"
        "test_kmem_p_takes_physical_and_kernel_addresses)",
    "help ps":
        "ps documents -m, -C and -b (tests/commands/test_ps.py::"
        "test_ps_l_and_m_print_crash_lines_in_crash_order)",
    "ps -l":
        "the timestamps are right-aligned to the most recent one's width, as crash prints "
        "them (tests/commands/test_ps.py::test_ps_l_and_m_print_crash_lines_in_crash_order)",
    "ll":
        "the alias of ps -l, as above (tests/commands/test_ps.py::"
        "test_ps_l_and_m_print_crash_lines_in_crash_order)",
    "runq -t":
        "crash's runq -t: each CPU's clock and its task's last-run stamp; the baseline added "
        "a CLOCK line to the run queues (tests/commands/test_runq.py::"
        "test_runq_timing_is_crash_s)",
    "runq -t -c 1":
        "crash's runq -t, as above (tests/commands/test_runq.py::test_runq_timing_is_crash_s)",
    "eval 1 + 2":
        "the hexadecimal and decimal lines end in crash's two spaces (tests/commands/"
        "test_convert.py::test_eval_flags_and_ptov_per_cpu_as_crash)",
    "eval -b 0x10":
        "crash's bits set line, and its two spaces (tests/commands/test_convert.py::"
        "test_eval_flags_and_ptov_per_cpu_as_crash)",
    "eval -1":
        "the hexadecimal and decimal lines end in crash's two spaces (tests/commands/"
        "test_convert.py::test_eval_flags_and_ptov_per_cpu_as_crash)",
    "ptov 0x1000":
        "the columns padded to 16 as crash pads them (tests/commands/test_convert.py::"
        "test_eval_flags_and_ptov_per_cpu_as_crash)",
    "ptov 0 1000":
        "a header per address and an empty line between them, as crash prints them "
        "(tests/commands/test_convert.py::test_eval_flags_and_ptov_per_cpu_as_crash)",
    "whatis pid_t":
        "a typedef of a base type names the base type and its size, as crash 8.0.2 prints "
        "it (tests/commands/test_whatis.py::test_whatis_o_r_m_and_typedefs_as_crash)",
    "whatis enum pid_type":
        "crash's enum list: one enumerator a line without commas, then }; (tests/commands/"
        "test_whatis.py::test_whatis_o_r_m_and_typedefs_as_crash)",
    "task -R pid,comm 1":
        "no run of equal array elements collapsed to <repeats N times>, as crash's gdb "
        "prints them (tests/commands/test_p.py::test_arrays_are_shown_whole_as_crash); an"
        " empty line after each task, as above "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "tree -t rbtree -o vmap_area.rb_node vmap_area_root":
        "each node before its left and right subtrees, as crash lists a red-black tree "
        "(sort order is -l) (tests/commands/test_tree.py::test_tree_order_r_l_p_N_S_as_crash)",
    "tree -t rbtree -o vmap_area.rb_node -s vmap_area.va_start,va_end vmap_area_root":
        "crash's order, as above (tests/commands/test_tree.py::"
        "test_tree_order_r_l_p_N_S_as_crash)",
    "search -w 0xdeadbeef":
        'crash\'s "ADDRESS: VALUE " with its space after the value '
        "(tests/commands/test_search.py::test_search_m_x_l_and_names_as_crash); each hit "
        "also at its kernel-image (and vmalloc) alias, as crash 8.0.2 searches them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "net":
        "a device's name padded to six columns and a space before its addresses, none or "
        "not, as crash prints it (tests/commands/test_net.py::"
        "test_net_s_and_S_print_each_task_header_and_its_sockets_as_crash)",
    "net -n":
        "as net, above (tests/commands/test_net.py::"
        "test_net_s_and_S_print_each_task_header_and_its_sockets_as_crash)",
    "net -s 1":
        "the task's header, then its sockets or No open sockets., as crash prints them; the "
        "baseline printed a table heading only (tests/commands/test_net.py::"
        "test_net_s_and_S_print_each_task_header_and_its_sockets_as_crash)",
    "sys -i":
        "sys -i prints the firmware's DMI strings as crash 8.0.2; the baseline refused -i "
        "(tests/commands/test_sys.py::test_sys_i_prints_the_firmware_strings_as_crash)",
    "dis -r panic+20":
        "addresses take symbol+offset (cmdlib.resolve); the baseline refused it with a "
        "doubled prefix (tests/commands/test_dis.py::"
        "test_dis_r_ends_with_the_instruction_holding_the_address)",
    "ps -p":
        "each ancestry ends with an empty line and goes through task->parent (an idle task "
        "descends from init_task), as crash 8.0.2 prints it "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "ps -c":
        "children are the tasks whose task->parent the task is (init_task's include the idle "
        "tasks), each list ends with an empty line, as crash 8.0.2 prints them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "ps -t":
        "tasks in start-time order, each ending with an empty line, the run time from the "
        "jiffies uptime as sys counts it "
        "(tests/commands/test_crash_layout.py::test_ps_t_equals_crash_but_the_run_time)",
    "ps -g 1":
        "an empty line after each thread group, as crash 8.0.2 prints it "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "ps -r 1":
        "the limits centred in their columns and an empty line after each task, as crash "
        "8.0.2 prints them (tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "ps -S":
        "the states in the order crash 8.0.2 meets them in its task list "
        "(tests/commands/test_crash_layout.py::test_ps_S_counts_states_in_the_order_crash_meets_them)",
    "task -x -R stack 1":
        "an empty line after each task, as above "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "files 1":
        "a task named by its pid ends with an empty line, as crash 8.0.2 prints it "
        "(tests/commands/test_crash_layout.py::test_files_of_a_task_address_ends_without_an_empty_line)",
    "log":
        "a message's further lines are indented past its time, as crash 8.0.2 prints them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "log -T":
        "the time zone before the year and further lines indented, as crash 8.0.2 prints them "
        "(tests/commands/test_crash_layout.py::test_log_T_equals_crash_but_the_seconds)",
    "log -m":
        "further lines indented past the time and level, as crash 8.0.2 prints them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "ascii 0x6b7361":
        "16 digits and eight characters, control characters named, as crash 8.0.2 prints them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "ascii 6c6c6568 0":
        "as above (tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "vtop ffffffff81000000":
        "crash 8.0.2's vtop: the page-table walk, the PTE decoded and the struct page "
        "(tests/commands/test_crash_layout.py::test_vtop_equals_crash)",
    "vtop -k ffffffff81000000":
        "as above (tests/commands/test_crash_layout.py::test_vtop_equals_crash)",
    "kmem ffffffff81000000":
        "crash 8.0.2's kmem_search(): the symbol, an empty line, then the page "
        "(tests/commands/test_crash_layout.py::test_vtop_and_kmem_address_equal_crash)",
    "sym panic":
        "the source file under the kernel's compilation directory, as crash 8.0.2 (gdb) names "
        "it (tests/commands/test_sym.py::test_sym_of_an_address_inside_panic_round_trips)",
    "sym -l":
        "the vmlinux's symbol table as crash 8.0.2 reads it through BFD, then the modules' "
        "(tests/commands/test_sym.py::test_sym_l_is_crash_s_list)",
    "set 1":
        "the space crash 8.0.2 prints after the state "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "sym nosuchsymbol":
        "crash 8.0.2's 'symbol not found' and its possible alternatives "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "sym nosuchsym panic":
        "as above, in the order of the arguments "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "dev":
        "crash 8.0.2's columns: each major's cdev and gendisk with their operations' symbols, "
        "in the order of the kernel's slots "
        "(tests/commands/test_dev.py::test_dev_and_dev_d_equal_crash_on_6_1)",
    "dev -d":
        "crash 8.0.2's layout, ram and loop devices left out "
        "(tests/commands/test_dev.py::test_dev_and_dev_d_equal_crash_on_6_1)",
    "irq":
        "every interrupt number below nr_irqs, (unused) where it has no descriptor or "
        "handler, as crash 8.0.2 lists them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "irq -a":
        "CPU runs as crash 8.0.2 writes them (0-1), names joined by commas "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "timer":
        "crash 8.0.2's timer: each CPU's BASE_STD and BASE_DEF wheels with their addresses, "
        "TTE and each function's address "
        "(tests/commands/test_timer.py::test_timer_equals_crash_on_6_1)",
    "timer -r":
        "crash 8.0.2's timer -r: each CPU's hrtimer clock bases with their current time, soft "
        "and hard expiries and TTE "
        "(tests/commands/test_timer.py::test_timer_equals_crash_on_6_1)",
    "kmem -z":
        "crash 8.0.2's kmem -z: each zone's vm_stat counters, PRESENT only when fewer than "
        "spanned (tests/commands/test_kmem.py::test_kmem_views_equal_crash_on_6_1)",
    "kmem -V":
        "crash 8.0.2's kmem -V: the counters named as crash names them, aligned per group, "
        "and the per-CPU vm events "
        "(tests/commands/test_kmem.py::test_kmem_views_equal_crash_on_6_1)",
    "kmem -n":
        "crash 8.0.2's kmem -n: each node's zones, the memory sections and the memory blocks "
        "(tests/commands/test_kmem.py::test_kmem_views_equal_crash_on_6_1)",
    "search -c pycrash-fixture":
        "56 bytes of context from each hit, as far as its page goes, and the kernel-image "
        "alias, as crash 8.0.2 prints them "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "ptob 16":
        "a number of decimal digits is decimal, as crash 8.0.2 reads it "
        "(tests/commands/test_crash_layout.py::test_text_equals_crash)",
    "dev -p":
        "crash 8.0.2's PCI tree: each root bus, its devices with their class, ids and PCIe "
        "type, then the buses below "
        "(tests/commands/test_dev.py::test_dev_and_dev_d_equal_crash_on_6_1)",
}


def _git(*args: str) -> bytes:
    """Return the output of a git command on the baseline (failing the test without it)."""
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], check=True,
                              capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        pytest.fail(f"the baseline commit {BASELINE[:12]} is not in this clone's history: "
                    f"{err.decode(errors='replace').strip() or exc}")


def _baseline_tree(dest: Path) -> Path:
    """Unpack the baseline's pycrash (with commands/ and plugins/ where the install puts them)
    into ``dest``; return the directory to put first on ``sys.path``.

    The baseline gets its own distribution metadata there too, with the entry points its
    pyproject.toml declared: the installed metadata is the working tree's, and the
    baseline must not try to import command modules it does not have.
    """
    blob = _git("archive", "--format=tar", BASELINE, "pycrash", "commands", "plugins")
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else \
            tar.extractall(dest)  # noqa: S202
    (dest / "commands").rename(dest / "pycrash" / "commands")
    (dest / "plugins").rename(dest / "pycrash" / "plugins")
    pyproject = _git("show", f"{BASELINE}:pyproject.toml").decode()
    group = pyproject.split('[project.entry-points."pycrash.commands"]\n', 1)[1].split("\n[")[0]
    entries = [line.replace('"', "") for line in group.splitlines()
               if "=" in line and not line.startswith("#")]
    info = dest / "pycrash_kdump-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pycrash-kdump\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text("[pycrash.commands]\n" + "\n".join(entries) + "\n")
    return dest


def _run(pythonpath: Path, dump: Dump, out: Path) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    proc = subprocess.run([sys.executable, str(HERE / "driver.py"), str(dump.vmlinux),
                           str(dump.vmcore), str(HERE / "commands.txt"), str(out)],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc: dict = json.loads(out.read_text())  # type: ignore[type-arg]
    assert doc["pycrash"].startswith(str(pythonpath)), doc["pycrash"]
    return doc


def _dumps() -> list[str]:
    names = ["small"]
    if _fixture_module().find("large") is not None:  # bench's fixture, when this machine has it
        names.append("large")
    return names


@pytest.mark.parametrize("name", _dumps())
def test_crash_text_identical_to_baseline(name: str, tmp_path: Path) -> None:
    dump = fixture_dump(name)
    old = _run(_baseline_tree(tmp_path / "baseline"), dump, tmp_path / "old.json")
    new = _run(ROOT, dump, tmp_path / "new.json")
    assert len(old["results"]) == len(new["results"]) > 100
    diffs = []
    for a, b in zip(old["results"], new["results"], strict=True):
        if a["command"] in CHANGED:
            assert a != b, f"{a['command']}: no longer differs; drop it from CHANGED"
            continue
        for stream in ("out", "err"):
            if a[stream] != b[stream]:
                diff = difflib.unified_diff(a[stream].splitlines(), b[stream].splitlines(),
                                            "baseline", "now", lineterm="", n=1)
                diffs.append(f"$ {a['command']} ({stream})\n" + "\n".join(list(diff)[:20]))
    assert not diffs, "\n\n".join(diffs[:10])
    # the commands did real work: most wrote crash text
    assert sum(1 for r in new["results"] if r["out"].count("\n") > 1) > 80
