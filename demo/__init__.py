"""Demos of the running system: scripts with a live terminal view (`python -m demo.NAME`)."""
