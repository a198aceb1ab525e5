"""Requests that spell out their steps in order ("compute 17*23, then add 1000, then multiply
by 3"), and what to tell a small model after each tool result so it takes the next one.

Small models read a tool result as the end of the task: told to answer after a result, they
answer with the first step's; told to go on if anything is left, they call the same tool on the
result until the runaway guard stops them (both measured: docs/EVALS.md). The request's own
order words say how many steps it has, so the reminder can name the next one outright.
"""

from __future__ import annotations

import re

# ", then" / "and then" / "; then" / ". Then" / ", after that": a step follows ("if it exists
# then delete it" and "since then" name no order). Anchored on the separator, never on a run of
# whitespace, so a long input costs linear time.
_THEN = re.compile(r"(?:[,;.]|\band)\s+(?:then|after\s+that)\b[,:]?", re.IGNORECASE)
# a sentence's end: a full stop or "!" before a capital ("3.5 hours" and "e.g. this" are none)
_SENTENCE_END = re.compile(r"(?<=[.!])\s+(?=[A-Z])")
# a comma before a word, in a list of steps that ends in "then" ("double it, add 5, then …");
# a comma before a number ("82, 91 and 94") lists operands, not steps
_STEP_COMMA = re.compile(r",\s+(?=[A-Za-z])")
# a file name: in a folder, or of 2 characters or more ("e.g." is none), and an extension
# that starts with a letter ("3.75" is none)
_FILE_NAME = r"(?:(?:[\w-]+/)+[\w-]+|[\w-]{2,})\.[A-Za-z][A-Za-z0-9]{0,7}"
FILE_NAME = re.compile(rf"(?<![\w/.-])({_FILE_NAME})(?![\w/-])")
# "and" before a file name joins two objects of one verb ("create a.txt … and b.txt …")
_AND_A_FILE = re.compile(rf"\s+and\s+(?={_FILE_NAME}(?![\w/-]))")
# a step that only names the value to start from ("Start with 10.") is part of the next one:
# named alone, the model took the next steps with it in one call
_STARTING_VALUE = re.compile(r"^(?:start|begin)\s+(?:with|from|at)\s+\S+$", re.IGNORECASE)
_LEADING_ORDER_WORD = re.compile(r"^(?:then|after\s+that)\b[,:]?\s*", re.IGNORECASE)


def steps_of(request: str) -> list[str]:
    """The request's steps in order; one step when it names no order.

    Sentences are steps when none of them is a question ("Read a.txt. If it does not exist,
    create it."): a word problem states its facts and then asks. Within a sentence, an order
    word splits it, and the commas of a list it ends ("A, B, C, then D") do too."""
    text = request.strip()
    sentences = _SENTENCE_END.split(text)
    if len(sentences) < 2 or any("?" in sentence for sentence in sentences):
        sentences = [text]
    steps: list[str] = []
    for sentence in sentences:
        parts = _THEN.split(sentence)
        if len(parts) > 1:
            parts = [*_STEP_COMMA.split(parts[0]), *parts[1:]]
        for part in parts:
            steps += _per_file(_LEADING_ORDER_WORD.sub("", part.strip(" .;,")))
    steps = [step for step in steps if step]
    for index in range(len(steps) - 2, -1, -1):
        if _STARTING_VALUE.match(steps[index]):
            steps[index : index + 2] = [f"{steps[index]}. {steps[index + 1]}"]
    return steps or [text]


def _per_file(step: str) -> list[str]:
    """A step that names several files for one verb, as a step per file, each with the verb."""
    first, *rest = _AND_A_FILE.split(step)
    verb = first.split(maxsplit=1)[0] if first.strip() else ""
    return [first, *(f"{verb} {part}" for part in rest)]


def next_step(request: str, steps_done: int) -> str | None:
    """The step to take after `steps_done` tool rounds, or None when none is left (or the
    request has a single step)."""
    steps = steps_of(request)
    if len(steps) < 2 or steps_done >= len(steps):
        return None
    return steps[steps_done]
