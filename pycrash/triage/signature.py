"""Crash signatures: the class and the first frame that is not panic, report, locking or
entry plumbing, with addresses, offsets and numbers scrubbed.

The rules (``signature.toml``, shipped with pycrash; ``--rules`` names another) follow
syzkaller's report titles, whose guilty frame is the first frame of the report's stack
not matched by a skip pattern, and Socorro's signature generation, which skips
irrelevant frames, keeps "prefix" frames (``memcpy``) and goes on to their caller, and
scrubs addresses. The kernel release is never part of a signature: one bug in two
kernel builds is one bucket.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycrash.errors import PycrashError

RULES = Path(__file__).with_name("signature.toml")
#: gcc's clone and section suffixes: .constprop.0, .isra.0, .part.0, .cold, .cold.12
CLONE = re.compile(r"(?:\.(?:constprop|isra|part|cold|llvm|lto_priv|localalias)(?:\.\d+)?)+$")
HEX = re.compile(r"\b(?:0x)?[0-9a-fA-F]{8,}\b|\b0x[0-9a-fA-F]+\b")
NUMBER = re.compile(r"\d+")
SEPARATOR = " | "


def _load_toml(path: Path) -> dict[str, Any]:
    """Return a TOML file's tables (tomllib from Python 3.11, tomli before it)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise PycrashError(f"{path}: cannot read the signature rules: "
                           f"{exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PycrashError(f"{path}: not valid TOML: {exc}") from None


@dataclass(frozen=True)
class Rules:
    """The skip list (exact names and whole-name patterns) and the prefix list."""

    skip: frozenset[str]
    skip_patterns: tuple[re.Pattern[str], ...]
    prefix: frozenset[str]
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> Rules:
        """Return the rules of a TOML file (the shipped ``signature.toml`` by default);
        :class:`PycrashError` for a file that cannot be read or holds no lists."""
        where = Path(path) if path else RULES
        data = _load_toml(where)
        skip, prefix = data.get("skip", {}), data.get("prefix", {})
        try:
            patterns = tuple(re.compile(p) for p in skip.get("patterns", []))
            return cls(frozenset(map(str, skip.get("functions", []))), patterns,
                       frozenset(map(str, prefix.get("functions", []))), str(where))
        except (re.error, TypeError, AttributeError) as exc:
            raise PycrashError(f"{where}: bad signature rules: {exc}") from None

    def skipped(self, name: str) -> bool:
        """Return whether a (normalised) function name is on the skip list."""
        return name in self.skip or any(p.search(name) for p in self.skip_patterns)


@functools.lru_cache(maxsize=8)
def rules(path: str | None = None) -> Rules:
    """Return the rules of ``path`` (None: the shipped file), read once per process."""
    return Rules.load(path)


def normalise(function: str) -> str:
    """Return a function name as signatures use it: no ``+0x../0x..`` offset, no module,
    no clone suffix (``__mutex_lock.constprop.0`` -> ``__mutex_lock``)."""
    name = function.strip().split("+", 1)[0].split(" ", 1)[0]
    return CLONE.sub("", name)


def scrub(text: str) -> str:
    """Return free text with addresses and numbers replaced (``kworker/1:2`` ->
    ``kworker/N:N``), for the parts of a signature that are not function names."""
    return NUMBER.sub("N", HEX.sub("ADDR", text))


def sign(cls: str, frames: Iterable[str], rules: Rules, hint: str | None = None) -> str:
    """Return the signature of a crash of class ``cls`` whose report's stack holds
    ``frames`` (function names, innermost first): ``class:function``, prefix frames
    before it (``oops:memcpy | caller``); ``class:hint`` (scrubbed) or the class alone
    when every frame is skipped."""
    kept: list[str] = []
    for frame in frames:
        name = normalise(frame)
        if not name or rules.skipped(name):
            continue
        kept.append(name)
        if name not in rules.prefix:
            return f"{cls}:{SEPARATOR.join(kept)}"
    if kept:
        return f"{cls}:{SEPARATOR.join(kept)}"
    return f"{cls}:{scrub(hint)}" if hint else cls


def bucket_id(signature: str) -> str:
    """Return a bucket's short stable id: the first 12 hex digits of the signature's
    SHA-256."""
    return hashlib.sha256(signature.encode()).hexdigest()[:12]


def crash_frames(record: dict[str, Any]) -> Sequence[str]:
    """Return the frames a record is signed by: the log report's frames, else the
    stack engine's backtrace of the panic task (tier 1 and up)."""
    frames = record.get("frames") or []
    if not frames:
        frames = record.get("backtrace") or []
    return [f["function"] for f in frames]


def sign_record(record: dict[str, Any], rules: Rules) -> str:
    """Return the signature of a triage record (the fields :mod:`.extract` writes), so
    that ``--resign`` regroups records without opening a dump."""
    hint = None
    if record.get("class") == "hung_task" and record.get("command"):
        hint = f"task={record['command']}"
    return sign(record.get("class") or "unknown", crash_frames(record), rules, hint)
