"""sys: the renderer (no dump needed), and the command on the real dump against the
guest's records and Debian's crash."""

from __future__ import annotations

import re
import time

import pytest
from conftest import Dump, crash_commands, fixture_dump, pycrash
from pycrash.commands.sys import ConfigLine, SysInfo, Taint, render, sys_lines

from pycrash.command import Result
from pycrash.kernel.tasks import TaskId

INFO = SysInfo("vmlinux", "vmcore.kdump  [PARTIAL DUMP]", 2, 0, 5.5, (0.0, 0.25, 1.0), 90,
               "debian", "6.1.0", "#1 SMP", "x86_64", 2400, 486555648,
               "Kernel panic - not syncing: sysrq triggered crash",
               TaskId(142, 0xFF3CF9169E460000, 1, "sh"), "RU")


@pytest.mark.fast
def test_summary() -> None:
    assert list(render(Result([INFO]))) == [
        "      KERNEL: vmlinux", "    DUMPFILE: vmcore.kdump  [PARTIAL DUMP]",
        "        CPUS: 2",
        "        DATE: " + time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(0)),
        "      UPTIME: 00:00:05", "LOAD AVERAGE: 0.00, 0.25, 1.00", "       TASKS: 90",
        "    NODENAME: debian", "     RELEASE: 6.1.0", "     VERSION: #1 SMP",
        "     MACHINE: x86_64  (2400 Mhz)", "      MEMORY: 464 MB",
        '       PANIC: "Kernel panic - not syncing: sysrq triggered crash"']


@pytest.mark.fast
def test_banner_names_the_panic_task() -> None:
    assert list(sys_lines(INFO, banner=True))[-5:] == [
        "         PID: 142", '     COMMAND: "sh"',
        "        TASK: ff3cf9169e460000  [THREAD_INFO: ff3cf9169e460000]",
        "         CPU: 1", "       STATE: TASK_RUNNING (PANIC)"]


def test_sys_shows_release_cpus_and_panic(dump: Dump) -> None:
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "sys")
    assert run.rc == 0, run.err
    fields = dict(re.findall(r"^ *([A-Z ]+): (.*)$", run.out, re.M))
    release = dump.truth("uname.txt").split()[2]
    assert fields["RELEASE"] == release
    assert fields["CPUS"] == "2"
    assert fields["PANIC"] == '"Kernel panic - not syncing: sysrq triggered crash"'
    assert fields["DUMPFILE"] == f"{dump.vmcore}  [PARTIAL DUMP]"
    assert fields["KERNEL"] == str(dump.vmlinux)
    version = dump.truth("uname.txt").split(release, 1)[1].rsplit(" x86_64", 1)[0].strip()
    assert fields["VERSION"] == version
    assert fields["MACHINE"].startswith("x86_64")
    ram = 0
    for line in dump.truth("iomem.txt").splitlines():
        if line.endswith(" : System RAM") and not line.startswith(" "):
            lo, hi = line.split(" : ")[0].split("-")
            ram += int(hi, 16) - int(lo, 16) + 1
    mem = re.match(r"([\d.]+) (MB|GB)", fields["MEMORY"])
    assert mem and ram
    mem_bytes = float(mem.group(1)) * (1 << (20 if mem.group(2) == "MB" else 30))
    # MEMORY counts present pages; /proc/iomem's System RAM differs only by the
    # partly usable first megabyte, and the text is rounded to 0.1 MB.
    assert abs(mem_bytes - ram) <= 0.01 * ram
    up = float(dump.truth("uptime.txt").split()[0])
    h, m, s = (int(x) for x in fields["UPTIME"].split(":"))
    assert 0 <= h * 3600 + m * 60 + s - int(up) <= 5  # truth was taken just before the crash


def test_banner_is_the_startup_sys_output(dump: Dump) -> None:
    run = pycrash(str(dump.vmlinux), str(dump.vmcore), "-x", "q")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "" and lines[1].strip().startswith("KERNEL:")
    assert re.search(r"^       STATE: TASK_RUNNING \(PANIC\)$", run.out, re.M)
    assert re.search(r'^     COMMAND: "sh"$', run.out, re.M)


