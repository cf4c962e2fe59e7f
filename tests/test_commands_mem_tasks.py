"""kmem, mod, task, set, foreach, files, vm, runq, sig, ps and bt flags on the real dump."""

from __future__ import annotations

import re

import pytest
from conftest import Dump, assert_one_line_error, parse_stat, pycrash


def _slabinfo(dump: Dump) -> dict[str, tuple[int, int, int]]:
    out = {}
    for line in dump.truth("slabinfo.txt").splitlines()[2:]:
        f = line.split()
        out[f[0]] = (int(f[1]), int(f[2]), int(f[3]))
    return out


def test_kmem_s_has_every_cache_of_slabinfo(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    """Every cache of /proc/slabinfo, with the same object count within the drift.

    The guest copies slabinfo a moment before the crash and then goes on reading
    /proc/PID/* of every task (proc inodes, dentries, LSM blobs, files, maple
    nodes) and writing its truth archive to a block device (buffer heads, bios,
    biovecs): those caches grow by up to a few hundred objects before the crash.
    So: most caches match exactly, none differs by more than 300 objects, and the
    total differs by less than 2%.
    """
    rows = {r.name: r for r in session.run("kmem -s").rows}
    truth = _slabinfo(dump)
    assert set(rows) == set(truth)
    exact = [n for n in truth if rows[n].total == truth[n][1]]
    assert len(exact) >= 0.9 * len(truth), sorted(set(truth) - set(exact))
    for name, (_active, num_objs, size) in truth.items():
        r = rows[name]
        # OBJSIZE is object_size; slabinfo's objsize column is the padded size
        assert r.objsize <= size
        assert abs(r.total - num_objs) <= 300, (name, r.total, num_objs)
    assert abs(sum(r.total for r in rows.values()) - sum(t[1] for t in truth.values())) \
        <= 0.02 * sum(t[1] for t in truth.values())


def test_kmem_s_matches_crash(dump: Dump) -> None:
    import shutil
    import subprocess

    if not shutil.which("crash"):
        pytest.fail("the crash utility is not installed (the test command installs it)")
    theirs = subprocess.run(["crash", "-s", str(dump.vmlinux), str(dump.vmcore)],
                            input="kmem -s\nq\n", capture_output=True, text=True).stdout
    ours = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "kmem -s").out
    header = "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME"
    assert ours.splitlines()[0] == header
    their_rows = {line.split()[-1]: line.split() for line in theirs.splitlines()
                  if re.match(r"^[0-9a-f]{16} ", line)}
    our_rows = {line.split()[-1]: line.split() for line in ours.splitlines()[1:]}
    assert set(our_rows) == set(their_rows)
    for name, ours_f in our_rows.items():
        # every column as crash reads it from the same dump: ALLOCATED counts the
        # objects on each CPU's freelist and its active slab's remote-free list as free
        assert ours_f == their_rows[name], name


def test_kmem_i_agrees_with_meminfo(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    info = {r.name: r.pages for r in session.run("kmem -i").rows}
    mem = {k: int(v) for k, v in re.findall(r"^(\w+): +(\d+) kB", dump.truth("meminfo.txt"),
                                            re.M)}
    assert info["TOTAL MEM"] * 4 == mem["MemTotal"]
    # free memory moves while the guest writes its truth files and loads nothing else:
    # within 1% of MemFree
    assert abs(info["FREE"] * 4 - mem["MemFree"]) <= 0.01 * mem["MemFree"]
    assert info["USED"] == info["TOTAL MEM"] - info["FREE"]
    text = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "kmem -i").out.splitlines()
    assert text[0] == "                 PAGES        TOTAL      PERCENTAGE"
    assert re.match(r"^    TOTAL MEM +\d+ +[\d.]+ MB +----$", text[1])
    assert re.match(r"^         FREE +\d+ +[\d.]+ MB +\d+% of TOTAL MEM$", text[2])


def _pid(dump: Dump, comm: str) -> int:
    """The pid the guest gave a named process (pids differ from build to build)."""
    return next(p for p, (c, _s, _pp) in parse_stat(dump.truth("stat.txt")).items()
                if c == comm)


