"""Run the golden command lines in one session and write each one's stdout and stderr as JSON.

Run with the code under test first on ``sys.path``: ``python driver.py VMLINUX VMCORE
COMMANDS OUT``. It uses whichever line interpreter the code it imports has, so the same
driver runs the recorded baseline and the working tree.
"""

from __future__ import annotations

import io
import json
import sys


def main() -> int:
    vmlinux, vmcore, commands, out = sys.argv[1:5]
    import pycrash

    session = pycrash.open(vmcore, vmlinux)
    lines = [ln.rstrip("\n") for ln in open(commands) if ln.strip() and not ln.startswith("#")]
    try:
        from pycrash.interpreter import Interpreter  # the one interpreter (issue 12)
    except ImportError:
        from pycrash.runner import run_line

        def run(line: str, o: io.StringIO, e: io.StringIO) -> None:
            run_line(session, line, o, e)
    else:
        interp = Interpreter(session)

        def run(line: str, o: io.StringIO, e: io.StringIO) -> None:
            interp.run_line(line, out=o, err=e)

    results = []
    for line in lines:
        o, e = io.StringIO(), io.StringIO()
        run(line, o, e)
        results.append({"command": line, "out": o.getvalue(), "err": e.getvalue()})
    with open(out, "w") as f:
        json.dump({"pycrash": pycrash.__file__, "results": results}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