def test_sys_matches_crash(crash_out: str, dump: Dump) -> None:
    ours = dict(re.findall(r"^ *([A-Z ]+): (.*)$",
                           pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "sys").out,
                           re.M))
    theirs = dict(re.findall(r"^ *([A-Z ]+): (.*)$", crash_out, re.M))
    # crash 8.0.2 finds only a few of a 6.1 kernel's tasks, so TASKS differs
    for key in ("DUMPFILE", "CPUS", "DATE", "UPTIME", "LOAD AVERAGE", "NODENAME", "RELEASE",
                "VERSION", "MEMORY", "PANIC"):
        assert ours[key] == theirs[key], key
    assert ours["MACHINE"].split()[0] == theirs["MACHINE"].split()[0]


@pytest.mark.fast
def test_taint_and_config_render() -> None:
    assert list(render(Result([Taint(0x3000, "OE")]))) == ["TAINTED_MASK: 3000  OE"]
    assert list(render(Result([Taint(0, "")]))) == ["TAINTED_MASK: 0  "]
    assert list(render(Result([ConfigLine("CONFIG_HZ=250")]))) == ["CONFIG_HZ=250"]


@pytest.mark.fast
def test_ikconfig_decompresses_the_gzip_data() -> None:
    import gzip

    from pycrash.kernel.system import decompress_ikconfig

    text = "#\n# Automatically generated file\nCONFIG_HZ=250\n"
    assert decompress_ikconfig(gzip.compress(text.encode())) == text


def _taint_and_config_match_crash(dump: Dump) -> None:
    theirs = crash_commands(dump, ["sys -t", "sys config"])
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "sys -t", "-x", "sys config")
    assert run.out.splitlines() == theirs["sys -t"]
    # crash prints its FATAL error on stdout; pycrash on stderr, prefixed the same way
    assert run.err.splitlines() == theirs["sys config"]
    assert run.rc == 1


def test_sys_taint_and_config_match_crash(dump: Dump) -> None:
    """Untainted, no built-in config (Debian builds IKCONFIG as a module)."""
    _taint_and_config_match_crash(dump)


def test_sys_taint_of_an_out_of_tree_module_matches_crash() -> None:
    """The zoo's module taints the kernel O and E (3000): crash decodes the same."""
    dump = fixture_dump("zoo-warn")
    _taint_and_config_match_crash(dump)


@pytest.mark.fast
def test_syscall_lines() -> None:
    from pycrash.commands.sys import SyscallEntry

    rows = [SyscallEntry(0, 0xFFFFFFFF81000000, "__x64_sys_read", "fs/read_write.c", 621),
            SyscallEntry(444, 1, "__x64_sys_landlock_create_ruleset", "security/l.c", 175),
            SyscallEntry(7, 0xDEAD, None, None, None),
            SyscallEntry(8, 2, "sys_foo", None, None)]
    assert list(render(Result(rows))) == [
        "NUM  SYSTEM CALL                FILE AND LINE NUMBER",
        "  0  __x64_sys_read             ../fs/read_write.c: 621",
        "444  __x64_sys_landlock_create_ruleset ../security/l.c: 175",
        "  7  invalid sys_call_table entry: dead ",
        "  8  sys_foo                    "]


def test_sys_c_matches_crash(dump: Dump) -> None:
    """The whole table (451 entries on 6.1: names, files and lines as gdb gives them),
    and crash's selections by number and by part of a name."""
    commands = ["sys -c", "sys -c read 0 x", "sys -c 0x10"]
    theirs = crash_commands(dump, commands)
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), *(a for c in commands
                                                                for a in ("-x", c)))
    assert run.rc == 0, run.err
    assert run.out.splitlines() == [ln for c in commands for ln in theirs[c]]
    assert len(theirs["sys -c"]) > 400


def test_sys_i_prints_the_firmware_strings_as_crash(dump: Dump) -> None:
    """``sys -i``: the DMI strings equal crash 8.0.2's lines, and the ones the kernel
    printed at boot (``DMI: vendor product, BIOS version date`` in the guest's dmesg)."""
    ours = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "sys -i")
    assert ours.rc == 0, ours.err
    theirs = crash_commands(dump, ["sys -i"])["sys -i"]
    assert ours.out.splitlines() == [x for x in theirs if "DMI_" in x]
    fields = {name.strip(): value for name, _sep, value in
              (line.partition(": ") for line in ours.out.splitlines())}
    boot = re.search(r"DMI: (.*)$", dump.truth("dmesg.txt"), re.M)
    assert boot is not None
    assert boot.group(1) == (f"{fields['DMI_SYS_VENDOR']} "
                             f"{fields['DMI_PRODUCT_NAME']}, BIOS "
                             f"{fields['DMI_BIOS_VERSION']} {fields['DMI_BIOS_DATE']}")
