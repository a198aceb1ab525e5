"""The `agentry` command: `main.py` builds the parser; each other module is one group of
subcommands and adds itself with `add_commands`. A command imports what it needs when it runs,
so `agentry --help` and every command start without loading the others' dependencies."""
