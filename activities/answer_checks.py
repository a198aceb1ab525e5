"""Checking a final answer against the request before the task accepts it (the rule an agent's
spec turns on, workflows/contracts/answer_checks.py). Small models stop after the first part of
a request with several; told once what is still to do, they often go on.

The reminder is a user message recorded as a step, so a retried check finds it instead of
writing another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.answer_judge import judge
from activities.db.engine import autocommitting
from activities.db.events import EventRepository, NewEvent
from activities.db.messages import NewMessage
from activities.db.models import Message
from activities.db.spend import SpendRepository, current_month
from activities.db.steps import StepRepository
from activities.db.tasks import StepCounters, TaskRepository
from activities.heartbeat import heartbeating
from activities.request_steps import FILE_NAME
from workflows.contracts.answer_checks import AnswerCheck, AnswerCheckRequest, AnswerCheckResult

REMINDER_PREFIX = "Not finished yet:"  # how a reminder starts: prompts.py tells it from requests


class AnswerCheckActivities:
    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], http: httpx.AsyncClient | None
    ) -> None:
        """`http` reaches the model proxy, for the `model` check (None: that check lets every
        answer through)."""
        self._sessions = session_factory
        self._http = http

    @activity.defn
    async def check_answer(self, request: AnswerCheckRequest) -> AnswerCheckResult:
        task_id, step_key = uuid.UUID(request.task_id), f"answer-check:{request.iteration}"
        async with autocommitting(self._sessions) as session:
            steps = StepRepository(session)
            read = await steps.inputs(task_id, step_key, request.message_ids)
            if read.done is not None:  # an earlier attempt wrote the reminder
                return AnswerCheckResult(reminder_message_id=read.done.id)
            if request.check is AnswerCheck.model:
                transcript = list(read.transcript)
            else:
                text = named_files_reminder(read.transcript)
                if request.check is not AnswerCheck.named_files or text is None:
                    return AnswerCheckResult()
                data = {"iteration": request.iteration, "missing": unhandled_files(read.transcript)}
                event = NewEvent("answer_check", data)
                row = await steps.record(task_id, step_key, NewMessage("user", text), event)
                return AnswerCheckResult(reminder_message_id=row.id)
        return await self._judged(request, task_id, step_key, transcript)

    async def _judged(
        self, request: AnswerCheckRequest, task_id: uuid.UUID, step_key: str,
        transcript: Sequence[Message],
    ) -> AnswerCheckResult:  # fmt: skip
        """The classify model's verdict, recorded with what it cost: a reminder naming what is
        missing, or (the answer taken) only the event and the usage."""
        asked, answer = request_and_answer(transcript)
        if self._http is None or request.model is None or not asked or not answer:
            return AnswerCheckResult()
        async with autocommitting(self._sessions) as session:  # an earlier attempt's verdict
            if await EventRepository(session).find(task_id, step_key) is not None:
                return AnswerCheckResult()  # it took the answer (a reminder is found above)
        verdict = await heartbeating(judge(self._http, request.model, asked, answer))
        event = NewEvent("answer_check", verdict.event(request.model, request.iteration))
        counters = StepCounters(
            llm_calls=1,
            prompt_tokens=verdict.prompt_tokens,
            completion_tokens=verdict.completion_tokens,
            cost_usd=verdict.cost_usd,
        )
        async with autocommitting(self._sessions) as session:
            if not verdict.complete:
                text = f"{REMINDER_PREFIX} {verdict.missing}. Do that next, then answer."
                steps = StepRepository(session)
                row = await steps.record(
                    task_id, step_key, NewMessage("user", text), event, counters
                )
                return AnswerCheckResult(reminder_message_id=row.id)
            if await EventRepository(session).add(task_id, step_key, event) is not None:
                await TaskRepository(session).count_step(task_id, counters)
                await SpendRepository(session).settle(
                    task_id, step_key, verdict.cost_usd, current_month()
                )
        return AnswerCheckResult()


def request_and_answer(transcript: Sequence[Message]) -> tuple[str, str]:
    """The latest request a person wrote (not a reminder or summary) and the last answer."""
    asked = next(
        (
            row.content or ""
            for row in reversed(transcript)
            if row.role == "user"
            and row.summary_of is None
            and not (row.content or "").startswith(REMINDER_PREFIX)
        ),
        "",
    )
    answer = next(
        (row.content or "" for row in reversed(transcript) if row.role == "assistant"), ""
    )
    return asked, answer


def unhandled_files(transcript: Sequence[Message]) -> list[str]:
    """The files the latest user message names that no later tool call has named. A call
    that failed counts: the model has read why ("no file drafts/plan.txt"), and told again
    it only repeats the call."""
    return _files_of_request(transcript)[0]


def named_files_reminder(transcript: Sequence[Message]) -> str | None:
    """What the model is told when the request names files no call has named, or None. When
    one file is missing and the calls wrote one path the request does not name, the reminder
    says which path was meant: the 0.5B model writes the system prompt's example path
    (`drafts/notes.md` for `report.txt`), and told only that `report.txt` is left, it writes
    the example path again."""
    missing, request, stray = _files_of_request(transcript)
    if not missing:
        return None
    if len(missing) == 1 and len(stray) == 1:
        return f"{REMINDER_PREFIX} the path is {missing[0]}, not {stray[0]}. {request}"
    return (
        f"{REMINDER_PREFIX} the request also names {', '.join(missing)}, which no tool call "
        "has handled. Do that next, then answer."
    )


def _files_of_request(transcript: Sequence[Message]) -> tuple[list[str], str, list[str]]:
    """The files the latest request names that no later call named, the request, and the
    paths later calls wrote that it does not name."""
    request_at = max(
        (
            i
            for i, row in enumerate(transcript)
            if row.role == "user" and not (row.content or "").startswith(REMINDER_PREFIX)
        ),
        default=-1,
    )
    if request_at < 0:
        return [], "", []
    request = transcript[request_at].content or ""
    named = dict.fromkeys(FILE_NAME.findall(request))
    called: set[str] = set()
    written: dict[str, None] = {}
    for row in transcript[request_at:]:
        for call in row.tool_calls or []:
            path = (call.get("arguments") or {}).get("path")
            if isinstance(path, str):
                path = path.strip().lstrip("./")
                called.add(path)
                if call.get("name") == "write_file":
                    written[path] = None
    missing = [name for name in named if name not in called]
    return missing, request, [path for path in written if path not in named]
