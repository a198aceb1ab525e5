"""Choosing skills for a task at its start: for an agent with `choose_skills`, the skills whose
description is closest in meaning to the task's input join its prompt after those its spec
lists. The embedding model loads on the first choice (a process whose agents never choose
never loads it); the encoding runs in a thread, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from activities.skills.embeddings import SentenceEncoder
from activities.skills.library import SkillChooser, SkillLibrary, with_skills
from workflows.contracts.agents import AgentConfig
from workflows.contracts.skills import SkillUse


class SkillSelector:
    def __init__(self, library: SkillLibrary, packages_dir: Path) -> None:
        self.library = library
        self._packages_dir = packages_dir
        self._lock = threading.Lock()
        self._encoder: SentenceEncoder | None = None
        self._choosers: dict[tuple[str, ...] | None, SkillChooser] = {}

    def warm(self) -> None:
        """Load the embedding model now (EmbeddingModelError if it is missing or altered)."""
        with self._lock:
            self._encoder_now()

    def _encoder_now(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = SentenceEncoder.load(self._packages_dir)
        return self._encoder

    def _chooser(self, among: list[str] | None) -> SkillChooser:
        key = tuple(sorted(among)) if among is not None else None
        with self._lock:
            if key not in self._choosers:
                skills = [
                    skill
                    for skill in self.library.latest_skills()
                    if key is None or skill.name in key
                ]
                self._choosers[key] = SkillChooser(self._encoder_now(), skills)
            return self._choosers[key]

    def _apply(self, agent: AgentConfig, text: str) -> AgentConfig:
        choice = agent.choose_skills
        if choice is None:
            return agent
        listed = {use.name for use in agent.skills}
        scored = [
            (skill, score)
            for skill, score in self._chooser(choice.among).choose(
                text,
                limit=choice.limit + len(listed),
                threshold=choice.threshold,
                margin=choice.margin,
            )
            if skill.name not in listed and set(skill.tools) <= set(agent.tools)
        ][: choice.limit]
        if not scored:
            return agent
        uses = [SkillUse(name=s.name, version=s.version, score=round(v, 4)) for s, v in scored]
        prompt = with_skills(agent.system_prompt, [skill for skill, _ in scored])
        return agent.model_copy(update={"system_prompt": prompt, "skills": [*agent.skills, *uses]})

    async def apply(self, agent: AgentConfig, text: str) -> AgentConfig:
        """`agent` with the skills chosen for `text` in its prompt and `skills`; as it is when
        it chooses none."""
        if agent.choose_skills is None:
            return agent
        return await asyncio.to_thread(self._apply, agent, text)
