"""A check of a final answer before it is accepted: does it cover every part of the request?
Turned on per agent (`answer_check` in its spec): a rule, cheap and exact, or the agent's
`classify` model group's judgement."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class AnswerCheck(StrEnum):
    # every file the request names was handled by a tool call that worked (or that a person
    # refused): a file agent that wrote one of two files has not answered yet
    named_files = "named_files"
    # the agent's classify model group reads the request and the answer and names what is
    # missing, if anything (activities/answer_judge.py)
    model = "model"


class AnswerCheckRequest(BaseModel):
    task_id: str
    iteration: int  # the turn whose answer is checked: the reminder's step key
    message_ids: list[int]  # the transcript so far
    model: str | None = None  # the classify model group, for the `model` check
    check: AnswerCheck


class AnswerCheckResult(BaseModel):
    # the reminder told to the model when the answer misses a part; None: accept the answer
    reminder_message_id: int | None = None
