"""pycrash's built-in commands: one module per crash command (installed as pycrash.commands)."""
