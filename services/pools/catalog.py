"""Worker pools, declared in `deploy/pools.yaml`: each task type runs on its own pool.

A pool is a task queue plus the limits its workers honour. Agent specs name their pool; a spec
naming a pool that is not declared stops the gateway from starting, so a task can never wait on
a queue nobody polls. Replica bounds are here for scaling; `priority` is the pool's default
task priority (Temporal's 1 highest … 5), for when submits carry priorities.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workflows.contracts.tasks import task_queue_for_pool

POOL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
DEFAULT_POOL = "default"
# workflow-task slots a worker's pollers reserve while they wait for work (Temporal's default:
# four on the sticky queue, one on the pool's): a local model turn under way holds one more
# until it ends, so a local-turn pool needs these on top of its model calls, or its new tasks
# wait for a free slot (measured: 4 slots, 4 tasks of a 1 s turn took 4.1 s; 8 slots, 1.1 s)
POLLER_SLOTS = 5


class PoolConfigError(ValueError):
    """A pools file that cannot be used; the message names the file and the field."""


class ModelTurns(StrEnum):
    """How a pool's workers run a model turn (workflows/memory.py)."""

    activity = "activity"  # a regular activity: heartbeats, a dead worker noticed in 3 s
    # a local activity, inside the workflow task that asked for it: no activity task and no
    # workflow task to wake the loop after it (docs/BENCHMARKS.md); a cancel or signal reaches
    # the task when it next waits (a regular activity, an approval, its end) or at Temporal's
    # workflow-task heartbeat (every 8 s), a dead worker's turn is retried once its workflow task
    # times out (10 s), and each turn under way holds a workflow-task slot (POLLER_SLOTS)
    local = "local"


class PoolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    max_concurrent_workflow_tasks: int = Field(default=50, ge=2, le=10_000)
    max_concurrent_activities: int = Field(default=50, ge=1, le=10_000)
    # None: as many as its activities; a saturated model server holds calls by its own readings
    # (activities/model_admission.py), so no fixed cap has to guess what the server takes
    max_concurrent_model_calls: int | None = Field(default=None, ge=1, le=10_000)
    min_replicas: int = Field(default=1, ge=0, le=1_000)
    max_replicas: int = Field(default=4, ge=1, le=1_000)
    priority: int = Field(default=3, ge=1, le=5)
    model_turns: ModelTurns = ModelTurns.activity

    @property
    def model_call_limit(self) -> int:
        """Model requests one worker process has in flight at once."""
        return self.max_concurrent_model_calls or self.max_concurrent_activities

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not POOL_NAME.match(value):
            raise ValueError("must be lowercase letters, digits or '-', starting with a letter")
        return value

    @model_validator(mode="after")
    def _replicas_in_order(self) -> PoolSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) exceeds max_replicas ({self.max_replicas})"
            )
        needed = self.model_call_limit + POLLER_SLOTS
        if self.model_turns is ModelTurns.local and self.max_concurrent_workflow_tasks < needed:
            raise ValueError(
                f"model_turns: local needs max_concurrent_workflow_tasks of at least {needed} "
                f"(its {self.model_call_limit} model calls at once, each holding a workflow-task "
                f"slot while it runs, and {POLLER_SLOTS} for Temporal's pollers); it is "
                f"{self.max_concurrent_workflow_tasks}"
            )
        return self

    @property
    def task_queue(self) -> str:
        return task_queue_for_pool(self.name)


class _PoolsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pools: list[PoolSpec] = Field(min_length=1)


class PoolCatalog:
    """The declared pools by name, in the file's order."""

    def __init__(self, pools: list[PoolSpec]) -> None:
        self._pools = {pool.name: pool for pool in pools}

    @classmethod
    def load(cls, path: Path) -> PoolCatalog:
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise PoolConfigError(f"{path}: pools file not found (setting pools_file)") from None
        except yaml.YAMLError as exc:
            raise PoolConfigError(f"{path}: not valid YAML: {exc}") from exc
        try:
            parsed = _PoolsFile.model_validate(raw)
        except ValidationError as exc:
            raise PoolConfigError(f"{path}: {_describe(exc, raw)}") from None
        names = [pool.name for pool in parsed.pools]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise PoolConfigError(f"{path}: pools defined more than once: {twice}")
        if DEFAULT_POOL not in names:
            raise PoolConfigError(f"{path}: pool {DEFAULT_POOL!r} must be declared")
        return cls(parsed.pools)

    def get(self, name: str) -> PoolSpec | None:
        return self._pools.get(name)

    def require(self, names: list[str]) -> list[PoolSpec]:
        """The named pools; an unknown name raises `PoolConfigError` listing the known ones."""
        unknown = [name for name in names if name not in self._pools]
        if unknown:
            raise PoolConfigError(f"unknown pools {unknown}; declared pools: {self.names()}")
        return [self._pools[name] for name in dict.fromkeys(names)]

    def names(self) -> list[str]:
        return list(self._pools)

    def local_turn_pools(self) -> list[str]:
        """The pools whose model turns run as local activities."""
        return [pool.name for pool in self if pool.model_turns is ModelTurns.local]

    def __iter__(self) -> Iterator[PoolSpec]:
        return iter(self._pools.values())


def _describe(exc: ValidationError, raw: object) -> str:
    """Each problem as `pools[1] (name 'batch').max_replicas: message`."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "pools" and isinstance(loc[1], int):
            where = f"pools[{loc[1]}]"
            name = _pool_name(raw, loc[1])
            if name:
                where += f" (name {name!r})"
            loc = loc[2:]
            where += "".join(f".{part}" for part in loc)
        else:
            where = ".".join(str(part) for part in loc) or "file"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def _pool_name(raw: object, index: int) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("pools"), list):
        pools = raw["pools"]
        if index < len(pools) and isinstance(pools[index], dict):
            name = pools[index].get("name")
            return name if isinstance(name, str) else None
    return None
