"""QEMU's own dumps of a running guest (dump-guest-memory, what ``virsh dump --memory-only``
saves): ELF, kdump-zlib flattened as QEMU 7.2 writes it, and that file reassembled, of a
guest run with and without -device vmcoreinfo, and of an arm64 guest. Every form gives the
guest's truth, and every vCPU's registers from QEMU's notes.

QEMU's kdump-lzo and kdump-snappy: Debian's QEMU is built without them, so the zlib file
is re-compressed page by page into the file QEMU would write (``tests/kdumpcodec.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Dump, fixture_dump, parse_stat, same_comm, slabinfo

FORMS = {"vmcore.qemu.elf": "[QEMU ELF]", "vmcore.qemu.kdump-zlib": "[QEMU KDUMP]  [FLATTENED]",
         "vmcore.qemu.kdump": "[QEMU KDUMP]", "vmcore.qemu.kdump-lzo": "[QEMU KDUMP]",
         "vmcore.qemu.kdump-snappy": "[QEMU KDUMP]"}
#: the forms made by re-compressing vmcore.qemu.kdump, by codec
TRANSCODED = {"vmcore.qemu.kdump-lzo": "lzo", "vmcore.qemu.kdump-snappy": "snappy"}
_made: dict[tuple[Path, str], Path] = {}


def form_path(qemu: Dump, form: str, tmp: pytest.TempPathFactory) -> Path:
    """The dump file of ``form``: the fixture's own, or one re-compressed from its kdump
    file into a temporary directory (once per test session)."""
    if form not in TRANSCODED:
        return qemu.dir / form
    key = (qemu.dir, form)
    if key not in _made:
        from kdumpcodec import transcode

        out = tmp.mktemp("qemu-codec") / form
        assert transcode(qemu.dir / "vmcore.qemu.kdump", out, TRANSCODED[form]) > 1000
        _made[key] = out
    return _made[key]


#: the guest with -device vmcoreinfo, and without it (no VMCOREINFO note: pycrash finds
#: the kernel's own VMCOREINFO text in the memory; drgn refuses such dumps)
FIXTURES = ("qemu", "qemu-novmcoreinfo", "arm64-qemu")


@pytest.fixture(scope="module", params=FIXTURES)
def qemu(request: pytest.FixtureRequest) -> Dump:
    """A qemu fixture (built in about 20 s when not cached)."""
    return fixture_dump(request.param)


@pytest.mark.parametrize("form", FORMS)
def test_every_form_opens_and_matches_the_guest(qemu: Dump, form: str,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    import pycrash

    s = pycrash.open(str(form_path(qemu, form, tmp_path_factory)), str(qemu.vmlinux))
    sys_info = str(s.run("sys"))
    arm64 = s.prog.platform.arch.name == "AARCH64"
    if arm64 and form.endswith(".elf"):  # QEMU adds its "QEMU" notes on x86-64 only:
        assert f"{form}\n" in sys_info  # nothing tells its arm64 ELF from the kernel's
    else:
        assert f"{form}  {FORMS[form]}" in sys_info
    assert f"RELEASE: {qemu.release}" in sys_info and "CPUS: 2" in sys_info
    assert "PANIC" not in sys_info  # QEMU stopped a running guest: nothing panicked
    truth = parse_stat(qemu.truth("stat.txt"))
    rows = {r.pid: r for r in s.run("ps").rows if r.pid}
    for pid, (comm, _state, ppid) in truth.items():
        if comm in ("cat", "tar", "ps", "awk", "grep", "ls", "sh", "record-stacks", "date"):
            continue  # the guest's recorder, gone by the time QEMU saved it
        assert pid in rows and rows[pid].ppid == ppid, (pid, comm)
        assert same_comm(rows[pid].comm, comm, rows[pid].kernel), (pid, rows[pid].comm, comm)
    assert "pycrash-fixture: marker before crash" in str(s.run("log"))
    modules = {line.split()[0] for line in qemu.truth("modules.txt").splitlines()}
    assert {m.name for m in s.run("mod").rows} == modules
    caches = {r.name for r in s.run("kmem -s").rows}
    assert set(slabinfo(qemu)) == caches


@pytest.mark.parametrize("form", FORMS)
def test_bt_a_shows_every_vcpu(qemu: Dump, form: str,
                               tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each vCPU's registers come from QEMU's NT_PRSTATUS notes (numbered by vCPU, not by
    task): bt -a unwinds every CPU's running task from where QEMU stopped it."""
    import pycrash

    s = pycrash.open(str(form_path(qemu, form, tmp_path_factory)), str(qemu.vmlinux))
    stacks = s.run("bt -a").rows
    assert [st.task.cpu for st in stacks] == [0, 1]
    for st in stacks:
        assert st.error is None and st.note is None, st
        names = [f.function for f in st.frames]
        assert len(names) >= 4 and "do_idle" in names, names  # the guest idled
    queues = s.run("runq").rows
    assert [q.cpu for q in queues] == [0, 1]
