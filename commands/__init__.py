"""pycrash's built-in commands: one module per crash command (installed as pycrash.commands).

Each module is found through the ``pycrash.commands`` entry points that
pyproject.toml lists, one per command name and alias (see :mod:`pycrash.registry`).
"""
