"""What ``pycrash triage`` opens: its inputs expanded into dumps, each with a content key.

An input is a directory (searched recursively), a glob, a manifest (a text file naming
one dump, directory or glob a line; ``#`` starts a comment; relative names are taken
from the manifest's directory), a dump file, or an fsspec URL (``memory://``,
``file://``, ``s3://``...; directories and globs too). In a directory a file is taken
when its first bytes are a dump's (ELF core, kdump, makedumpfile's flattened stream) or
its name says vmcore, dump or core; the ``dmesg.txt`` / ``vmcore-dmesg.txt`` beside a
dump is its log's second source.

The content key (what resuming and copies are told by) is the SHA-256 of the file's
size, its first MiB, its last 64 KiB and 32 blocks of 4 KiB spread evenly between:
a few hundred KiB read per dump whatever its size; two dumps that differ only outside
the sampled blocks would share a key, which for dumps (whose headers hold the crash
time and whose every page differs between crashes) does not happen in practice.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pycrash.errors import PycrashError
from pycrash.triage.sources import close_source, is_url, local_path, open_source

DUMP_MAGIC = (b"\x7fELF", b"KDUMP   ", b"DISKDUMP", b"makedumpfile")
DUMP_NAME = re.compile(r"(?:^|[._-])(?:vmcore|dump|core|kdump)(?:$|[._-])", re.I)
NOT_DUMPS = re.compile(r"(?:\.(?:txt|log|json|jsonl|html|ko|c|h|py|sh|md|map|gz|xz)$|"
                       r"^vmlinux|^System\.map|^config-)", re.I)
SIDECARS = ("vmcore-dmesg.txt", "dmesg.txt")
HEAD, TAIL, BLOCK, BLOCKS = 1 << 20, 1 << 16, 4096, 32


@dataclass(frozen=True)
class DumpRef:
    """A dump to triage: its name as given (path or URL) and the dmesg file beside it."""

    path: str
    dmesg: str | None


def expand(inputs: Iterable[str]) -> tuple[list[DumpRef], list[tuple[str, str]]]:
    """Return the dumps the inputs name (each once, in order) and ``(input, reason)``
    for inputs that name nothing usable."""
    found: dict[str, DumpRef] = {}
    problems: list[tuple[str, str]] = []
    for item in inputs:
        try:
            names = _names(item)
        except PycrashError as exc:
            problems.append((item, str(exc)))
            continue
        if not names:
            problems.append((item, "no dump found"))
        for name in names:
            found.setdefault(name, DumpRef(name, _sidecar(name)))
    return list(found.values()), problems


def _names(item: str) -> list[str]:
    """Return the dump files one input names."""
    if is_url(item) and local_path(item) is None:
        return _remote(item)
    path = local_path(item) or item
    if any(c in path for c in "*?["):
        return sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
    if os.path.isdir(path):
        return _walk(path)
    if not os.path.exists(path):
        raise PycrashError(f"{item}: no such file or directory")
    if _is_manifest(path):
        return _manifest(path)
    return [item]


def _walk(directory: str) -> list[str]:
    """Return the dump files under ``directory``, sorted."""
    out = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if _looks_like_dump(path, name):
                out.append(path)
    return out


def _looks_like_dump(path: str, name: str,
                     read_head: Callable[[str], bytes] | None = None) -> bool:
    """Return whether a file in a searched directory is taken as a dump (its first bytes
    read by ``read_head(path)``, by default from the local file)."""
    if NOT_DUMPS.search(name) and not DUMP_NAME.search(name.rsplit(".", 1)[0]):
        return False
    try:
        if read_head is not None:
            head = read_head(path)
        else:
            with open(path, "rb") as f:
                head = f.read(18)
    except Exception:  # OSError, or a remote filesystem's own error
        return bool(DUMP_NAME.search(name))
    if head.startswith(b"\x7fELF"):
        return len(head) >= 18 and head[16] == 4  # ET_CORE: a vmcore, not a vmlinux or .ko
    return head.startswith(DUMP_MAGIC) or bool(DUMP_NAME.search(name))


def _is_manifest(path: str) -> bool:
    """Return whether a file is a manifest: short text lines, not a dump's bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if not head or head.startswith(DUMP_MAGIC) or b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(len(line) < 4096 for line in text.splitlines()) and not text.startswith("[")


