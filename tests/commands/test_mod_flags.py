"""mod -d, -D, -r, -o and -g on the real dump, against crash 8.0.2 and the module's own
object file."""

from __future__ import annotations

from conftest import Dump, assert_one_line_error, crash_commands, pycrash


def test_mod_r_d_D_as_crash_without_debuginfo(dump: Dump) -> None:
    """-r (gdb's readnow: drgn always reads in full) lists the modules as crash does;
    -d and -D with no debuginfo loaded have nothing to delete and say nothing, as
    crash; an unknown module is refused."""
    base = ["-s", str(dump.vmlinux), str(dump.vmcore), "-x"]
    theirs = crash_commands(dump, ["mod -r", "mod -d dummy", "mod -D"])
    run = pycrash(*base, "mod -r")
    assert run.rc == 0 and run.out.splitlines() == theirs["mod -r"]
    assert run.out == pycrash(*base, "mod").out
    for cmd in ("mod -d dummy", "mod -D"):
        run = pycrash(*base, cmd)
        assert (run.rc, run.out, run.err) == (0, "", "") and theirs[cmd] == [], cmd
    assert_one_line_error(pycrash(*base, "mod -d nosuchmod"), "mod: module not loaded")


def test_mod_d_and_o_refuse_what_pycrash_cannot_do(dump: Dump) -> None:
    """drgn keeps debuginfo once loaded: -d of such a module, and -D, fail in one line
    naming the file; -o selects a mechanism pycrash does not have."""
    ko = dump.dir / "modules-debug" / "dummy.ko"
    base = ["-s", str(dump.vmlinux), str(dump.vmcore), "-x", f"mod -s dummy {ko}", "-x"]
    for cmd in ("mod -d dummy", "mod -D"):
        run = pycrash(*base, cmd)
        assert_one_line_error(run, f"mod: cannot delete the debuginfo of dummy ({ko})")
        assert run.out.splitlines()[1].endswith(str(ko))  # still loaded
    assert_one_line_error(pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "mod -o"),
                          "mod: -o: crash's old gdb add-symbol-file mechanism")


def test_mod_g_adds_section_symbols(dump: Dump) -> None:
    """-g -s: sym -m lists each loaded section's start and end as crash names them: the
    start the kernel recorded (/sys/module/dummy/sections: .text at the module's base),
    the end from the section's size in the object file (read here with pyelftools)."""
    from elftools.elf.elffile import ELFFile

    ko = dump.dir / "modules-debug" / "dummy.ko"
    with open(ko, "rb") as f:
        text_size = ELFFile(f).get_section_by_name(".text").header.sh_size
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x",
                  f"mod -g -s dummy {ko}; sym -m dummy")
    assert run.rc == 0, run.err
    lines = run.out.splitlines()
    base = int(lines[1].split()[2], 16)
    assert f"{base:x} [.text]: section start" in lines
    assert f"{base + text_size:x} [.text]: section end" in lines
    marks = [ln for ln in lines[2:] if ": section " in ln]
    assert len(marks) % 2 == 0 and len(marks) >= 6
    addresses = [int(ln.split()[0], 16) for ln in lines[2:]]
    assert addresses == sorted(addresses)
    plain = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x",
                    f"mod -s dummy {ko}; sym -m dummy")
    assert not [ln for ln in plain.out.splitlines() if ": section " in ln]