def test_kmem_address_names_slab_object_and_task_stack(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    detail = session.run("kmem -S kmalloc-1k").rows[0]
    addr = next(o.address for s in detail.slabs for o in s.objects if o.allocated)
    info = session.run(f"kmem {addr + 16:x}").rows[0]
    assert info.kind == "slab" and info.slab.cache.name == "kmalloc-1k"
    assert info.slab.object == addr and info.slab.allocated
    text = str(session.run(f"kmem {addr + 16:x}"))
    assert f"[{addr:016x}]" in text and "kmalloc-1k" in text
    frame = session.run("bt pcfix-sleeper1").rows[0].frames[1]
    stack = session.run(f"kmem {frame.stack_addr:x}").rows[0]
    assert stack.kind == "stack" and stack.task.comm == "pcfix-sleeper1"
    pid = _pid(dump, "pcfix-sleeper1")
    assert f"kernel stack of PID: {pid} " in str(session.run(f"kmem {frame.stack_addr:x}"))


def test_kmem_other_views(session) -> None:  # type: ignore[no-untyped-def]
    zones = session.run("kmem -z").rows
    assert {z.name for z in zones} >= {"DMA", "DMA32"}
    free = {r.name: r.pages for r in session.run("kmem -i").rows}["FREE"]
    assert sum(z.free for z in zones) == free
    assert str(session.run("kmem -f")).rstrip().endswith(f"nr_free_pages: {free}  (verified)")
    counters = {c.name: c.value for c in session.run("kmem -V").rows}
    assert counters["NR_FREE_PAGES"] == free
    assert session.run("kmem -n").rows[0].node == 0


def test_files_of_pcfix_files(session) -> None:  # type: ignore[no-untyped-def]
    tf = session.run("files pcfix-files").rows[0]
    fds = {f.fd: f for f in tf.files}
    assert fds[3].path == "/tmp/work/hello.txt" and fds[3].type == "REG"
    assert fds[4].path == "/tmp/work/out.log"
    assert fds[0].path == "/dev/null" and fds[0].type == "CHR"
    text = str(session.run("files pcfix-files"))
    assert re.search(r"^  3 [0-9a-f]{16} [0-9a-f]{16} [0-9a-f]{16} REG  /tmp/work/hello.txt$",
                     text, re.M)
    assert "ROOT: /    CWD: /" in text


def test_foreach_regex_bt_prints_one_trace_per_pcfix_task(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "foreach 'pcfix-.*' bt")
    assert run.rc == 0, run.err
    headers = re.findall(r'^PID: (\d+) .*COMMAND: "(pcfix-[^"]+)"$', run.out, re.M)
    assert sorted(c for _, c in headers) == ["pcfix-files", "pcfix-sleeper1",
                                             "pcfix-sleeper2", "pcfix-sleeper3"]
    assert run.out.count("PID: ") == 4
    assert run.out.count(" do_wait at ") == 4


def test_task_and_set_context(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    pid = _pid(dump, "pcfix-sleeper1")
    result = session.run("task -R pid,comm,real_parent.pid pcfix-sleeper1")
    view = result.rows[0]
    # the members as data: their values as numbers where they are numbers
    assert [(m.path, m.value.value) for m in view.members] == [
        ("pid", pid), ("comm", None), ("real_parent.pid", 1)]
    assert view.members[1].value.text == '"pcfix-sleeper1\\000"'
    assert view.task.pid == pid and view.value is None
    assert str(result).splitlines()[1:] == [f"  pid = {pid},", '  comm = "pcfix-sleeper1\\000",',
                                            "  real_parent.pid = 1,"]
    session.run(f"set {pid}")
    try:
        assert session.run("bt").rows[0].task.pid == pid
        assert str(session.run("task -R pid")).splitlines()[1:] == [f"  pid = {pid},"]
    finally:
        session.run("set -p")
    assert session.run("bt").rows[0].task.pid == session.panic_task.pid.value_()


def test_vm_matches_proc_stat(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    stat_line = next(line for line in dump.truth("stat.txt").splitlines()
                     if " (pcfix-sleeper1) " in line)
    fields = stat_line.rsplit(") ", 1)[1].split()
    vsize, rss_pages = int(fields[20]), int(fields[21])
    tv = session.run("vm pcfix-sleeper1").rows[0]
    assert tv.total_vm_kb == vsize // 1024
    # /proc/PID/stat's rss leaves out the counts a task caches until it syncs them
    # (SPLIT_RSS_COUNTING); vm adds them, as ps does, so it can only be larger
    assert rss_pages * 4 <= tv.rss_kb <= tv.total_vm_kb
    assert any(v.file == "/bin/busybox" for v in tv.vmas)
    assert sum(v.end - v.start for v in tv.vmas) == vsize
    pages = session.run("vm -p pcfix-sleeper1").rows[0].vmas[0].pages
    assert pages and all(p.virtual % 4096 == 0 for p in pages)
    assert any(p.physical is not None for p in pages)


def test_runq_and_sig(session) -> None:  # type: ignore[no-untyped-def]
    queues = session.run("runq").rows
    assert [q.cpu for q in queues] == [0, 1]
    assert queues[1].current.task == session.panic_task.value_()
    ts = session.run("sig 1").rows[0]
    assert len(ts.actions) == 64 and ts.nr_threads == 1
    assert str(session.run("sig 1")).splitlines()[1].startswith("SIGNAL_STRUCT: ")


def test_foreach_task_header_once(session) -> None:  # type: ignore[no-untyped-def]
    lines = str(session.run("foreach 'kthread.*' task -R pid")).splitlines()
    assert lines[0].startswith("PID: 2 ") and lines[1] == "  pid = 2,", lines[:3]
    assert sum(1 for line in lines if line.startswith("PID: ")) == lines.count("") + 1


def test_ps_views(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    truth = parse_stat(dump.truth("stat.txt"))
    sleeper = _pid(dump, "pcfix-sleeper1")
    child = next(p for p, (c, _s, pp) in truth.items() if pp == sleeper)
    fam = session.run(f"ps -p {child}").rows[0]
    assert [t.pid for t in fam.related] == [0, 1, sleeper, child]
    kids = {t.pid for t in session.run("ps -c 1").rows[0].related}
    assert {p for p, (_c, _s, pp) in truth.items() if pp == 1} <= kids
    counts = {r.state: r.count for r in session.run("ps -S").rows}
    assert sum(counts.values()) == len(session.run("ps").rows)
    limits = {x.name: x for x in session.run("ps -r 1").rows[0].limits}
    assert limits["NOFILE"].current == 1024 and limits["CPU"].current is None
    assert session.run("ps -g 1").rows[0].related == []
    t1, t2 = session.run(f"ps -t 1 {sleeper}").rows
    assert t1.start_time < t2.start_time
    last = [r.last_arrival for r in session.run("ps -l").rows]
    assert last == sorted(last, reverse=True)
    args = session.run("ps -a 1").rows[0]
    assert args.arg is not None or "excluded" in (args.error or "")


def test_bt_flags(session, dump: Dump) -> None:  # type: ignore[no-untyped-def]
    panic_cpu = session.panic_task.cpu.value_() if hasattr(session.panic_task, "cpu") else 1
    by_cpu = session.run(f"bt -c {panic_cpu}").rows[0]
    assert by_cpu.task.pid == session.panic_task.pid.value_()
    text = session.run("bt -t").rows[0]
    assert any(w.name == "panic" for w in text.words)
    assert text.start is not None and text.start.name == "machine_kexec"
    exc = session.run("bt -e").rows[0]
    assert any(e.user and e.frame.regs["CS"] == 0x33 for e in exc.exceptions)
    raw = str(session.run("bt -r")).splitlines()
    assert len(raw) > 500 and re.match(r"^[0-9a-f]{16}:  ", raw[1])
    assert re.search(r"^ #\d \[[0-9a-f]{16}\] panic\+\d+ at [0-9a-f]+$",
                     str(session.run("bt -s")), re.M)
    assert re.search(r"panic\+0x[0-9a-f]+ at", str(session.run("bt -x")))


def test_mod_loads_module_debuginfo(dump: Dump) -> None:
    ko = dump.dir / "modules-debug" / "dummy.ko"
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore),
                  "-x", f"mod -s dummy {ko}; sym dummy_setup; mod -t")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    assert lines[1].split()[1] == "dummy" and lines[1].endswith(str(ko))
    assert re.match(r"^[0-9a-f]{16} \(t\) dummy_setup \[dummy\] drivers/net/dummy\.c: \d+$",
                    lines[2])
    assert lines[3] == "no tainted modules"
    every = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "mod -S")
    loaded = [line for line in every.out.splitlines() if line.endswith(".ko")]
    assert {line.split()[1] for line in loaded} == {"dummy", "loop"}


@pytest.mark.parametrize("cmd,message", [
    ("files 99999", "files: invalid task or pid value: 99999"),
    ("vm 99999", "vm: invalid task or pid value: 99999"),
    ("task nosuchtask", "task: no task named 'nosuchtask'"),
    ("kmem -S nosuch", "kmem: invalid slab cache: nosuch"),
    ("kmem 1234", "kmem: 1234: not a kernel address"),
    ("runq -c 9", "runq: invalid cpu: 9"),
    ("mod -s nosuch", "mod: cannot find a debuginfo file for nosuch"),
    ("mod -s nosuch /etc/passwd", "mod: module not loaded: nosuch"),
    ("bt -c 9", "bt: invalid cpu: 9"),
    ("foreach 'zz.*' bt", "foreach: no task matches"),
])
def test_bad_input_is_one_line(dump: Dump, cmd: str, message: str) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", cmd)
    assert_one_line_error(run, message)
    assert run.err.count("\n") == 1
