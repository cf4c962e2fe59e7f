"""Find or build pycrash's real kdump fixture, cached outside the repository.

The cache is ``$PYCRASH_FIXTURES`` (default ``~/.cache/pycrash/fixtures``),
one directory per kernel release, fixture name and builder version, e.g.
``6.1.0-56-cloud-amd64-small-1a2b3c4d/``. A directory counts only once its builder
wrote ``COMPLETE``. Run as a script it prints the fixture directory
(building it first when needed); ``--open`` then opens it in pycrash.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILDER = HERE / "build-vmcore.sh"
FLAVOUR = "cloud-amd64"

#: Fixture names and the environment their builds use. The small fixture keeps the
#: unfiltered /proc/vmcore too (vmcore.full): the raw, oldmem and LiME forms are made from it.
KINDS: dict[str, dict[str, str]] = {
    "small": {"FULL": "1"},
    # for the benchmark: 4,000 sleeping processes and a filled block-device page cache in a
    # 3 GB guest; built on demand (bench/run --fixture large), not by the tests
    "large": {
        "MEM": "3G",
        "TIMEOUT": "1800",
        "WORKLOAD": (
            "i=0; while [ $i -lt 4000 ]; do sleep 100000 & i=$((i+1)); done; "
            "dd if=/dev/vda of=/dev/null bs=1M count=1024 2>/dev/null"
        ),
    },
}


def build_key(name: str) -> str:
    """Return a short hash of the builder and the fixture's settings: a change rebuilds."""
    import hashlib

    h = hashlib.sha256(BUILDER.read_bytes())
    h.update(repr(sorted(KINDS[name].items())).encode())
    return h.hexdigest()[:8]


def cache_root() -> Path:
    """Return the directory that holds every cached fixture."""
    default = Path.home() / ".cache" / "pycrash" / "fixtures"
    return Path(os.environ.get("PYCRASH_FIXTURES", default))


def current_release(flavour: str = FLAVOUR) -> str | None:
    """Return the kernel release the distribution's ``linux-image-FLAVOUR`` points to."""
    try:
        out = subprocess.run(["apt-cache", "depends", f"linux-image-{flavour}"],
                             capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-"):
            return line.split("linux-image-", 1)[1].strip()
    return None


def find(name: str = "small") -> Path | None:
    """Return the cached fixture for the current release (or any release), or None."""
    root = cache_root()
    rel = current_release()
    if rel:
        path = root / f"{rel}-{name}-{build_key(name)}"
        return path if (path / "COMPLETE").exists() else None
    found = sorted(root.glob(f"*-{name}-{build_key(name)}/COMPLETE")) if root.exists() else []
    return found[-1].parent if found else None


def build(name: str = "small") -> Path:
    """Build the fixture ``name`` for the current release into the cache; return its path."""
    rel = current_release()
    if rel is None:
        raise SystemExit("cannot tell the current kernel release: run 'apt-get update' first")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{rel}-{name}-{build_key(name)}"
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; others wait and reuse it
        if (final / "COMPLETE").exists():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{rel}-{name}-", dir=root))
        env = dict(os.environ, **KINDS[name])
        print(f"building the {name} fixture for {rel} (a real kdump under QEMU, about a minute)",
              file=sys.stderr)
        subprocess.run(["bash", str(BUILDER), str(tmp), FLAVOUR], env=env, check=True,
                       stdout=sys.stderr)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    return final


def ensure(name: str = "small") -> Path:
    """Return the fixture directory, building it when it is not cached."""
    return find(name) or build(name)


def dump_files(path: Path) -> tuple[Path, Path]:
    """Return ``(vmlinux, vmcore.kdump)`` of a fixture directory."""
    rel = (path / "kernel-release").read_text().strip()
    return path / f"vmlinux-{rel}", path / "vmcore.kdump"


def main() -> int:
    """Print the fixture directory; with ``--open``, open its dump in pycrash."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--name", default="small", choices=sorted(KINDS))
    p.add_argument("--open", action="store_true", help="open the dump in pycrash")
    args = p.parse_args()
    path = ensure(args.name)
    print(path)
    if args.open:
        vmlinux, vmcore = dump_files(path)
        os.execv(sys.executable, [sys.executable, "-m", "pycrash", str(vmlinux), str(vmcore)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
