"""Evals against the running stack; trajectory replay lives in evals/replay/."""
