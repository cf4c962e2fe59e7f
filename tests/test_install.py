"""The distribution installs with plain pip into a fresh virtual environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Dump


def test_pip_install_into_fresh_venv(tmp_path: Path, dump: Dump) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # build from a copy so the source tree's directories cannot shadow the install
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "*.egg-info", "__pycache__", ".*_cache", "build"))
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(src)], check=True,
                   cwd=tmp_path)
    where = subprocess.run(
        [str(py), "-c", "import pycrash.commands.ps as p, pycrash.plugins.stacks as s; "
                        "print(p.__file__); print(s.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path).stdout.split()
    assert all(str(venv) in w for w in where), where
    out = subprocess.run([str(venv / "bin" / "pycrash"), "-s", str(dump.vmcore),
                          str(dump.vmlinux), "-x", "ps 1; bt -t; help"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert " init" in out.stdout and "stacks" in out.stdout and "START: " in out.stdout
    mod = subprocess.run([str(py), "-m", "pycrash", "--version"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert mod.returncode == 0 and mod.stdout.startswith("pycrash ")
