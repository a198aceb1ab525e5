"""Bodies of /v1/pools that only the REST API has (a pool's status, which `agentry pools` prints
too, is services/pools/status.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.pools.scaling import DesiredReplicas


class ReplicasUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"replicas": 3}]})

    replicas: int = Field(
        ge=0, description="Worker processes for the pool, within its min_replicas..max_replicas."
    )


class PoolReplicasOut(BaseModel):
    pool: str
    replicas: DesiredReplicas


class PoolSampleOut(BaseModel):
    at: datetime = Field(description="When the sample was taken (rounded down to the step).")
    backlog: int | None = Field(
        description="Workflow and activity tasks waiting for a worker (Temporal's approximate "
        "count); null when the server does not report task-queue stats."
    )
    queued: int = Field(description="Tasks of the pool's agents not started yet.")
    running: int
    waiting: int = Field(description="Tasks waiting for an approval or the next message.")
    workers: int = Field(description="Worker processes polling the pool's queue.")
    replicas: int = Field(description="Worker processes the pool should have.")


class PoolHistory(BaseModel):
    name: str
    samples: list[PoolSampleOut] = Field(description="Oldest first.")


class PoolHistoryList(BaseModel):
    step_seconds: float = Field(description="How often the gateway samples the pools.")
    start: datetime
    end: datetime
    items: list[PoolHistory]
