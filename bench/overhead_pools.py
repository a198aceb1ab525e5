"""The pools file of `bench/overhead.py`: the `default` pool exactly as production declares it
(deploy/pools.yaml: its concurrency limits, one worker), and the test agents' other pools
(tests/pools.yaml) without workers, since the stack loads those agents too. `model_turns`, when
given, replaces the `default` pool's (to measure the other way of running a model turn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench import ROOT
from services.pools.catalog import POLLER_SLOTS, PoolSpec

PRODUCTION_POOLS = ROOT / "deploy" / "pools.yaml"
TEST_POOLS = ROOT / "tests" / "pools.yaml"


def bench_pools(path: Path, model_turns: str | None = None) -> Path:
    """Write the pools file to `path` and return it."""
    pools: list[dict[str, Any]] = list(yaml.safe_load(PRODUCTION_POOLS.read_text())["pools"])
    if model_turns is not None:
        pools = [_with_model_turns(pool, model_turns) if pool["name"] == "default" else pool
                 for pool in pools]  # fmt: skip
    declared = {pool["name"] for pool in pools}
    for pool in yaml.safe_load(TEST_POOLS.read_text())["pools"]:
        if pool["name"] not in declared:
            pools.append({**pool, "min_replicas": 0})
    path.write_text(yaml.safe_dump({"pools": pools}, sort_keys=False))
    return path


def _with_model_turns(pool: dict[str, Any], model_turns: str) -> dict[str, Any]:
    """`pool` with its model turns run as asked; local turns get the workflow-task slots they
    need (services/pools/catalog.py POLLER_SLOTS), as an operator would give them."""
    changed = {**pool, "model_turns": model_turns}
    if model_turns == "local":
        spec = PoolSpec.model_validate({**pool, "model_turns": "activity"})
        needed = spec.model_call_limit + POLLER_SLOTS
        changed["max_concurrent_workflow_tasks"] = max(spec.max_concurrent_workflow_tasks, needed)
    return changed
