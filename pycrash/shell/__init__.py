"""The interactive shell: a prompt_toolkit REPL with crash's conveniences."""
