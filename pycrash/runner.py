"""Run command lines against a session and deliver their output.

This is the one place that turns a failure into one line on stderr, so that
a broken command never ends the session: errors of the user's making
(:class:`PycrashError`), unreadable memory, unexpected exceptions (with
``--debug``, the traceback) and Ctrl-C.
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from collections.abc import Iterable
from typing import TextIO

from pycrash.cmdline import Pipeline, parse_pipeline, split_commands
from pycrash.command import Result
from pycrash.errors import PycrashError
from pycrash.session import Session


def render(result: Result, fmt: str) -> Iterable[str]:
    """Yield ``result`` as text in ``fmt``: ``crash`` (crash's text, a line at a time,
    so long outputs are never held whole) or ``json`` (one document)."""
    if fmt == "json":
        import json

        doc = {"command": result.name, "rows": result.to_data(), "errors": result.errors}
        yield json.dumps(doc) + "\n"
        return
    for line in result.lines():
        yield line + "\n"


def deliver(chunks: Iterable[str], pipeline: Pipeline, out: TextIO) -> None:
    """Write the text to the pipeline's shell command, its file, or ``out``."""
    if pipeline.pipe is not None:
        dest = None
        if pipeline.outfile:
            dest = open(pipeline.outfile, "a" if pipeline.append else "w")  # noqa: SIM115
        try:
            proc = subprocess.run(
                pipeline.pipe, shell=True, input="".join(chunks), text=True,
                stdout=dest if dest is not None else subprocess.PIPE,
            )
        finally:
            if dest is not None:
                dest.close()
        if dest is None and proc.stdout:
            out.write(proc.stdout)
    elif pipeline.outfile:
        with open(pipeline.outfile, "a" if pipeline.append else "w") as f:
            f.writelines(chunks)
    else:
        out.writelines(chunks)
    out.flush()


def _describe(session: Session, exc: BaseException) -> str:
    from drgn import FaultError

    if isinstance(exc, FaultError):
        return f"cannot read memory at {exc.address:#x}: {session.explain_fault(exc)}"
    return f"internal error: {type(exc).__name__}: {exc} (--debug shows the traceback)"


def run_one(session: Session, text: str, out: TextIO, err: TextIO,
            fmt: str = "crash", debug: bool = False) -> bool:
    """Run one command (with its pipe and redirection); return False if it failed."""
    pipeline = parse_pipeline(session.expand_alias(text))
    name = pipeline.command.split(None, 1)[0] if pipeline.command else ""
    if name == "repeat":
        return _repeat(session, pipeline.command, out, err, fmt, debug)
    try:
        result = session.run(pipeline.command)
        deliver(render(result, fmt), pipeline, out)
        for msg in result.errors:
            err.write((msg if msg.startswith(name + ":") else f"{name}: {msg}") + "\n")
        return not result.errors
    except PycrashError as exc:
        msg = str(exc)
        err.write((msg if msg.startswith(name + ":") else f"{name}: {msg}") + "\n")
    except KeyboardInterrupt:
        err.write(f"{name}: interrupted\n")
        err.flush()
        raise  # Ctrl-C stops the rest of the line too; the caller returns to the prompt
    except BrokenPipeError:
        return True
    except OSError as exc:
        err.write(f"{name}: {exc.strerror or exc}: {exc.filename or ''}\n")
    except Exception as exc:  # any bug in a command ends that command only
        if debug:
            traceback.print_exc(file=err)
        err.write(f"{name}: {_describe(session, exc)}\n")
    err.flush()
    return False


def _repeat(session: Session, text: str, out: TextIO, err: TextIO, fmt: str,
            debug: bool) -> bool:
    """crash's ``repeat [-seconds] command``: run the command again and again until Ctrl-C."""
    import time

    words = text.split()[1:]
    seconds = 1.0
    if words and words[0].startswith("-") and words[0][1:].replace(".", "", 1).isdigit():
        seconds = float(words[0][1:])
        words = words[1:]
    if not words:
        err.write("repeat: no command given\n")
        return False
    if not session.live:
        err.write("repeat: a dump does not change: repeat is for live systems (--live)\n")
        return False
    command = " ".join(words)
    while True:
        if not run_one(session, command, out, err, fmt, debug):
            return False
        time.sleep(seconds)


def run_line(session: Session, line: str, out: TextIO | None = None,
             err: TextIO | None = None, fmt: str = "crash", debug: bool = False) -> bool:
    """Run every ``;``-separated command of ``line``; return False if any failed."""
    out = out or sys.stdout
    err = err or sys.stderr
    ok = True
    for text in split_commands(line):
        ok = run_one(session, text, out, err, fmt, debug) and ok
    return ok
