"""Name indexes for completion: kernel symbols, type names, type members, tasks.

Built once per session, in a background thread when asked to, and searched
by prefix with bisection so that 100k+ symbols complete instantly.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator

from drgn import Type, TypeKind

from pycrash.session import Session

_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def prefixed(names: list[str], prefix: str, limit: int = 500) -> Iterator[str]:
    """Yield up to ``limit`` names of the sorted list ``names`` that start with ``prefix``."""
    i = bisect.bisect_left(names, prefix)
    count = 0
    while i < len(names) and names[i].startswith(prefix) and count < limit:
        yield names[i]
        i += 1
        count += 1


def _underlying(t: Type) -> Type:
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    return t


class NameIndex:
    """Sorted symbol names and type-name candidates of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._symbols: list[str] | None = None
        self._words: list[str] | None = None
        self._strings: bytes | None = None
        self._types: dict[str, bool] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> threading.Thread:
        """Start building the indexes in a daemon thread; return the thread."""
        thread = threading.Thread(target=self._build_all, daemon=True)
        thread.start()
        return thread

    def _build_all(self) -> None:
        try:
            self.symbols()
            self.words()
        except Exception:  # completion is best effort; never disturb the prompt
            pass

    def symbols(self) -> list[str]:
        """Return every kernel symbol name, sorted."""
        with self._lock:
            if self._symbols is None:
                names = {s.name for s in self.session.prog.symbols() if s.name}
                self._symbols = sorted(names)
            return self._symbols

    def strings(self) -> bytes:
        """Return the vmlinux's ``.debug_str`` section: every DWARF name, NUL-separated.

        The linker merges string tails ("task_struct" may live only as the end
        of "get_task_struct"), so names are found by searching, not splitting.
        """
        with self._lock:
            if self._strings is None:
                from pycrash.memory.elfinfo import section_data

                if self.session.target.vmlinux:
                    self._strings = section_data(self.session.target.vmlinux,
                                                 ".debug_str") or b""
                else:  # no vmlinux: the names of the dump's BTF
                    from pycrash.kernel.nodebug import info

                    nd = info(self.session.prog)
                    self._strings = b"\0".join(
                        n.encode() for blob in nd.types.blobs() for n in blob.names()
                    ) + b"\0" if nd is not None else b""
            return self._strings

    def words(self) -> list[str]:
        """Return the whole identifiers of ``.debug_str``, sorted (for an empty prefix)."""
        data = self.strings()
        with self._lock:
            if self._words is None:
                found = {w.decode() for w in data.split(b"\0") if _IDENT.fullmatch(w)}
                self._words = sorted(found)
            return self._words

    def candidates(self, prefix: str, limit: int = 5000) -> list[str]:
        """Return identifiers of ``.debug_str`` that start with ``prefix``, tails included."""
        if not prefix or not _IDENT.fullmatch(prefix.encode()):
            return list(prefixed(self.words(), prefix, limit=limit))
        pattern = re.compile(re.escape(prefix.encode()) + rb"[A-Za-z0-9_]*(?=\0)")
        found = {m.group(0).decode() for m in pattern.finditer(self.strings())}
        return sorted(found)[:limit]

    def is_type(self, keyword: str, name: str) -> bool:
        """Return whether ``keyword name`` (``struct task_struct``) is a type of the kernel."""
        key = f"{keyword} {name}"
        if key not in self._types:
            try:
                self.session.prog.type(key)
                self._types[key] = True
            except (LookupError, SyntaxError, ValueError):
                self._types[key] = False
        return self._types[key]

    def type_names(self, keywords: tuple[str, ...], prefix: str, limit: int = 100) -> list[str]:
        """Return the struct/union names (per ``keywords``) that start with ``prefix``."""
        out: list[str] = []
        for word in self.candidates(prefix):
            if any(self.is_type(k, word) for k in keywords):
                out.append(word)
                if len(out) >= limit:
                    break
        return out

    def members(self, keywords: tuple[str, ...], path: str) -> list[str]:
        """Return the member names at the end of ``type.member.member`` (the last part partial)."""
        type_name, *parts = path.split(".")
        t: Type | None = None
        for k in keywords:
            try:
                t = self.session.prog.type(f"{k} {type_name}")
                break
            except LookupError:
                continue
        if t is None:
            return []
        for part in parts[:-1]:
            t = _underlying(t)
            if t.kind not in (TypeKind.STRUCT, TypeKind.UNION):
                return []
            try:
                t = t.member(part).type
            except LookupError:
                return []
            t = _underlying(t)
            if t.kind == TypeKind.POINTER:
                t = _underlying(t.type)
        t = _underlying(t)
        if t.kind not in (TypeKind.STRUCT, TypeKind.UNION):
            return []
        return [m.name for m in t.members or () if m.name]

    def tasks(self) -> list[tuple[str, str]]:
        """Return ``(pid, comm)`` of every task."""
        from pycrash.kernel.tasks import comm

        return [(str(t.pid.value_()), comm(t)) for t in self.session.tasks()]
