"""Optional pycrash commands, loaded through the ``pycrash.commands`` entry point group."""
