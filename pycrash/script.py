"""``pycrash -c script.py``: run a Python script against the open dump."""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from typing import Any

from pycrash.session import Session


def script_globals(session: Session) -> dict[str, Any]:
    """Return what a script finds defined: session, prog, run, drgn and its Linux helpers."""
    from pycrash.commands.py import namespace

    ns = dict(namespace(session))
    ns.pop("__builtins__", None)
    return ns


def run_script(session: Session, path: str, args: list[str]) -> int:
    """Run ``path`` as ``__main__`` with ``sys.argv = [path, *args]``; return its exit status.

    An exception in the script prints a traceback of the script's own frames.
    """
    if not os.path.isfile(path):
        sys.stderr.write(f"pycrash: {path}: no such script\n")
        return 2
    saved = sys.argv
    sys.argv = [path, *args]
    try:
        runpy.run_path(path, init_globals=script_globals(session), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write(f"{code}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("pycrash: interrupted\n")
        return 130
    except BaseException as exc:  # the script's own error: show where in the script
        _print_script_error(exc, path)
        return 1
    finally:
        sys.argv = saved
    return 0


def _print_script_error(exc: BaseException, path: str) -> None:
    """Print ``exc``'s traceback from the script's first frame on, without the frames
    inside pycrash itself that it went on into (a finder drgn called, say)."""
    tb = exc.__traceback__
    real = os.path.realpath(path)
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) != real:
        tb = tb.tb_next
    if tb is None:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
        return
    package = os.path.dirname(os.path.realpath(__file__)) + os.sep
    frames = traceback.extract_tb(tb)
    keep = len(frames)
    for i, frame in enumerate(frames):
        if os.path.realpath(frame.filename).startswith(package):
            keep = i
            break
    lines = ["Traceback (most recent call last):\n",
             *traceback.format_list(frames[:max(keep, 1)]),
             *traceback.format_exception_only(type(exc), exc)]
    sys.stderr.write("".join(lines))
