"""The format fuzzer: damaged copies of every form of the small fixture, each opened by a
pycrash process running ``sys; ps; bt -a; log; kmem -i; mod``; none may print a
traceback or an internal error, die of a signal, hang, or fail without one line per
error; no input is ever written.

``scripts/test`` runs issue 15's regression cases and a fixed quick set (seed 15, two
damaged fields per structure of each format); ``PYCRASH_FUZZ=long scripts/test
tests/fuzz`` twelve per structure (``PYCRASH_FUZZ_SEED=N`` another seed).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases as gen  # noqa: E402
from runner import Outcome, Workspace, report  # noqa: E402

LONG = os.environ.get("PYCRASH_FUZZ") == "long"
SEED = int(os.environ.get("PYCRASH_FUZZ_SEED", gen.SEED))

#: issue 15's root causes: each is a case of :func:`cases.regressions`
REGRESSIONS = (
    "desc-size-0xffffffff-sigbus", "desc-offset-huge-misleading", "kdump-block-size-1",
    "kdump-max-mapnr-huge", "kdump-vmcoreinfo-offset-huge", "kdump-note-size-huge",
    "zlib-corrupt-pages-own-reader", "zlib-corrupt-pages-drgn-reader", "short-nt-prstatus",
    "short-nt-prstatus-flattened-elf", "flattened-elf-overlapping-segments",
    "elf-unknown-machine",
    "elfcorehdr-sign-bit", "elfcorehdr-kernel-form", "oldmem-one-byte-short",
    "oldmem-directory", "raw-negative-address", "fifo-as-dump", "fifo-as-vmlinux",
    "fifo-as-oldmem", "directory-as-dump", "vmlinux-truncated-1mib", "vmlinux-truncated-half",
    "vmlinux-section-offset-sign-bit",
    "vmlinux-truncated-100-short", "report-on-truncated-vmlinux", "vmlinux-invalid-dwarf",
    "vmlinux-invalid-dwarf-eager",
    "bad-option",
)


@pytest.fixture(scope="module")
def workspace(dump: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The scratch copies of the small fixture's forms; at the end, every input is hashed
    in full against its hash from the start."""
    ws = gen.workspace(tmp_path_factory.mktemp("fuzz"))
    yield ws
    changed = ws.unchanged()
    ws.close()
    assert not changed, changed


@pytest.fixture(scope="module")
def regression_cases(workspace: Workspace) -> dict[str, gen.Case]:
    return {c.name.removeprefix("regression."): c for c in gen.regressions(workspace)}


def _run(workspace: Workspace, case: gen.Case) -> Outcome:
    outcome = workspace.run(case)
    assert not outcome.problems, "\n".join(report([outcome]))
    return outcome


def test_every_regression_is_named(regression_cases: dict[str, gen.Case]) -> None:
    assert sorted(regression_cases) == sorted(REGRESSIONS)


#: what each regression case must say on stderr (beyond the fuzzer's rules), and its
#: exit status
EXPECT = {
    "desc-size-0xffffffff-sigbus": (1, ["corrupt page descriptors", "page descriptor",
                                        "of the dump is corrupt"]),
    "desc-offset-huge-misleading": (0, ["1 corrupt page descriptor", "0x55dd3a8fd714a0b6",
                                        "outside the page data"]),
    "kdump-block-size-1": (2, ["corrupt kdump header (block size 1)"]),
    "kdump-max-mapnr-huge": (2, ["corrupt kdump header", "page frames"]),
    "kdump-vmcoreinfo-offset-huge": (2, ["corrupt kdump sub-header (VMCOREINFO"]),
    "kdump-note-size-huge": (2, ["corrupt kdump sub-header (notes"]),
    "zlib-corrupt-pages-own-reader": (1, ["of the dump is corrupt (zlib: "]),
    "zlib-corrupt-pages-drgn-reader": (1, ["cannot read memory at"]),
    "short-nt-prstatus": (0, []),
    "short-nt-prstatus-flattened-elf": (0, []),
    "flattened-elf-overlapping-segments": (0, []),
    "elf-unknown-machine": (2, ["a dump of an unknown machine: pycrash reads x86-64"]),
    "elfcorehdr-sign-bit": (2, ["no ELF core header at 0x8000000000000000"]),
    "elfcorehdr-kernel-form": (0, []),
    "oldmem-one-byte-short": (2, ["truncated oldmem image"]),
    "oldmem-directory": (2, ["is a directory"]),
    "raw-negative-address": (2, ["bad physical address '-4096'"]),
    "fifo-as-dump": (2, ["is a FIFO (named pipe), not a dump file"]),
    "fifo-as-vmlinux": (2, ["is a FIFO (named pipe)"]),
    "fifo-as-oldmem": (2, ["is a FIFO (named pipe)"]),
    "directory-as-dump": (2, ["is a directory, not a dump file"]),
    "vmlinux-truncated-1mib": (2, ["damaged ELF file"]),
    "vmlinux-truncated-100-short": (2, ["damaged ELF file"]),
    "vmlinux-truncated-half": (2, ["damaged ELF file"]),
    "vmlinux-section-offset-sign-bit": (2, ["damaged ELF file"]),
    "report-on-truncated-vmlinux": (2, ["damaged ELF file"]),
    "vmlinux-invalid-dwarf": (1, ["p: the vmlinux's debug info is damaged (libdw error",
                                  "bt: the vmlinux's debug info is damaged"]),
    "vmlinux-invalid-dwarf-eager": (2, ["damaged debug info (libdw error"]),
    "bad-option": (2, ["unrecognized arguments: --bogus"]),
}


@pytest.mark.parametrize("name", REGRESSIONS)
def test_regression(name: str, workspace: Workspace,
                    regression_cases: dict[str, gen.Case]) -> None:
    outcome = _run(workspace, regression_cases[name])
    rc, needles = EXPECT[name]
    assert outcome.rc == rc, "\n".join([outcome.err, outcome.out[-500:]])
    for needle in needles:
        assert needle in outcome.err, outcome.err
    if rc == 2:  # a refused open: exactly one line
        assert outcome.err.count("\n") == 1, outcome.err
    if rc == 0:
        assert "PANIC:" in outcome.out, outcome.out[:500]


def test_generated_cases(workspace: Workspace) -> None:
    """The quick set (or, with PYCRASH_FUZZ=long, the long one): every generated case."""
    todo = [c for c in gen.all_cases(workspace, long=LONG, seed=SEED)
            if not c.name.startswith("regression.")]
    outcomes = [workspace.run(c) for c in todo]
    bad = list(report(outcomes))
    assert len(outcomes) >= (200 if LONG else 50)
    assert not bad, f"{len(bad)} of {len(outcomes)} cases failed:\n" + "\n".join(bad)
