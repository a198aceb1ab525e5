"""Processes and their wiring: the gateway, the worker, the embedded stack, the CLI, and what
they share (settings, agent specs, API keys, pools, the Temporal client)."""
