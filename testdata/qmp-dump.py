"""Save a running QEMU guest with dump-guest-memory through QMP, as libvirt does.

usage: qmp-dump.py SOCKET OUT FORMAT...   (FORMAT: elf, kdump-zlib, kdump-lzo, kdump-snappy)

Stops the guest's vCPUs, writes OUT/vmcore.qemu.FORMAT for each format this QEMU can write
(the same stopped state in every file; OUT/qemu-formats.txt lists the ones it offers), then
quits QEMU. Exits non-zero naming a format QEMU refused.
"""

from __future__ import annotations

import json
import socket
import sys
import time


def main() -> int:
    path, out, *formats = sys.argv[1:]
    sock = socket.socket(socket.AF_UNIX)
    for _ in range(50):
        try:
            sock.connect(path)
            break
        except OSError:
            time.sleep(0.2)
    stream = sock.makefile("rw")

    def call(command: str, **arguments: object) -> dict:  # type: ignore[type-arg]
        stream.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        stream.flush()
        while True:
            reply = json.loads(stream.readline())
            if "return" in reply or "error" in reply:
                return reply  # type: ignore[no-any-return]

    json.loads(stream.readline())  # the greeting
    call("qmp_capabilities")
    call("stop")
    offered = call("query-dump-guest-memory-capability").get("return", {}).get("formats", [])
    with open(f"{out}/qemu-formats.txt", "w") as f:  # what this QEMU build can write
        f.write(" ".join(offered) + "\n")
    failed = []
    for fmt in formats:
        if fmt not in offered:
            continue  # not built into this QEMU (Debian's has no lzo or snappy)
        reply = call("dump-guest-memory", paging=False, protocol=f"file:{out}/vmcore.qemu.{fmt}",
                     format=fmt)
        if "error" in reply:
            failed.append(f"{fmt}: {reply['error'].get('desc')}")
    call("quit")
    for msg in failed:
        print(f"dump-guest-memory {msg}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
