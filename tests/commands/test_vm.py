"""vm on the real dump against the guest's /proc/PID/stat."""

from __future__ import annotations

from conftest import Dump


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
