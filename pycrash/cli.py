"""The ``pycrash`` command line: open a dump, then run ``-x`` commands or read commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pycrash import __version__

if TYPE_CHECKING:
    from pycrash.session import Session

USAGE = "pycrash [options] [VMLINUX] VMCORE"


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of pycrash's own options."""
    p = argparse.ArgumentParser(
        prog="pycrash",
        usage=USAGE,
        description="Analyse a Linux kernel crash dump with crash's commands, on drgn.",
        epilog="VMLINUX and VMCORE may come in either order; VMLINUX may be left out when "
        "the dump's release has debuginfo installed.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="the vmcore and its vmlinux")
    p.add_argument("-x", dest="commands", action="append", default=[], metavar="CMDS",
                   help="run these ';'-separated commands and exit (may be repeated)")
    p.add_argument("-s", dest="silent", action="store_true", help="no start-up banner")
    p.add_argument("--output", choices=("crash", "json"), default="crash",
                   help="output format of commands (default: crash's text)")
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


def _interact(session: Session, fmt: str, debug: bool) -> int:
    """Read commands from stdin until EOF or ``q``; return the exit status."""
    from pycrash.registry import QUIT_WORDS
    from pycrash.runner import run_line

    ok = True
    tty = sys.stdin.isatty()
    while True:
        try:
            if tty:
                line = input("crash> ")
            else:
                line = sys.stdin.readline()
                if not line:
                    break
        except EOFError:
            break
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            continue
        if line.strip() in QUIT_WORDS:
            break
        try:
            ok = run_line(session, line, fmt=fmt, debug=debug) and ok
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
    return 0 if ok or tty else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run pycrash; return the process exit status (0 ok, 1 a command failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    if not args.files:
        sys.stderr.write(f"pycrash: no dump file given\nusage: {USAGE}\n")
        return 2
    from pycrash.errors import PycrashError
    from pycrash.session import Session

    try:
        session = Session.open(args.files, force=args.force)
    except PycrashError as exc:
        sys.stderr.write(f"pycrash: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("pycrash: interrupted\n")
        return 130
    for note in session.target.notes:
        sys.stderr.write(f"pycrash: {note}\n")
    if session.target.vmlinux_found:
        sys.stderr.write(f"pycrash: using vmlinux {session.target.vmlinux}\n")
    session.settings["output"] = args.output
    try:
        if not args.silent and args.output == "crash":
            _print_banner(session)
        if args.commands:
            from pycrash.registry import QUIT_WORDS
            from pycrash.runner import run_line

            ok = True
            for cmds in args.commands:
                for text in cmds.split(";"):
                    if text.strip() in QUIT_WORDS:
                        return 0 if ok else 1
                ok = run_line(session, cmds, fmt=args.output, debug=args.debug) and ok
            return 0 if ok else 1
        return _interact(session, args.output, args.debug)
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
