"""files on the real dump."""

from __future__ import annotations

import re


def test_files_of_pcfix_files(session) -> None:  # type: ignore[no-untyped-def]
    tf = session.run("files pcfix-files").rows[0]
    fds = {f.fd: f for f in tf.files}
    assert fds[3].path == "/tmp/work/hello.txt" and fds[3].type == "REG"
    assert fds[4].path == "/tmp/work/out.log"
    assert fds[0].path == "/dev/null" and fds[0].type == "CHR"
    text = str(session.run("files pcfix-files"))
    assert re.search(r"^  3 [0-9a-f]{16} [0-9a-f]{16} [0-9a-f]{16} REG  /tmp/work/hello.txt$",
                     text, re.M)
    assert "ROOT: /    CWD: /" in text
