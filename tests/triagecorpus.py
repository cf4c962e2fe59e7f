"""Triage test corpora: fixture dumps linked into a temporary directory (symlinks and
hard links: no copy of a dump's bytes), format variants made from them, bad files, and
an HTTP server that serves a corpus by byte range and counts what it sends."""

from __future__ import annotations

import http.server
import os
import re
import socket
import struct
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

FLAT_HEADER = 4096


def link(src: Path, dst: Path, hard: bool = False) -> Path:
    """Link ``src`` at ``dst`` (a hard link when asked and possible, else a symlink)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if hard:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    dst.symlink_to(src)
    return dst


def flatten(src: Path, dst: Path, chunk: int = 1 << 20) -> Path:
    """Write ``src`` as makedumpfile's flattened stream (``-F``): its header, then
    (offset, size, data) records, last chunk first (a stream need not be in order), and
    the end marker."""
    size = src.stat().st_size
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as f, open(dst, "wb") as out:
        out.write((b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
                  .ljust(FLAT_HEADER, b"\0"))
        for offset in reversed(range(0, size, chunk)):
            f.seek(offset)
            data = f.read(chunk)
            out.write(struct.pack(">qq", offset, len(data)) + data)
        out.write(struct.pack(">qq", -1, 0))
    return dst


def bad_files(root: Path, truncate_from: Path | None = None) -> dict[str, Path]:
    """Write the bad files: random bytes, an empty file and (from a real dump) a truncated
    one; return them by kind."""
    root.mkdir(parents=True, exist_ok=True)
    out = {"random": root / "vmcore.random", "empty": root / "vmcore.empty"}
    out["random"].write_bytes(os.urandom(200_000))
    out["empty"].write_bytes(b"")
    if truncate_from is not None:
        out["truncated"] = root / "vmcore.truncated"
        with open(truncate_from, "rb") as f:
            out["truncated"].write_bytes(f.read(1 << 20))
    return out


def stall_or_extract(task):  # type: ignore[no-untyped-def]
    """The per-dump function of a worker that hangs on a task keyed ``*-hang`` (as a
    worker stuck in a C library would) and extracts every other one."""
    import time

    from pycrash.triage.extract import extract

    if task.key.endswith("-hang"):
        time.sleep(3600)
    return extract(task)


class RangeServer:
    """An HTTP server on 127.0.0.1 (a free port) serving the files under ``root`` as a
    web server in front of a dump store does: ``Range: bytes=A-B`` answered with 206 and
    those bytes only, HEAD with the size, directories as HTML listings; each answer
    after ``delay`` seconds (to stand for a store's latency in benchmarks). ``sent`` counts
    the bytes of file bodies sent per path (relative to ``root``), ``requests`` the
    requests per path: what a remote reader really fetched, counted outside pycrash."""

    RANGE = re.compile(r"bytes=(\d+)-(\d*)$")

    def __init__(self, root: Path, delay: float = 0.0) -> None:
        self.root = root
        self.delay = delay  # seconds before each answer (an object store's latency)
        self.sent: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        self.whole: list[str] = []  # files sent whole (a GET without a range)
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # connections kept open, as a real server does

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def setup(self) -> None:
                super().setup()
                # headers and body go in two writes: without this, a kept-open
                # connection waits for the client's delayed ACK (40 ms) on each answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _file(self) -> Path | None:
                local = Path(self.translate_path(self.path))
                return local if local.is_file() else None

            def do_HEAD(self) -> None:  # noqa: N802
                time.sleep(server.delay)
                local = self._file()
                if local is None:
                    return super().do_HEAD()
                server.count(local, 0)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(local.stat().st_size))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                time.sleep(server.delay)
                local = self._file()
                if local is None:
                    return super().do_GET()
                size = local.stat().st_size
                found = server.RANGE.match(self.headers.get("Range", ""))
                start, end = 0, size
                if found:
                    start = int(found.group(1))
                    end = min(int(found.group(2)) + 1 if found.group(2) else size, size)
                    if start >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                else:
                    server.whole.append(str(local.relative_to(root)))
                    self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                with open(local, "rb") as f:
                    f.seek(start)
                    left = end - start
                    while left:
                        chunk = f.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        left -= len(chunk)
                server.count(local, end - start)

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 256  # many requests at once (content keys' samples)

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def count(self, local: Path, sent: int) -> None:
        """Count one request for ``local`` that sent ``sent`` bytes of its body."""
        name = str(local.relative_to(self.root))
        with self._lock:
            self.sent[name] = self.sent.get(name, 0) + sent
            self.requests[name] = self.requests.get(name, 0) + 1

    def reset(self) -> None:
        """Forget what was counted."""
        with self._lock:
            self.sent.clear()
            self.requests.clear()
            self.whole.clear()

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
