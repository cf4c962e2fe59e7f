"""pycrash's built-in commands: one module per crash command (installed as pycrash.commands).

:data:`INDEX` maps every built-in command name and alias to its module, so that
running one command imports only its module. A test checks it against what
the modules declare.
"""

INDEX: dict[str, str] = {
    "alias": "alias",
    "ascii": "convert",
    "bt": "bt",
    "btop": "convert",
    "dev": "dev",
    "dis": "dis",
    "eval": "convert",
    "extend": "extend",
    "files": "files",
    "foreach": "foreach",
    "help": "help", "?": "help", "man": "help",
    "irq": "irq",
    "kmem": "kmem",
    "list": "list",
    "log": "log", "dmesg": "log",
    "mod": "mod", "lsmod": "mod",
    "mount": "mount",
    "net": "net",
    "p": "p",
    "ps": "ps",
    "ptob": "convert",
    "ptov": "convert",
    "py": "py",
    "rd": "rd",
    "runq": "runq",
    "search": "search",
    "set": "set",
    "sig": "sig",
    "struct": "struct", "union": "struct", "*": "struct",
    "swap": "swap",
    "sym": "sym",
    "sys": "sys",
    "task": "task",
    "timer": "timer",
    "tree": "tree",
    "vm": "vm",
    "vtop": "convert",
    "whatis": "whatis",
}
