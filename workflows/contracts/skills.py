"""Skills in a task's config: which versions its prompt carries, and how the runtime may choose
more from the task's input (activities/skills/)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SkillUse(BaseModel):
    """A skill version a task's prompt carries (`skills_used` of the task and its trace)."""

    name: str
    version: int
    # the chooser's similarity of the task's input to the skill; None: the spec lists it
    score: float | None = None


class SkillChoice(BaseModel):
    """`choose_skills:` of a spec: the skills whose description is closest in meaning to the
    task's input are loaded too, at most `limit`, each at least `threshold` alike and at least
    `margin` more alike than every skill not chosen (a close call chooses neither)."""

    model_config = ConfigDict(extra="forbid")

    among: list[str] | None = None  # skill names; None: every skill
    limit: int = Field(default=2, ge=1, le=5)
    threshold: float = Field(default=0.3, gt=0.0, lt=1.0)
    margin: float = Field(default=0.0, ge=0.0, lt=1.0)
