"""The format fuzzer's runner: damaged copies of the real dump's files, each opened by a
pycrash process that runs crash's first questions, and what such a run may never do.

A :class:`Case` names one form of the dump (:data:`FORMS`), the byte patches and the
truncation that damage it, and any arguments of its own. Damaging a 500 MB image by
copying it for each case would take most of the test's time, so each form has one
scratch copy per run (:class:`Scratch`): a case patches it in place, runs, and puts the
original bytes back. The fixture's own files are never written: they are only read
into the scratch copies, and every input of a run is hashed before and after it.

What a run may not do (:func:`problems`): print a Python traceback or an ``internal
error``, die of a signal, hang past its timeout, or exit non-zero with anything on
stderr but one line per error (each ``pycrash: ...`` or ``COMMAND: ...``).

``python tests/fuzz/runner.py [--long] [--seed N]`` runs the generated cases outside
pytest and prints each failing one (``PYCRASH_FUZZ=long`` does the same in pytest).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
#: what every case runs once its dump is open (the issue's list)
COMMANDS = "sys; ps; bt -a; log; kmem -i; mod"
#: seconds a case may take: a healthy run of COMMANDS takes 2 s on the slow test machine
TIMEOUT = float(os.environ.get("PYCRASH_FUZZ_TIMEOUT", "90"))
#: a line of stderr pycrash may print: "pycrash: ..." or "COMMAND: ..."
_ERROR_LINE = re.compile(r"^[\w?*!<.-]+: \S")
#: words that only a broken run prints
_FORBIDDEN = ("Traceback", "internal error", "Fatal Python error", "Segmentation fault")


@dataclass(frozen=True)
class Case:
    """One damaged input: ``form`` (a key of :data:`FORMS`, or "vmlinux") patched with
    ``patches`` (``(offset, bytes)``) and cut to ``truncate`` bytes (None: not cut);
    ``args`` replaces the form's own dump arguments when given, ``{dump}`` and
    ``{vmlinux}`` in it naming the scratch copies; ``env`` adds to the environment."""

    name: str
    form: str
    patches: tuple[tuple[int, bytes], ...] = ()
    truncate: int | None = None
    args: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    commands: str = COMMANDS
    no_vmlinux: bool = False
    report: bool = False  # pycrash report DUMP ARGS (not -x)


@dataclass
class Outcome:
    """A finished case: exit status (negative: the signal), output, seconds, and what
    went wrong (empty: nothing)."""

    case: Case
    rc: int
    out: str
    err: str
    seconds: float
    problems: list[str] = field(default_factory=list)


def problems(rc: int | None, err: str) -> list[str]:
    """Return what is wrong with a run that exited with ``rc`` (None: timed out) and
    printed ``err``; empty when it behaved (clean success, or clean one-line errors)."""
    found = []
    if rc is None:
        return [f"no exit within {TIMEOUT:.0f} s (a hang)"]
    if rc < 0:
        found.append(f"killed by signal {signal.Signals(-rc).name}")
    for word in _FORBIDDEN:
        if word in err:
            found.append(f"stderr holds {word!r}")
    if rc > 0:
        lines = err.splitlines()
        if not lines:
            found.append(f"exit status {rc} with nothing on stderr")
        for line in lines:
            if not _ERROR_LINE.match(line) and not line.startswith("WARNING"):
                found.append(f"stderr line is not a one-line error: {line[:120]!r}")
                break
    return found


def sha1(path: Path) -> str:
    """Return the SHA-1 of a file's bytes."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


#: inputs up to this size are hashed before and after every run; larger ones (the
#: vmlinux, oldmem and LiME images: hashing 800 MB takes seconds) are fingerprinted by
#: their status (size, mtime, ctime: any write changes them) and hashed in full at the
#: end of the fuzz run (:meth:`Workspace.unchanged`)
HASH_EVERY_RUN = 1 << 26


