"""The memory-access layer: identify a dump by its bytes and open it as a drgn Program
(:mod:`pycrash.memory.formats`, one module per format)."""
