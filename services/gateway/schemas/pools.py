"""Bodies of /v1/pools that only the REST API has (a pool's status, which `agentry pools` prints
too, is services/pools/status.py)."""

from __future__ import annotations

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
