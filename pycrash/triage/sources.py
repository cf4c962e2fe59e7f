"""Byte sources for triage: local files and fsspec URLs, read by byte range, counted.

A dump is never downloaded whole: every reader of the memory layer calls
``pread(offset, size)`` (:class:`pycrash.memory.source.ByteSource`), which here goes to
a file of an fsspec filesystem (``memory://``, ``file://``, and whatever fsspec
protocols are installed: ``http://`` with aiohttp, ``s3://`` with s3fs...) as one
ranged read. :class:`CountingSource` counts the bytes and reads asked of the storage,
the figures ``bench/triage`` reports; :class:`BlockCache` keeps recently read blocks
(256 KiB: a request to an object store costs tens of milliseconds, far more than
sending 256 KiB) so that the many small reads of a dump's headers, page table and
pages become few reads of the storage.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from pycrash.errors import DumpError
from pycrash.memory.source import ByteSource, FileSource

#: ``scheme://`` at the start of an input: an fsspec URL, not a local path
URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(name: str) -> bool:
    """Return whether ``name`` is a URL (``memory://x``, ``s3://b/k``), not a local path."""
    return bool(URL.match(name))


def local_path(name: str) -> str | None:
    """Return the local file a name stands for (a path, or a ``file://`` URL), or None
    for a remote URL."""
    if not is_url(name):
        return name
    if name.startswith("file://"):
        return name[len("file://"):]
    return None


class FsspecSource:
    """A file of any fsspec filesystem, read by byte range (never downloaded whole).

    Each :meth:`pread` is one ranged read of the storage (``cat_file(path, start, end)``:
    an HTTP ``Range`` request, an S3 ranged GET), with no read-ahead of fsspec's own:
    what is fetched is what the block cache above asks for. A server that ignores the
    range (sends the whole file) is refused in one line at the first read."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:
            raise DumpError(f"{url}: reading URLs needs fsspec "
                            "(pip install 'pycrash-kdump[triage]')") from None
        self.path = url
        try:
            self._fs, self._path = fsspec.core.url_to_fs(url)
            size = self._fs.size(self._path)
        except FileNotFoundError:
            raise DumpError(f"{url}: no such file") from None
        except Exception as exc:  # fsspec's backends raise their own errors (ImportError:
            # a protocol whose backend is not installed)
            raise DumpError(f"{url}: cannot open: {exc}") from None
        if size is None:
            raise DumpError(f"{url}: the storage does not say the file's size")
        self._size = int(size)

    def pread(self, offset: int, size: int) -> bytes:
        size = min(size, self._size - offset)
        if size <= 0 or offset < 0:
            return b""
        try:
            data = bytes(self._fs.cat_file(self._path, start=offset, end=offset + size))
        except Exception as exc:
            raise self._failed(exc, offset, size) from None
        return self._checked(data, size)

    def preads(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Return the bytes of each ``(offset, size)`` of ``ranges``, read at once (an
        asynchronous filesystem, HTTP or S3, sends the requests together)."""
        wanted = [(o, max(min(n, self._size - o), 0)) for o, n in ranges]
        asked = [(o, n) for o, n in wanted if n > 0 and o >= 0]
        try:
            got = self._fs.cat_ranges([self._path] * len(asked), [o for o, _n in asked],
                                      [o + n for o, n in asked]) if asked else []
        except Exception as exc:
            raise self._failed(exc, asked[0][0], asked[0][1]) from None
        found = iter(zip(asked, got, strict=True))
        out = []
        for o, n in wanted:
            if n <= 0 or o < 0:
                out.append(b"")
                continue
            (offset, size), data = next(found)
            if isinstance(data, BaseException):
                raise self._failed(data, offset, size)
            out.append(self._checked(bytes(data), size))
        return out

    def _checked(self, data: bytes, size: int) -> bytes:
        if len(data) > size:
            raise DumpError(f"{self.path}: the server ignores byte ranges (it sent "
                            f"{len(data)} bytes for {size}); remote dumps are read by range "
                            "only")
        return data

    def _failed(self, exc: BaseException, offset: int, size: int) -> DumpError:
        if isinstance(exc, FileNotFoundError):
            return DumpError(f"{self.path}: no longer there (read at byte {offset:#x})")
        return DumpError(f"{self.path}: read of {size} bytes at byte {offset:#x} failed: "
                         f"{exc}")

    def size(self) -> int:
        return self._size

    def close(self) -> None:
        """Nothing to close: each read is a request of its own."""


class CountingSource:
    """A source that counts the bytes and reads asked of the one it wraps."""

    def __init__(self, inner: ByteSource) -> None:
        self.inner = inner
        self.path = inner.path
        self.bytes_read = 0
        self.reads = 0

    def pread(self, offset: int, size: int) -> bytes:
        data = self.inner.pread(offset, size)
        self.bytes_read += len(data)
        self.reads += 1
        return data

    def size(self) -> int:
        return self.inner.size()

    def preads(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Return the bytes of each ``(offset, size)``, counted: at once when the source
        under can (:meth:`FsspecSource.preads`), else one after another."""
        many = getattr(self.inner, "preads", None)
        out = many(ranges) if callable(many) else [self.inner.pread(o, n) for o, n in ranges]
        self.bytes_read += sum(map(len, out))
        self.reads += len(out)
        return list(out)


class BlockCache:
    """A source that reads the one it wraps in aligned blocks and keeps the last ones."""

    def __init__(self, inner: ByteSource, block: int = 1 << 18, blocks: int = 64) -> None:
        self.inner = inner
        self.path = inner.path
        self.block = block
        self.blocks = blocks
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._size = inner.size()

    def _get(self, index: int) -> bytes:
        data = self._cache.get(index)
        if data is None:
            data = self.inner.pread(index * self.block, self.block)
            self._cache[index] = data
            if len(self._cache) > self.blocks:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return data

    def pread(self, offset: int, size: int) -> bytes:
        end = min(offset + size, self._size)
        if offset < 0 or end <= offset:
            return b""
        if size > self.block * 4:  # a large read (a data ring, a bitmap) goes straight through
            return self.inner.pread(offset, end - offset)
        out = bytearray()
        pos = offset
        while pos < end:
            index, within = divmod(pos, self.block)
            data = self._get(index)
            take = min(end - pos, len(data) - within)
            if take <= 0:
                break
            out += data[within:within + take]
            pos += take
        return bytes(out)

    def size(self) -> int:
        return self._size


def open_source(name: str) -> tuple[ByteSource, CountingSource]:
    """Return ``(source, counter)`` for a local path or fsspec URL: the source to read
    (cached in blocks) and the counter of the bytes it took from the storage.
    :class:`DumpError` for a file that cannot be opened."""
    path = local_path(name)
    raw: ByteSource
    if path is not None:
        try:
            raw = FileSource(path)
        except FileNotFoundError:
            raise DumpError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise DumpError(f"{name}: is a directory, not a dump file") from None
        except OSError as exc:
            raise DumpError(f"{name}: cannot read: {exc.strerror or exc}") from None
    else:
        raw = FsspecSource(name)
    counter = CountingSource(raw)
    return BlockCache(counter), counter


def close_source(source: ByteSource) -> None:
    """Close the file under a source made by :func:`open_source`."""
    inner: Any = source
    while inner is not None:
        close = getattr(inner, "close", None)
        if callable(close):
            close()
            return
        inner = getattr(inner, "inner", None)


def file_size(name: str) -> int:
    """Return the size of a local file or fsspec URL (0 when it cannot be read)."""
    path = local_path(name)
    try:
        if path is not None:
            return os.path.getsize(path)
        import fsspec

        fs, p = fsspec.core.url_to_fs(name)
        return int(fs.size(p))
    except Exception:
        return 0
