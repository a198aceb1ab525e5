"""Checking a final answer against the request before the task accepts it (the rule an agent's
spec turns on, workflows/contracts/answer_checks.py). Small models stop after the first part of
a request with several; told once what is still to do, they often go on.

The reminder is a user message recorded as a step, so a retried check finds it instead of
writing another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.db.engine import autocommitting
from activities.db.events import NewEvent
from activities.db.messages import NewMessage
from activities.db.models import Message
from activities.db.steps import StepRepository
from activities.request_steps import FILE_NAME
from workflows.contracts.answer_checks import AnswerCheck, AnswerCheckRequest, AnswerCheckResult

_REFUSED_BY_A_PERSON = "the approver rejected this call"
REMINDER_PREFIX = "Not finished yet:"  # how a reminder starts: prompts.py tells it from requests


class AnswerCheckActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn
    async def check_answer(self, request: AnswerCheckRequest) -> AnswerCheckResult:
        task_id, step_key = uuid.UUID(request.task_id), f"answer-check:{request.iteration}"
        async with autocommitting(self._sessions) as session:
            steps = StepRepository(session)
            read = await steps.inputs(task_id, step_key, request.message_ids)
            if read.done is not None:  # an earlier attempt wrote the reminder
                return AnswerCheckResult(reminder_message_id=read.done.id)
            missing = unhandled_files(read.transcript)
            if request.check is not AnswerCheck.named_files or not missing:
                return AnswerCheckResult()
            text = (
                f"{REMINDER_PREFIX} the request also names {', '.join(missing)}, which no tool "
                "call has handled. Do that next, then answer."
            )
            event = NewEvent("answer_check", {"iteration": request.iteration, "missing": missing})
            row = await steps.record(task_id, step_key, NewMessage("user", text), event)
        return AnswerCheckResult(reminder_message_id=row.id)


def unhandled_files(transcript: Sequence[Message]) -> list[str]:
    """The files the latest user message names that no later tool call handled: one whose
    result is not an error, or that a person refused."""
    request_at = max((i for i, row in enumerate(transcript) if row.role == "user"), default=-1)
    if request_at < 0:
        return []
    named = dict.fromkeys(FILE_NAME.findall(transcript[request_at].content or ""))
    results = {
        row.tool_call_id: row.content or ""
        for row in transcript[request_at:]
        if row.role == "tool" and row.tool_call_id
    }
    handled: set[str] = set()
    for row in transcript[request_at:]:
        for call in row.tool_calls or []:
            result = results.get(str(call.get("id")), "error: no result")
            path = (call.get("arguments") or {}).get("path")
            if isinstance(path, str) and (
                not result.startswith("error: ") or _REFUSED_BY_A_PERSON in result
            ):
                handled.add(path.strip().lstrip("./"))
    return [name for name in named if name not in handled]
