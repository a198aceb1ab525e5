"""The flood demo's stack loads the test agents with demo/pools.yaml, so every pool a test agent
names must be declared there too, or the demo's gateway refuses to start."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_pool_a_test_agent_names_is_declared_for_the_demo() -> None:
    demo = {
        pool["name"] for pool in yaml.safe_load((ROOT / "demo/pools.yaml").read_text())["pools"]
    }
    named = {
        spec["pool"]
        for path in sorted((ROOT / "tests/agents").glob("*.yaml"))
        if "pool" in (spec := yaml.safe_load(path.read_text()))
    }
    assert named - demo == set()
