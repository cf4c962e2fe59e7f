"""pycrash triage on real dumps: the small fixture in every form (default run), the
whole zoo corpus and the Ray and Dask engines (the kernel matrix: PYCRASH_MATRIX=1).

Expected buckets come from how the fixtures were made (testdata/zoo/pcfix_oops.c and
testdata/fixture.py) and the guests' console logs, not from pycrash's own output: the
small guest crashes with sysrq (sysrq_handle_crash calls panic()); the zoo's module
oopses in pcfix_deref (NULL write) and pcfix_timer_deref (from its timer), BUGs in
pcfix_bug, WARNs in pcfix_warn, spins in pcfix_spin; its waiters block in
pcfix_waiter_fn, the ABBA pair in pcfix_abba_fn, the rwsem readers in pcfix_reader_fn.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MATRIX, Dump, fixture_dump, pycrash
from triagecorpus import bad_files, flatten, link

SMALL_BUCKET = "sysrq:sysrq_handle_crash"
ZOO_BUCKETS = {
    "zoo-oops": "oops:pcfix_deref",
    "zoo-bug": "bug:pcfix_bug",
    "zoo-timer": "oops:pcfix_timer_deref",
    "zoo-warn": "warn:pcfix_warn",
    "zoo-hung": "hung_task:pcfix_waiter_fn",
    "zoo-abba": "hung_task:pcfix_abba_fn",
    "zoo-rwsem": "hung_task:pcfix_reader_fn",
    "zoo-softlockup": "soft_lockup:pcfix_spin",
    "zoo-oom": "oom",
}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _triage(*args: str) -> None:
    run = pycrash("triage", *args, "-q", timeout=1800)
    assert run.rc == 0, run.err
    assert "Traceback" not in run.err, run.err


def _small_corpus(dump: Dump, root: Path) -> dict[str, Path]:
    """The small fixture as kdump (with its vmlinux beside it), ELF and flattened (each
    alone: tier 0), a hard-linked copy of the kdump, and the bad files."""
    out = {"kdump": link(dump.vmcore, root / "kdump" / "vmcore.kdump")}
    link(dump.vmlinux, root / "kdump" / dump.vmlinux.name)
    for form in ("elf", "flat"):
        if (dump.dir / f"vmcore.{form}").exists():
            out[form] = link(dump.dir / f"vmcore.{form}", root / form / f"vmcore.{form}")
    out["copy"] = link(dump.vmcore, root / "copy" / "vmcore-copy.kdump", hard=True)
    bad_files(root / "bad", truncate_from=dump.vmcore)
    return out


def test_small_fixture_every_form_one_bucket(dump: Dump, tmp_path: Path) -> None:
    files = _small_corpus(dump, tmp_path / "in")
    out = tmp_path / "out"
    _triage(str(tmp_path / "in"), "-o", str(out))
    records = _jsonl(out / "records.jsonl")
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in files.values())
    assert {r["signature"] for r in records} == {SMALL_BUCKET}
    buckets = _jsonl(out / "buckets.jsonl")
    assert [(b["signature"], b["count"]) for b in buckets] == [(SMALL_BUCKET, len(files))]
    by_path = {Path(r["path"]).parent.name: r for r in records}
    uname = dump.truth("uname.txt")
    for r in records:
        assert r["release"] == dump.release and r["release"] in uname
        assert r["arch"] == "x86_64" and r["class"] == "sysrq"
        assert r["panic_message"] == "sysrq triggered crash"
        assert any("sysrq: Trigger a crash" in line for line in r["log_tail"] + r["report_lines"])
        assert r["taint"] == "" and r["build_id"]
        # tier 0 reads a small part of the dump (the headers, the log's pages)
        assert 0 < r["t0_bytes_read"] < r["size"] or r["format"].startswith("flattened")
    # the kdump had its vmlinux beside it: the full report; its copy shares the reading
    assert by_path["kdump"]["tier"] == 2 and by_path["copy"]["tier"] == 2
    assert by_path["kdump"]["verdict"]["function"] == "sysrq_handle_crash"
    assert any(f["function"] == "sysrq_handle_crash" for f in by_path["kdump"]["backtrace"])
    assert (out / by_path["kdump"]["report"]).exists()
    if "elf" in by_path:
        assert by_path["elf"]["tier"] == 0 and by_path["elf"]["format"] == "elf"
    if "flat" in by_path:
        assert by_path["flat"]["format"] == "flattened-kdump"
    errors = _jsonl(out / "errors.jsonl")
    hard = {Path(e["path"]).name: e["error"] for e in errors if e["severity"] == "error"}
    assert set(hard) == {"vmcore.random", "vmcore.empty", "vmcore.truncated"}
    assert "truncated" in hard["vmcore.truncated"]
    warned = {Path(e["path"]).parent.name for e in errors if e["severity"] == "warning"}
    assert warned == {k for k in ("elf", "flat") if k in by_path}
    html = (out / "index.html").read_text()
    assert SMALL_BUCKET in html and "<script" not in html
    # a second run skips every dump already read (the content key), and says so
    run = pycrash("triage", str(tmp_path / "in"), "-o", str(out), "-q")
    assert run.rc == 0 and "already in" in run.err, run.err
    assert _jsonl(out / "records.jsonl") == records


#: record fields that differ between two readings of one dump by two names, or sources:
#: where it was, when and how much was read
READING_FIELDS = ("path", "timing", "bytes_read", "reads")


def _same_reading(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in READING_FIELDS}


def test_remote_dump_by_byte_range(dump: Dump, tmp_path: Path) -> None:
    """A dump read through fsspec (memory://) gives the record its local file gives, up
    to tier 2 (drgn's reads served by pycrash's reader from the remote bytes), reading a
    part of it."""
    fsspec = pytest.importorskip("fsspec")
    from pycrash.triage.extract import Task, extract

    debug = link(dump.vmlinux, tmp_path / "debug" / dump.vmlinux.name).parent
    fs = fsspec.filesystem("memory")
    fs.pipe("/triage-test/vmcore.kdump", dump.vmcore.read_bytes())
    try:
        remote = extract(Task("memory://triage-test/vmcore.kdump", "k", 0, tier=2,
                              debuginfo_dirs=(str(debug),)))
    finally:
        fs.rm("/triage-test", recursive=True)
    local = extract(Task(str(dump.vmcore), "k", 0, tier=2, debuginfo_dirs=(str(debug),)))
    assert remote["tier"] == local["tier"] == 2, (remote, local)
    assert remote["signature"] == SMALL_BUCKET and remote["backtrace"]
    assert _same_reading(remote) == _same_reading(local)
    size = dump.vmcore.stat().st_size
    assert 0 < remote["t0_bytes_read"] < remote["bytes_read"] < size / 2
    assert local["bytes_read"] is None  # drgn read the local file itself: not counted


def _key_bytes(size: int) -> int:
    """Return the bytes :func:`pycrash.triage.inputs.content_key` reads of a file."""
    from pycrash.triage.inputs import BLOCK, BLOCKS, HEAD, TAIL

    span = size - HEAD - TAIL
    return (min(size, HEAD) + (min(TAIL, size - HEAD) if size > HEAD else 0)
            + (BLOCK * BLOCKS if span > BLOCK * BLOCKS else 0))


def test_served_over_http_same_records(dump: Dump, tmp_path: Path) -> None:
    """The small corpus served by an HTTP server on localhost (byte ranges; fsspec's http
    filesystem) gives the records, buckets and errors its local paths give, every form
    at tier 2; the server's own count of the bytes it sent is what pycrash counted
    (plus the content key's samples and the 18 bytes that tell a dump in a listing);
    tier 0 reads a small part of a kdump or ELF dump, tier 2 what it needs."""
    pytest.importorskip("aiohttp")  # fsspec's http filesystem
    from triagecorpus import RangeServer

    files = _small_corpus(dump, tmp_path / "in")
    debug = link(dump.vmlinux, tmp_path / "debug" / dump.vmlinux.name).parent
    _triage(str(tmp_path / "in"), "-o", str(tmp_path / "local"), "--debuginfo-dir", str(debug))
    with RangeServer(tmp_path / "in") as server:
        _triage(server.url, "-o", str(tmp_path / "http"), "--debuginfo-dir", str(debug))
        sent = dict(server.sent)
        assert server.whole == []  # no file was fetched whole
        server.reset()
        _triage(server.url, "-o", str(tmp_path / "http0"), "--tier", "0")
        sent0 = dict(server.sent)

    def by_name(out: Path, base: str, name: str = "records.jsonl") -> dict[str, Any]:
        return {r["path"][len(base):].lstrip("/"): r for r in _jsonl(out / name)}

    local = by_name(tmp_path / "local", str(tmp_path / "in"))
    remote = by_name(tmp_path / "http", server.url)
    assert sorted(remote) == sorted(local) == sorted(
        str(p.relative_to(tmp_path / "in")) for p in files.values())
    for name, rec in remote.items():
        assert rec["tier"] == 2 and rec["signature"] == SMALL_BUCKET, (name, rec["notes"])
        assert _same_reading(rec) == _same_reading(local[name]), name
    local_text = (tmp_path / "local" / "buckets.jsonl").read_text()
    assert (tmp_path / "http" / "buckets.jsonl").read_text().replace(server.url, "/") == \
        local_text.replace(str(tmp_path / "in") + "/", "/")
    errors = {n: (e["error"].replace(server.url, ""), e["stage"])
              for n, e in by_name(tmp_path / "http", server.url, "errors.jsonl").items()}
    local_errors = {n: (e["error"].replace(str(tmp_path / "in") + "/", ""), e["stage"])
                    for n, e in by_name(tmp_path / "local", str(tmp_path / "in"),
                                        "errors.jsonl").items()}
    assert errors == local_errors and len(errors) == 3
    # what the server sent is what pycrash counted: the content key's samples and the
    # first 18 bytes of every file, and each dump once (a copy under its first name)
    read_as: dict[str, str] = {}
    for name in sorted(remote):
        read_as.setdefault(remote[name]["key"], name)
    for name, rec in remote.items():
        read = rec["bytes_read"] if read_as[rec["key"]] == name else 0
        assert sent[name] == _key_bytes(rec["size"]) + 18 + read, name
    tier0 = by_name(tmp_path / "http0", server.url)
    for name, rec in tier0.items():
        assert rec["tier"] == 0 and rec["bytes_read"] == rec["t0_bytes_read"]
        assert rec["signature"] == SMALL_BUCKET
        if rec["format"] in ("kdump", "elf"):
            # tier 0: the headers, the page table, VMCOREINFO and the log's pages
            assert rec["bytes_read"] < rec["size"] / 8, name
            # tier 2 reads what the backtrace and the report need, still a part
            assert rec["bytes_read"] < remote[name]["bytes_read"] < rec["size"] / 2, name
        else:  # a flattened stream's record headers are spread through it: read whole
            assert rec["bytes_read"] < rec["size"] * 1.1, name
    assert sum(sent0.values()) < sum(sent.values())


def test_redact_drops_names_paths_and_log(dump: Dump, tmp_path: Path) -> None:
    link(dump.vmcore, tmp_path / "in" / "vmcore.kdump")
    _triage(str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--tier", "0", "--redact")
    text = (tmp_path / "out" / "records.jsonl").read_text()
    rec = json.loads(text)
    assert rec["signature"] == SMALL_BUCKET
    assert rec["path"] is None and rec["command"] is None and rec["log_tail"] == []
    assert str(tmp_path) not in text and "pcfix" not in text and '"sh"' not in text


def test_killed_worker_costs_only_its_dump(dump: Dump, tmp_path: Path) -> None:
    """SIGKILL of the worker that holds a dump: the dump is retried once on a fresh
    worker (here it hangs again, as a worker stuck in a C library, and times out), the
    other dump is read."""
    from triagecorpus import stall_or_extract

    from pycrash.triage.engines import run_local
    from pycrash.triage.extract import Task

    tasks = [Task(str(dump.vmcore), "a-hang", 0, tier=0),
             Task(str(dump.vmcore), "b-small", 0, tier=0)]
    results: dict[str, dict[str, Any]] = {}
    started: list[int] = []

    def killer() -> None:
        time.sleep(3)
        os.kill(started[0], signal.SIGKILL)  # the one worker, stuck on a-hang

    def on_start(pids: list[int]) -> None:
        started.extend(pids)
        threading.Thread(target=killer, daemon=True).start()

    run_local(tasks, lambda t, r: results.__setitem__(t.key, r), workers=1, timeout=8,
              max_per_worker=5, builds={"a-hang": "0", "b-small": "1"}, on_start=on_start,
              work=stall_or_extract)
    assert results["b-small"]["signature"] == SMALL_BUCKET
    assert "timed out" in results["a-hang"]["error"]
    assert "attempt 2" in results["a-hang"]["error"]  # the retry after the SIGKILL


# -- the kernel matrix: every zoo crash, and the distributed engines --------------------


@pytest.fixture(scope="module")
def zoo_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Every zoo dump and the small one, linked, with flattened variants of three (one
    without its vmlinux), hard-linked copies and bad files; and the expected bucket of
    every dump file by its path."""
    if not MATRIX:
        pytest.skip("the zoo corpus is in the kernel matrix: scripts/test --matrix")
    root = tmp_path_factory.mktemp("zoo-corpus")
    expect: dict[str, str] = {}
    small = fixture_dump("small")
    for name, path in _small_corpus(small, root / "small").items():
        expect[str(path)] = SMALL_BUCKET
        del name
    for fixture, bucket in ZOO_BUCKETS.items():
        d = fixture_dump(fixture)
        base = root / fixture
        expect[str(link(d.vmcore, base / "vmcore.kdump"))] = bucket
        link(d.vmlinux, base / d.vmlinux.name)
        if fixture in ("zoo-oops", "zoo-hung"):
            expect[str(link(d.vmcore, root / "copies" / f"{fixture}.kdump", hard=True))] = bucket
        if fixture in ("zoo-oops", "zoo-warn"):
            expect[str(flatten(d.vmcore, base / "vmcore.flat"))] = bucket
        if fixture == "zoo-bug":  # a format variant whose vmlinux is nowhere near
            expect[str(flatten(d.vmcore, root / "novmlinux" / "vmcore.flat"))] = bucket
    return root, expect


@pytest.fixture(scope="module")
def zoo_local(zoo_corpus: tuple[Path, dict[str, str]],
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local engine's triage of the whole zoo corpus: its output directory."""
    out = tmp_path_factory.mktemp("zoo-local") / "out"
    _triage(str(zoo_corpus[0]), "-o", str(out))
    return out


def test_zoo_corpus_one_bucket_per_crash(zoo_corpus: tuple[Path, dict[str, str]],
                                         zoo_local: Path) -> None:
    _root, expect = zoo_corpus
    out = zoo_local
    got = {r["path"]: r["signature"] for r in _jsonl(out / "records.jsonl")}
    assert got == expect
    buckets = _jsonl(out / "buckets.jsonl")
    assert len(buckets) == len(set(expect.values()))
    errors = _jsonl(out / "errors.jsonl")
    assert {Path(e["path"]).name for e in errors if e["severity"] == "error"} == {
        "vmcore.random", "vmcore.empty", "vmcore.truncated"}
    novm = [e for e in errors if e["severity"] == "warning" and "novmlinux" in e["path"]]
    assert novm and "no debuginfo" in novm[0]["error"]


@pytest.fixture(scope="module")
def zoo_debug(zoo_corpus: tuple[Path, dict[str, str]],
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --debuginfo-dir holding every vmlinux of the zoo corpus (found by build id)."""
    debug = tmp_path_factory.mktemp("zoo-debug")
    seen: set[Path] = set()
    for i, vmlinux in enumerate(sorted(zoo_corpus[0].rglob("vmlinux-*"))):
        if vmlinux.resolve() not in seen:
            seen.add(vmlinux.resolve())
            link(vmlinux.resolve(), debug / f"{vmlinux.name}.{i}")
    return debug


def test_zoo_corpus_served_over_http(zoo_corpus: tuple[Path, dict[str, str]],
                                     zoo_debug: Path, tmp_path: Path) -> None:
    """The whole zoo corpus served over HTTP by byte range gives the records, buckets
    and errors its local paths give with the same debuginfo directory: every dump of
    every crash at tier 2 (the flattened variants and the copy far from its vmlinux
    too), one bucket per crash, no file fetched whole."""
    pytest.importorskip("aiohttp")
    from triagecorpus import RangeServer

    root, expect = zoo_corpus
    _triage(str(root), "-o", str(tmp_path / "local"), "--debuginfo-dir", str(zoo_debug),
            "--no-parquet")
    with RangeServer(root) as server:
        _triage(server.url, "-o", str(tmp_path / "http"), "--debuginfo-dir",
                str(zoo_debug), "--no-parquet")
        assert server.whole == []
    local = {r["path"][len(str(root)):].lstrip("/"): r
             for r in _jsonl(tmp_path / "local" / "records.jsonl")}
    remote = {r["path"][len(server.url):]: r
              for r in _jsonl(tmp_path / "http" / "records.jsonl")}
    assert sorted(remote) == sorted(local) == sorted(
        str(Path(p).relative_to(root)) for p in expect)
    for name, rec in remote.items():
        assert rec["signature"] == expect[str(root / name)], name
        assert rec["tier"] == 2, (name, rec["notes"])
        assert _same_reading(rec) == _same_reading(local[name]), name
        if not rec["format"].startswith("flattened"):  # (a stream is read about whole)
            assert rec["bytes_read"] < rec["size"] / 2, name
    assert (tmp_path / "http" / "buckets.jsonl").read_text().replace(server.url, "/") == \
        (tmp_path / "local" / "buckets.jsonl").read_text().replace(str(root) + "/", "/")
    assert len(_jsonl(tmp_path / "http" / "buckets.jsonl")) == len(set(expect.values()))
    assert {Path(e["path"]).name for e in _jsonl(tmp_path / "http" / "errors.jsonl")} == {
        "vmcore.random", "vmcore.empty", "vmcore.truncated"}


def test_qemu_dumps_without_vmcoreinfo_over_http(tmp_path: Path) -> None:
    """QEMU's dumps of a guest run without -device vmcoreinfo (ELF, kdump, flattened
    kdump), served over HTTP: tier 0 finds the kernel's VMCOREINFO text in their memory as
    pycrash does (read through the same readers), so each gets a record: the guest's
    release, its vmlinux's build id, and the guest's own dmesg as its log's last lines."""
    pytest.importorskip("aiohttp")
    from triagecorpus import RangeServer

    from pycrash.memory import elfinfo

    qemu = fixture_dump("qemu-novmcoreinfo")
    forms = ("vmcore.qemu.elf", "vmcore.qemu.kdump", "vmcore.qemu.kdump-zlib")
    for form in forms:
        link(qemu.dir / form, tmp_path / "in" / form)
    with RangeServer(tmp_path / "in") as server:
        _triage(server.url, "-o", str(tmp_path / "out"), "--tier", "0", "--no-parquet")
    records = {r["path"][len(server.url):]: r for r in _jsonl(tmp_path / "out" / "records.jsonl")}
    assert sorted(records) == sorted(forms)
    dmesg = qemu.truth("dmesg.txt").splitlines()
    for form, rec in records.items():
        assert rec["release"] == qemu.release and rec["release"] in qemu.truth("uname.txt")
        assert rec["build_id"] == elfinfo.build_id(str(qemu.vmlinux)), form
        assert rec["log_lines"] == len(dmesg) and rec["log_tail"] == dmesg[-20:], form
        assert rec["format"] == {"vmcore.qemu.elf": "elf", "vmcore.qemu.kdump": "kdump"}.get(
            form, "flattened-kdump")


def _comparable(path: Path) -> list[dict[str, Any]]:
    rows = _jsonl(path)
    for row in rows:
        row.pop("timing", None)
    return sorted(rows, key=lambda r: str(r.get("path")))


@pytest.mark.parametrize("engine", ["ray", "dask"])
def test_engines_give_identical_records(zoo_corpus: tuple[Path, dict[str, str]],
                                        zoo_local: Path, tmp_path: Path, engine: str) -> None:
    """Ray (a local cluster of 2 workers) and Dask (a local cluster) write, for the whole
    zoo corpus, the records and errors the local pool writes, but for the timing fields."""
    pytest.importorskip("ray" if engine == "ray" else "distributed")
    root, _expect = zoo_corpus
    _triage(str(root), "-o", str(tmp_path / engine), "--engine", engine, "-j", "2",
            "--no-parquet")
    assert _comparable(tmp_path / engine / "records.jsonl") == \
        _comparable(zoo_local / "records.jsonl")
    assert _comparable(tmp_path / engine / "errors.jsonl") == \
        _comparable(zoo_local / "errors.jsonl")
