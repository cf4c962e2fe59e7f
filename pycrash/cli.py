"""The ``pycrash`` command line: open a dump, then run ``-x`` commands or the shell."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pycrash import __version__

if TYPE_CHECKING:
    from pycrash.interpreter import Interpreter
    from pycrash.session import Session
    from pycrash.shell.app import Shell

USAGE = ("pycrash [options] [VMLINUX] VMCORE [VMCORE...]\n"
         "       pycrash [options] [VMLINUX] FILE@PADDR...  |  --oldmem PATH  |  --live\n"
         "       pycrash -c SCRIPT.py [VMLINUX] VMCORE [-- ARGS...]\n"
         "       pycrash report VMCORE [VMLINUX] [-o DIR | --json]\n"
         "       pycrash triage INPUT... -o OUTDIR | --resign OUTDIR")


def _address(text: str) -> int:
    """Parse an address as the kernel's command line writes it: 0x2df5d000, 753012K, 735M."""
    from pycrash.memory.formats.oldmem import elfcorehdr_from_cmdline

    value = elfcorehdr_from_cmdline(f"elfcorehdr={text}")
    if value is None:
        raise argparse.ArgumentTypeError(f"not an address: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of pycrash's own options."""
    from pycrash.errors import one_line_parser

    p = one_line_parser(
        prog="pycrash",
        usage=USAGE,
        description="Analyse a Linux kernel crash dump with crash's commands, on drgn.",
        epilog="VMLINUX and VMCORE may come in either order; VMLINUX may be left out when "
        "the dump's release has debuginfo installed.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="the vmcore and its vmlinux")
    p.add_argument("-x", dest="commands", action="append", default=[], metavar="CMDS",
                   help="run these ';'-separated commands and exit (may be repeated)")
    p.add_argument("-c", dest="script", metavar="SCRIPT.py",
                   help="run a Python script with session, prog, run and drgn's helpers "
                        "defined, then exit with its status (arguments after --)")
    p.add_argument("-i", dest="input_file", metavar="FILE",
                   help="run the commands in FILE, then stay interactive")
    p.add_argument("-s", dest="silent", action="store_true", help="no start-up banner")
    p.add_argument("-e", dest="editing", choices=("emacs", "vi"), default="emacs",
                   help="line editing mode of the shell")
    p.add_argument("--prompt", default=os.environ.get("PYCRASH_PROMPT", "crash> "),
                   help="the shell's prompt (default 'crash> ')")
    p.add_argument("--no-rc", dest="no_rc", action="store_true",
                   help="do not run ~/.pycrashrc and ./.pycrashrc")
    p.add_argument("--output", choices=("crash", "json"), default="crash",
                   help="output format of commands (default: crash's text)")
    p.add_argument("--live", action="store_true",
                   help="analyse the running kernel through /proc/kcore (root)")
    p.add_argument("--oldmem", metavar="PATH",
                   help="raw /dev/oldmem (or an image laid out like it: offset = physical "
                        "address)")
    p.add_argument("--elfcorehdr", metavar="ADDR", type=_address,
                   help="physical address of kexec's ELF core header for --oldmem "
                        "(default: elfcorehdr= on /proc/cmdline)")
    p.add_argument("--zero-excluded", dest="zero_excluded", action="store_true",
                   help="read pages makedumpfile excluded as zeros instead of failing")
    p.add_argument("--btf", action="store_true",
                   help="open without a vmlinux: symbols from the dump's kallsyms, types "
                        "from its BTF (what happens when no vmlinux is found)")
    p.add_argument("--dwarf", action="store_true",
                   help="index the vmlinux's DWARF at open (by default types come from its "
                        "BTF and DWARF is read when a command needs it: source lines, "
                        "frame variables, a type BTF lacks)")
    p.add_argument("--force", action="store_true",
                   help="open even when the vmlinux's build id differs from the dump's")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    p.add_argument("--version", action="version", version=f"pycrash {__version__}")
    return p


def _print_banner(session: Session) -> None:
    """Print crash's start-up banner: the ``sys`` output with the panic task."""
    from pycrash.commands.sys import sys_info, sys_lines

    info = sys_info(session)
    sys.stdout.write("\n" + "".join(line + "\n" for line in sys_lines(info, banner=True)) + "\n")
    sys.stdout.flush()


def _run_rc(shell: Shell, files: list[Path], skipped: list[str]) -> bool:
    """Run the start-up files; return False if one of them quit."""
    from pycrash.shell.rc import commands_of

    for msg in skipped:
        sys.stderr.write(f"pycrash: {msg}\n")
    for path in files:
        try:
            lines = commands_of(path)
        except OSError as exc:
            sys.stderr.write(f"pycrash: {path}: {exc.strerror or exc}\n")
            continue
        if not shell.run_lines(lines):
            return False
    return True


def _run_x(interpreter: Interpreter, args: argparse.Namespace) -> int:
    """Run the ``-x`` lines until one has a quit word; return 0, or 1 when a command failed."""
    ok = True
    for line in args.commands:
        ok = interpreter.run_line(line) and ok
        if interpreter.finished:
            break
    return 0 if ok else 1


def _commands(shell: Shell, args: argparse.Namespace) -> int:
    """Run the ``-x`` commands after start-up files ran; return 0, or 1 when one failed."""
    return 1 if _run_x(shell.interpreter, args) or shell.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run pycrash; return the process exit status (0 ok, 1 a command failed, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"] and not os.path.exists("report"):
        from pycrash.report import main as report_main

        return report_main(argv[1:])
    if argv[:1] == ["triage"] and not os.path.exists("triage"):
        from pycrash.triage.main import main as triage_main

        return triage_main(argv[1:])
    script_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_intermixed_args(argv)
    if not args.files and not (args.live or args.oldmem):
        sys.stderr.write("pycrash: no dump file given (pycrash --help shows the usage)\n")
        return 2
    from pycrash.errors import open_failure

    try:
        from pycrash.session import Session

        session = Session.open(args.files, force=args.force, btf=args.btf, dwarf=args.dwarf,
                               live=args.live,
                               oldmem=args.oldmem, elfcorehdr=args.elfcorehdr,
                               zero_excluded=args.zero_excluded)
    except (Exception, KeyboardInterrupt) as exc:  # every failure to open: one line
        return open_failure(exc, args.debug)
    try:
        return _session(session, args, script_args)
    except (Exception, KeyboardInterrupt) as exc:  # what the interpreter did not catch
        status = open_failure(exc, args.debug)
        return status if status == 130 else 1


def _session(session: Session, args: argparse.Namespace, script_args: list[str]) -> int:
    """Run what the command line asks of an open session; return the exit status."""
    from pycrash.errors import PycrashError

    for note in session.target.notes:
        sys.stderr.write(f"pycrash: {note}\n")
    if session.target.vmlinux_found:
        sys.stderr.write(f"pycrash: using vmlinux {session.target.vmlinux}\n")
    from pycrash.interpreter import Interpreter
    from pycrash.shell.rc import startup_files

    interpreter = Interpreter(session, debug=args.debug)
    interpreter.state.settings["output"] = args.output

    files, skipped = ([], []) if args.no_rc else startup_files()
    interactive = not (args.commands or args.script)
    if not files and not interactive:  # plain -x / -c: the shell need not be loaded
        try:
            if not args.silent and args.output == "crash":
                _print_banner(session)
            if args.script:
                status = _run_x(interpreter, args) if args.commands else 0
                from pycrash.script import run_script

                return run_script(session, args.script, script_args) or status
            return _run_x(interpreter, args)
        except BrokenPipeError:
            return 0
        except KeyboardInterrupt:
            sys.stderr.write("pycrash: interrupted\n")
            return 130
    from pycrash.shell.app import Shell

    shell = Shell(interpreter, prompt=args.prompt, vi=args.editing == "vi")
    try:
        if not args.silent and args.output == "crash":
            _print_banner(session)
        if not _run_rc(shell, files, skipped):
            return 1 if shell.failed else 0
        if args.script:
            status = _commands(shell, args) if args.commands else 0
            from pycrash.script import run_script

            return run_script(session, args.script, script_args) or status
        if args.commands:
            return _commands(shell, args)
        if args.input_file and not shell.run_file(os.path.expanduser(args.input_file)):
            return 1 if shell.failed else 0
        if sys.stdin.isatty() and sys.stdout.isatty():
            return shell.loop()
        return shell.read_stdin()
    except PycrashError as exc:
        sys.stderr.write(f"pycrash: {exc}\n")
        return 1
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("pycrash: interrupted\n")
        return 130