def _manifest(path: str) -> list[str]:
    """Return the dumps a manifest names (its lines expanded as inputs)."""
    base = os.path.dirname(os.path.abspath(path))
    out: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if not is_url(line) and not os.path.isabs(line):
                line = os.path.join(base, line)
            out += _names(line)
    return out


def _remote(url: str) -> list[str]:
    """Return the dump files an fsspec URL names (a file, a directory, a glob). Whether a
    URL is a directory is asked of the filesystem, or (HTTP, where every URL is a file)
    told by its first bytes: a dump's magic, else a listing to search; each file found in
    a directory is taken as in a local one (its name, its first 18 bytes, read by range)."""
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(url)
        proto = url.split("://", 1)[0]

        def head(p: str) -> bytes:
            return bytes(fs.cat_file(p, start=0, end=18))

        if any(c in path for c in "*?["):
            paths = sorted(fs.glob(path))
        elif _remote_dir(fs, path, url, head):
            paths = sorted(p for p in fs.find(path)
                           if _looks_like_dump(p, os.path.basename(p.rstrip("/")), head))
        else:
            return [url]
    except ImportError:
        raise PycrashError(f"{url}: reading URLs needs fsspec "
                           "(pip install 'pycrash-kdump[triage]')") from None
    except PycrashError:
        raise
    except Exception as exc:
        raise PycrashError(f"{url}: cannot list: {exc}") from None
    return [p if "://" in p else f"{proto}://{p.lstrip('/') if proto == 'memory' else p}"
            for p in paths]


def _remote_dir(fs: Any, path: str, url: str, head: Callable[[str], bytes]) -> bool:
    """Return whether ``path`` (``url``) of the fsspec filesystem ``fs`` is a directory to
    search; :class:`PycrashError` when it is nothing."""
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise PycrashError(f"{url}: no such file") from None
    if info.get("type") == "directory":
        return True
    if not path.startswith(("http://", "https://")):
        return False
    return not head(path).startswith(DUMP_MAGIC)  # an HTTP server's listing of a directory


def _sidecar(name: str) -> str | None:
    """Return the dmesg file kdump saved beside a dump, if there is one."""
    local = local_path(name)
    if local is not None:
        directory = os.path.dirname(os.path.abspath(local))
        base = os.path.basename(local)
        for cand in (f"{base}-dmesg.txt", *SIDECARS):
            path = os.path.join(directory, cand)
            if os.path.isfile(path):
                return path
        return None
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(name)
        directory = path.rsplit("/", 1)[0]
        for cand in SIDECARS:
            if fs.exists(f"{directory}/{cand}"):
                return name.rsplit("/", 1)[0] + "/" + cand
    except Exception:
        return None
    return None


BUILD_ID = re.compile(rb"BUILD-ID=([0-9a-f]{8,64})")


def content_key(name: str) -> tuple[str, int, str | None]:
    """Return ``(key, size, build id)`` of a dump: the SHA-256 of its size and sampled
    blocks (module docstring), and the build id if its VMCOREINFO is in its first MiB
    (where kdump, ELF and flattened files keep it; only for scheduling);
    :class:`PycrashError` for a file that cannot be read."""
    cached, source = open_source(name)  # the uncached source: a sample reads only itself
    try:
        size = source.size()
        h = hashlib.sha256(str(size).encode() + b"\0")
        ranges = [(0, HEAD)]
        if size > HEAD:
            ranges.append((max(HEAD, size - TAIL), TAIL))
            span = size - HEAD - TAIL
            if span > BLOCK * BLOCKS:
                ranges += [(HEAD + span * i // BLOCKS, BLOCK) for i in range(BLOCKS)]
        head, *rest = source.preads(ranges)  # a remote file's samples asked all at once
        for data in (head, *rest):
            h.update(data)
        found = BUILD_ID.search(head)
        return h.hexdigest()[:32], size, found.group(1).decode() if found else None
    finally:
        close_source(cached)
