"""The command registry: built-ins, crash's aliases, entry-point plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT, Dump, pycrash

from pycrash.errors import CommandError
from pycrash.registry import Registry


@pytest.mark.fast
def test_builtins_and_aliases_resolve() -> None:
    reg = Registry()
    assert reg.lookup("dmesg") is reg.lookup("log")
    assert reg.lookup("lsmod") is reg.lookup("mod")
    assert reg.lookup("?") is reg.lookup("man") is reg.lookup("help")
    for name in ("sys", "ps", "bt", "log", "help", "mod"):
        assert reg.lookup(name).module == f"pycrash.commands.{name}"


@pytest.mark.fast
def test_unknown_command_suggests_close_names() -> None:
    with pytest.raises(CommandError, match=r'command not found: "bty" \(did you mean: bt'):
        Registry().lookup("bty")


@pytest.mark.fast
def test_our_plugin_comes_through_the_entry_point() -> None:
    reg = Registry()
    names = {c.name: c for c in reg.commands()}
    assert names["stacks"].module == "pycrash.plugins.stacks"
    assert not reg.plugin_errors


def test_third_party_plugin_and_broken_plugin(tmp_path: Path, dump: Dump) -> None:
    (tmp_path / "hello_cmd.py").write_text(
        "from dataclasses import dataclass\n"
        "from pycrash.command import Result, arg, command\n"
        "@dataclass\n"
        "class Hello:\n"
        "    release: str\n"
        "@command('hello', summary='greet the dump', synopsis='hello [-u]',\n"
        "         arguments=(arg('-u', dest='upper', action='store_true'),))\n"
        "def hello(session, args):\n"
        "    rel = session.target.release\n"
        "    return Result([Hello(rel.upper() if args.upper else rel)],\n"
        "                  render=lambda r: [f'hello {r.rows[0].release}'])\n"
    )
    dist = tmp_path / "hello_cmd-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-cmd\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[pycrash.commands]\nhello = hello_cmd\nbroken = no_such_module_here\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    run = pycrash("-s", str(dump.vmlinux), str(dump.vmcore), "-x", "hello -u; help", env=env)
    assert run.rc == 0, run.err
    assert run.out.splitlines()[0] == f"hello {dump.release.upper()}"
    assert "hello      greet the dump" in run.out
    assert "WARNING: plugin broken (no_such_module_here)" in run.out


@pytest.mark.fast
def test_the_entry_points_name_every_command_of_ours() -> None:
    """pyproject.toml lists one entry point per command name and alias of commands/ and
    plugins/, naming its module; the installed metadata (what the registry reads) agrees."""
    import importlib
    import pkgutil
    import re
    from importlib.metadata import entry_points

    import pycrash.commands
    import pycrash.plugins

    from pycrash.registry import ENTRY_POINT_GROUP, declared

    modules: dict[str, str] = {}
    for pkg in (pycrash.commands, pycrash.plugins):
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for cmd in declared(module):
                for name in (cmd.name, *cmd.aliases):
                    modules[name] = module.__name__
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split(f'[project.entry-points."{ENTRY_POINT_GROUP}"]\n', 1)[1].split("\n[")[0]
    listed = dict(re.findall(r'^"?([^"=\s]+)"? = "([^"]+)"$', section, re.M))
    assert listed == modules
    installed = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)
                 if ep.value.startswith("pycrash.")}
    assert installed == modules, "the installed metadata is stale: pip install -e ."


@pytest.mark.fast
def test_a_module_declares_only_its_own_commands() -> None:
    import types

    from pycrash.command import command
    from pycrash.registry import declared

    mod = types.ModuleType("pycrash_test_declares")

    def one(session, args):  # type: ignore[no-untyped-def]
        raise AssertionError

    one.__module__ = mod.__name__
    mod.one = command("one", summary="s", synopsis="one")(one)  # type: ignore[attr-defined]
    import pycrash.commands.log as log

    mod.log = log.log  # type: ignore[attr-defined]  # imported, not declared here
    mod.again = mod.one  # type: ignore[attr-defined]
    assert [c.name for c in declared(mod)] == ["one"]
    reg = Registry()
    assert [c.name for c in reg.register_module(mod)] == ["one"]
    assert reg.lookup("one").func is one


@pytest.mark.fast
def test_running_one_command_imports_only_its_module() -> None:
    import subprocess
    import sys

    code = ("import sys; from pycrash.registry import Registry; r = Registry(); "
            "r.lookup('dmesg'); print(sorted(m for m in sys.modules "
            "if m.startswith('pycrash.commands.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['pycrash.commands.log']"
