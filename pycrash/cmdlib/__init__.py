"""The shared layer for commands: selecting tasks, resolving addresses and symbols,
list and struct helpers, and the per-task renderer. Command modules import this layer
(and :mod:`pycrash.kernel`), never each other."""
