"""Deterministic workflow code (the agent loop and its parts) and, in `contracts/`, the
payloads and names every layer shares."""
