"""pycrash's built-in commands: one module per crash command (installed as pycrash.commands).

:data:`INDEX` maps every built-in command name and alias to its module, so that
running one command imports only its module. A test checks it against what
the modules declare.
"""

INDEX: dict[str, str] = {
    "alias": "alias",
    "bt": "bt",
    "dis": "dis",
    "extend": "extend",
    "files": "files",
    "foreach": "foreach",
    "help": "help", "?": "help", "man": "help",
    "kmem": "kmem",
    "log": "log", "dmesg": "log",
    "mod": "mod", "lsmod": "mod",
    "p": "p",
    "ps": "ps",
    "py": "py",
    "rd": "rd",
    "runq": "runq",
    "set": "set",
    "sig": "sig",
    "struct": "struct", "union": "struct", "*": "struct",
    "sym": "sym",
    "sys": "sys",
    "task": "task",
    "vm": "vm",
    "whatis": "whatis",
}