def fingerprint(path: Path) -> tuple[int, ...] | str:
    """Return what tells whether a run wrote ``path``: its SHA-1 when small, else its
    size, inode, modification and change times."""
    st = path.stat()
    if st.st_size <= HASH_EVERY_RUN:
        return sha1(path)
    return (st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def _copy_range(src: Path, dst: Path, start: int, end: int) -> None:
    """Copy bytes ``[start, end)`` of ``src`` to the same offsets of ``dst``."""
    with open(src, "rb") as s, open(dst, "r+b") as d:
        done = start
        while done < end:
            n = os.copy_file_range(s.fileno(), d.fileno(), end - done, done, done)
            if n <= 0:
                raise OSError(f"copy_file_range of {src} made no progress")
            done += n


class Scratch:
    """One writable copy of a fixture file, damaged and repaired case by case."""

    def __init__(self, original: Path, workdir: Path, name: str) -> None:
        self.original = original
        self.path = workdir / name
        self.size = original.stat().st_size
        shutil.copyfile(original, self.path)
        self.path.chmod(0o444)  # read-only for pycrash (root ignores it: hashes check)
        self.clean = True

    def damage(self, patches: Sequence[tuple[int, bytes]], truncate: int | None) -> None:
        """Apply a case's patches and truncation."""
        self.path.chmod(0o644)
        with open(self.path, "r+b") as f:
            for offset, data in patches:
                if 0 <= offset < self.size:
                    f.seek(offset)
                    f.write(data[: self.size - offset])
            if truncate is not None:
                f.truncate(max(0, min(truncate, self.size)))
        self.path.chmod(0o444)
        self.clean = False

    def repair(self, patches: Sequence[tuple[int, bytes]], truncate: int | None) -> None:
        """Put back the original bytes a case changed."""
        self.path.chmod(0o644)
        if truncate is not None:
            cut = max(0, min(truncate, self.size))
            with open(self.path, "r+b") as f:
                f.truncate(self.size)
            _copy_range(self.original, self.path, cut, self.size)
        for offset, data in patches:
            end = min(offset + len(data), self.size)
            if 0 <= offset < end:
                _copy_range(self.original, self.path, offset, end)
        self.path.chmod(0o444)
        self.clean = True


#: How each form is opened: its files (relative to the fixture; "@derived:NAME" for the
#: forms testdata/derive.py makes) and the arguments naming them. The first file of a
#: form is the one its cases damage.
FORMS: dict[str, Callable[[dict[str, Path]], list[str]]] = {}


class Workspace:
    """The scratch copies of one fuzz run, made on first use, and the runs themselves."""

    def __init__(self, fixture: Path, vmlinux: Path, workdir: Path,
                 inputs: dict[str, list[Path]], extra_args: dict[str, list[str]]) -> None:
        self.fixture = fixture
        self.vmlinux = vmlinux
        self.workdir = workdir
        #: form -> its files (the first is damaged); "vmlinux" -> [vmlinux]
        self.inputs = {"vmlinux": [vmlinux], **inputs}
        #: form -> arguments after its files (oldmem's --elfcorehdr, raw's @paddr)
        self.extra_args = extra_args
        self._scratch: dict[str, Scratch] = {}
        #: every input file's SHA-1 when the workspace was made (see :meth:`unchanged`)
        self.digests = {p: sha1(p) for files in self.inputs.values() for p in files}
        self.used: set[Path] = set()
        self.home = workdir / "home"
        self.home.mkdir(exist_ok=True)

    def scratch(self, form: str) -> Scratch:
        """Return the scratch copy of the damaged file of ``form``."""
        if form not in self._scratch:
            original = self.inputs[form][0]
            self._scratch[form] = Scratch(original, self.workdir, f"{form}-{original.name}")
        return self._scratch[form]

    def argv(self, case: Case) -> list[str]:
        """Return pycrash's arguments for ``case``."""
        damaged = self.scratch(case.form).path
        vmlinux = damaged if case.form == "vmlinux" else self.vmlinux
        if case.args is not None:
            dump_args = [a.format(dump=damaged, vmlinux=vmlinux) for a in case.args]
        else:
            form = "kdump" if case.form == "vmlinux" else case.form
            files = [str(p) for p in self.inputs[form]]
            if case.form != "vmlinux":
                files[0] = str(damaged)
            extra = self.extra_args.get(form, [])
            dump_args = self._join(form, files, extra)
        if case.report:
            return ["report", str(self.inputs["kdump"][0]), *dump_args]
        lead = [] if case.no_vmlinux else [str(vmlinux)]
        return ["-s", *lead, *dump_args, "-x", case.commands]

    @staticmethod
    def _join(form: str, files: list[str], extra: list[str]) -> list[str]:
        if form == "raw":  # extra holds each file's @paddr
            return [f"{f}{a}" for f, a in zip(files, extra, strict=True)]
        if form == "oldmem":
            return ["--oldmem", files[0], *extra]
        return [*files, *extra]

    def env(self, case: Case) -> dict[str, str]:
        """The environment of a run: its own home and symbol cache (a damaged vmlinux
        must not leave a symbol table in the user's cache under the real build id)."""
        env = dict(os.environ)
        env.update(HOME=str(self.home), PYCRASH_CACHE=str(self.workdir / "cache"),
                   PYCRASH_HISTORY=str(self.home / "history"), **dict(case.env))
        return env

    def run(self, case: Case) -> Outcome:
        """Damage, run, repair, and judge one case; an input changed by the run is a
        problem of its own."""
        scratch = self.scratch(case.form)
        scratch.damage(case.patches, case.truncate)
        argv = self.argv(case)
        inputs = {Path(p) for a in argv for p in (a.split("@")[0],) if os.path.isfile(p)}
        before = {p: fingerprint(p) for p in inputs}
        start = time.monotonic()
        try:
            proc = subprocess.run([sys.executable, "-m", "pycrash", *argv],
                                  capture_output=True, text=True, errors="replace",
                                  timeout=TIMEOUT, env=self.env(case),
                                  stdin=subprocess.DEVNULL, cwd=self.workdir)
            rc: int | None = proc.returncode
            out, err = proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out, err = None, str(exc.stdout or ""), str(exc.stderr or "")
        seconds = time.monotonic() - start
        found = problems(rc, err)
        for p, print_ in before.items():
            if fingerprint(p) != print_:
                found.append(f"input {p} was written")
        scratch.repair(case.patches, case.truncate)
        self.used.update(p for p in inputs if p != scratch.path)
        return Outcome(case, -999 if rc is None else rc, out, err, seconds, found)

    def unchanged(self) -> list[str]:
        """Hash every fixture file the runs read and every repaired scratch copy against
        the fixture's hashes taken when the workspace was made: return what differs (a
        write no fingerprint saw, or a scratch copy not repaired)."""
        bad = []
        for path in sorted(self.used | {s.original for s in self._scratch.values()}):
            if path in self.digests and sha1(path) != self.digests[path]:
                bad.append(f"fixture file {path} changed")
        for s in self._scratch.values():
            if s.original in self.digests and sha1(s.path) != self.digests[s.original]:
                bad.append(f"scratch copy {s.path} differs from {s.original} after repair")
        return bad

    def close(self) -> None:
        """Remove the scratch copies."""
        for s in self._scratch.values():
            s.path.unlink(missing_ok=True)
        self._scratch.clear()


def report(outcomes: Sequence[Outcome]) -> Iterator[str]:
    """Yield a line for each failing outcome (its case, what went wrong, stderr's end)."""
    for o in outcomes:
        if o.problems:
            tail = " | ".join(o.err.strip().splitlines()[-3:])
            yield f"{o.case.name}: {'; '.join(o.problems)} (rc {o.rc}) :: {tail[:400]}"


def main(argv: Sequence[str]) -> int:
    """Run the generated cases outside pytest; print failures; exit 1 if any."""
    import argparse
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "fuzz"))
    import cases as gen

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--long", action="store_true")
    p.add_argument("--seed", type=int, default=gen.SEED)
    p.add_argument("-k", dest="match", default="", help="only cases whose name has this")
    p.add_argument("-v", action="store_true", help="print every case")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pycrash-fuzz-") as tmp:
        ws = gen.workspace(Path(tmp))
        todo = [c for c in gen.all_cases(ws, long=args.long, seed=args.seed)
                if args.match in c.name]
        outcomes = []
        for case in todo:
            o = ws.run(case)
            outcomes.append(o)
            if args.v or o.problems:
                print(f"{o.seconds:5.1f}s rc={o.rc:<4} {case.name} "
                      f"{'FAIL ' + '; '.join(o.problems) if o.problems else ''}", flush=True)
                if o.problems:
                    print("    " + o.err.strip().replace("\n", "\n    ")[-1500:], flush=True)
        for line in ws.unchanged():
            print(line)
        ws.close()
    bad = [o for o in outcomes if o.problems]
    print(f"{len(outcomes)} cases, {len(bad)} failing, "
          f"{sum(o.seconds for o in outcomes):.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
