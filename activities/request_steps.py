"""Requests that spell out their steps in order ("compute 17*23, then add 1000, then multiply
by 3"), and what to tell a small model after each tool result so it takes the next one.

Small models read a tool result as the end of the task: told to answer after a result, they
answer with the first step's; told to go on if anything is left, they call the same tool on the
result until the runaway guard stops them (both measured: docs/EVALS.md). The request's own
order words say how many steps it has, so the reminder can name the next one outright.
"""

from __future__ import annotations

import re
from functools import lru_cache

# ", then" / "and then" / "; then" / ". Then" / ", after that": a step follows ("if it exists
# then delete it" and "since then" name no order). Every pattern here is anchored on a
# separator, never on a run of whitespace, so a long input costs linear time.
_THEN = re.compile(r"(?:[,;.]|\band)\s+(?:then|after\s+that)\b[,:]?", re.IGNORECASE)
# a sentence's end: a full stop or "!" before a capital ("3.5 hours" is none); one after an
# abbreviation ("Mr.", "St.", "e.g.") or inside quotes is none either (_sentences)
_SENTENCE_END = re.compile(r"(?<=[.!])\s+(?=[A-Z])")
_ABBREVIATION = re.compile(r"(?:[A-Z][a-z]{0,2}|[A-Za-z](?:\.[A-Za-z])+)[.!]")
_QUOTE = re.compile(r"\"|(?<![A-Za-z])'|'(?![A-Za-z])")  # not an apostrophe ("don't")
# a sentence that starts so states a fact or greets ("I earn $5 an hour.", "Hello!"): the
# request is then a problem to solve as a whole, not a list of steps
_STATEMENT = re.compile(
    r"(?:i|we|you|he|she|it|they|a|an|the|my|our|your|his|her|its|their|this|that|these|"
    r"those|there|hello|hi|hey|dear|thanks)\b",
    re.IGNORECASE,
)
# a comma before a word, in a list of steps that ends in "then" ("double it, add 5, then …",
# "…, and add 5, then …"); a comma before a number ("82, 91, and 94") lists operands
_STEP_COMMA = re.compile(r",\s+(?:and\s+(?=[A-Za-z])|(?!(?:and|or)\b)(?=[A-Za-z]))", re.IGNORECASE)
_CONDITION = re.compile(r"(?:if|when|unless|once|while|before|after)\b", re.IGNORECASE)
# a file name: in a folder, or of 2 characters or more ("e.g." is none), and an extension
# that starts with a letter ("3.75" is none)
_FILE_NAME = r"(?:(?:[\w-]+/)+[\w-]+|[\w-]{2,})\.[A-Za-z][A-Za-z0-9]{0,7}"
FILE_NAME = re.compile(rf"(?<![\w/.-])({_FILE_NAME})(?![\w/-])")
# "and" before a file name joins two objects of one verb ("create a.txt … and b.txt …")
_AND_A_FILE = re.compile(rf"(?<!\s)\s+and\s+(?={_FILE_NAME}(?![\w/-]))")
_VERB_FILE_DETAILS = re.compile(rf"\w+\s+{_FILE_NAME}\s+\S")  # "Create a.txt containing …"
_FILE_DETAILS = re.compile(rf"{_FILE_NAME}\s+\S")
# a step that only names the value to start from ("Start with 10.") is part of the next one:
# named alone, the model took the next steps with it in one call
_STARTING_VALUE = re.compile(r"^(?:start|begin)\s+(?:with|from|at)\s+\S+$", re.IGNORECASE)
_LEADING_ORDER_WORD = re.compile(r"^(?:then|after\s+that)\b[,:]?\s*", re.IGNORECASE)


def steps_of(request: str) -> list[str]:
    """The request's steps in order; one step when it names no order.

    Sentences are steps when none of them is a question or a statement ("Read a.txt. If it
    does not exist, create it."): a word problem states its facts and then asks. Within a
    sentence, an order word splits it, and the commas of a list it ends ("A, B, C, then D")
    do too."""
    return list(_steps(request))


@lru_cache(maxsize=256)  # asked once per tool result of the task's transcript, each turn
def _steps(request: str) -> tuple[str, ...]:
    text = request.strip()
    steps: list[str] = []
    for sentence in _sentences(text):
        parts = _THEN.split(sentence)
        if len(parts) > 1 and not _CONDITION.match(parts[0]):
            parts = [*_STEP_COMMA.split(parts[0]), *parts[1:]]
        for part in parts:
            steps += _per_file(_LEADING_ORDER_WORD.sub("", part.strip().strip(".;,").strip()))
    steps = [step for step in steps if step]
    for index in range(len(steps) - 2, -1, -1):
        if _STARTING_VALUE.match(steps[index]):
            steps[index : index + 2] = [f"{steps[index].rstrip('.!')}. {steps[index + 1]}"]
    return tuple(steps) or (text,)


def _sentences(text: str) -> list[str]:
    """The text's sentences when each is a step, else the text as one."""
    sentences, start, scanned, quotes = [], 0, 0, 0
    for end in _SENTENCE_END.finditer(text):
        quotes += len(_QUOTE.findall(text, scanned, end.start()))
        scanned = end.start()
        last_word = text[start : end.start()].rsplit(None, 1)[-1]
        if quotes % 2 or _ABBREVIATION.fullmatch(last_word):
            continue
        sentences.append(text[start : end.start()])
        start = end.end()
    sentences.append(text[start:])
    if len(sentences) < 2 or any("?" in s or _STATEMENT.match(s) for s in sentences):
        return [text]
    return sentences


def _per_file(step: str) -> list[str]:
    """A step that names several files for one verb, each with its own details ("Create a.txt
    containing 'x' and b.txt containing 'y'"), as a step per file, each with the verb."""
    first, *rest = _AND_A_FILE.split(step)
    if not rest or not _VERB_FILE_DETAILS.match(first):
        return [step]
    if not all(_FILE_DETAILS.match(part) for part in rest):
        return [step]
    verb = first.split(maxsplit=1)[0]
    return [first, *(f"{verb} {part}" for part in rest)]


def next_step(request: str, steps_done: int) -> str | None:
    """The step to take after `steps_done` tool rounds, or None when none is left (or the
    request has a single step)."""
    steps = steps_of(request)
    if len(steps) < 2 or steps_done >= len(steps):
        return None
    return steps[steps_done]
