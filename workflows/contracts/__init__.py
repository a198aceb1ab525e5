"""Everything that crosses a boundary: REST ⇄ gateway ⇄ Temporal ⇄ activities.

One module per concept, each holding its payloads (pydantic models) and the names Temporal
knows them by (workflow, signal and error types, task queues), so a name is written once.
Every workflow, activity and signal takes one of these models and returns one. They carry
references (ids) and small values, never whole transcripts: messages live in Postgres.

This package imports nothing of the project, so every layer may import it.
"""
