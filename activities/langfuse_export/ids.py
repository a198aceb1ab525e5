"""Langfuse ids derived from task ids and step keys, so a retried activity, a replayed or
continued-as-new workflow, and a second worker all name the same trace and observations:
re-sent, an observation replaces itself instead of appearing twice.

The derivations are Langfuse's own seeded ones (`Langfuse.create_trace_id(seed=...)`, and
the observation ids its `seed` option makes): a task's trace id is
`Langfuse.create_trace_id(seed=<task id>)` of the task that started its family.
"""

from __future__ import annotations

from hashlib import sha256

TASK_KEY = "task"  # the span of a whole task
DELEGATED_KEY = "delegated"  # the delegating call, named after the sub-agent task it started


def trace_id(root_task_id: str) -> str:
    """32 hex digits: the trace of a task and of every sub-agent task below it."""
    return sha256(root_task_id.encode()).digest()[:16].hex()


def observation_id(task_id: str, step_key: str) -> str:
    """16 hex digits: one step of one task (its step key as in Postgres, or TASK_KEY)."""
    return sha256(f"{task_id}:{step_key}".encode()).digest()[:8].hex()


def task_observation_id(task_id: str) -> str:
    return observation_id(task_id, TASK_KEY)


def delegation_observation_id(child_task_id: str) -> str:
    """The parent's `delegate` call that started this child: both sides can name it, the
    child knowing only its own id."""
    return observation_id(child_task_id, DELEGATED_KEY)
