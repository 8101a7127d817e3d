"""The command line: one module per command, all reached through ``python -m analysis``."""
