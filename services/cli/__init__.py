"""The `agentry` command: `main.py` builds the parser; each other module is one group of
subcommands and adds itself with `add_commands`."""
