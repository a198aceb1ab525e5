"""Worker pools come from a YAML file; every mistake in it, or an agent naming an undeclared
pool, stops start-up with a message naming the file and the field. Model calls of a pool wait
for a free slot, heartbeating meanwhile, and the `wait` tool waits."""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.heartbeat import heartbeating
from activities.llm import LlmActivities
from activities.tools.builtin import MAX_WAIT_SECONDS, wait
from activities.tools.errors import ToolError
from activities.tools.registry import default_registry
from services.agent_catalog import AgentCatalog
from services.agent_specs import AgentSpecError
from services.pools.catalog import PoolCatalog, PoolConfigError
from workflows.policies import TOOL_CALL_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pools.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PoolConfigError) as error:
        PoolCatalog.load(path)
    message = str(error.value)
    assert message.startswith(str(path)), message
    return message


def test_the_shipped_pools_file_declares_default_and_the_shipped_agents_fit_it() -> None:
    pools = PoolCatalog.load(ROOT / "deploy" / "pools.yaml")
    default = pools.get("default")
    assert default is not None and default.task_queue == "agentry-default"
    AgentCatalog.load(ROOT / "agents", pools=pools.names())
    test_pools = PoolCatalog.load(ROOT / "tests" / "pools.yaml")
    AgentCatalog.load(ROOT / "tests" / "agents", pools=test_pools.names())


def test_limits_are_read_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    pools = PoolCatalog.load(
        write(
            tmp_path,
            """\
            pools:
              - name: default
              - name: research
                max_concurrent_workflow_tasks: 4
                max_concurrent_activities: 3
                max_concurrent_model_calls: 2
                min_replicas: 0
                max_replicas: 10
              - name: fast
                max_concurrent_workflow_tasks: 7
                max_concurrent_model_calls: 2
                model_turns: local
            """,
        )
    )
    assert pools.names() == ["default", "research", "fast"]
    research = pools.get("research")
    assert research is not None
    assert (research.max_concurrent_activities, research.max_concurrent_model_calls) == (3, 2)
    assert (research.min_replicas, research.max_replicas, research.priority) == (0, 10, 3)
    assert pools.local_turn_pools() == ["fast"]  # the others' turns stay activities
    assert [pool.name for pool in pools.require(["research", "research"])] == ["research"]
    with pytest.raises(PoolConfigError, match=r"unknown pools \['nope'\]"):
        pools.require(["nope"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pools:\n  - name: batch\n", "pool 'default' must be declared"),
        ("pools: []\n", "pools: List should have at least 1 item"),
        ("pools:\n  - name: default\n  - name: default\n", "more than once: ['default']"),
        ("pools:\n  - name: Default!\n", "pools[0] (name 'Default!').name: Value error"),
        (
            "pools:\n  - name: default\n  - name: b\n    max_concurrent_activities: 0\n",
            "pools[1] (name 'b').max_concurrent_activities: Input should be greater",
        ),
        ("pools:\n  - name: default\n    max_activities: 3\n", "max_activities: Extra inputs"),
        (
            "pools:\n  - name: default\n    min_replicas: 3\n    max_replicas: 2\n",
            "min_replicas (3) exceeds max_replicas (2)",
        ),
        (
            "pools:\n  - name: default\n    model_turns: inline\n",
            "pools[0] (name 'default').model_turns: Input should be 'activity' or 'local'",
        ),
        (  # a local turn under way holds a workflow-task slot: 50 calls need 55 slots
            "pools:\n  - name: default\n    model_turns: local\n",
            "model_turns: local needs max_concurrent_workflow_tasks of at least 55 (its 50 "
            "model calls at once",
        ),
        ("pools: [\n", "not valid YAML"),
    ],
)
def test_mistakes_name_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(tmp_path, text)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PoolConfigError, match="pools file not found"):
        PoolCatalog.load(tmp_path / "absent.yaml")


def test_an_agent_on_an_undeclared_pool_stops_the_catalog(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\npool: research\n")
    with pytest.raises(AgentSpecError) as error:
        AgentCatalog.load(tmp_path, pools=["default"])
    assert str(tmp_path / "a.yaml") in str(error.value)
    assert "pool 'research' is not declared; declared pools: ['default']" in str(error.value)
    catalog = AgentCatalog.load(tmp_path, pools=["default", "research"])
    assert catalog.agents_by_pool() == {"research": ["a"]}


def test_the_agents_of_a_local_turn_pool_run_their_turns_locally(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\npool: research\n")
    (tmp_path / "b.yaml").write_text("name: b\n")
    pools = ["default", "research"]
    catalog = AgentCatalog.load(tmp_path, pools=pools, local_turn_pools=["research"])
    configs = {name: catalog.config(name) for name in ("a", "b")}
    assert {n: c.local_model_turns for n, c in configs.items() if c} == {"a": True, "b": False}
    spec = catalog.get("a")
    assert spec is not None
    assert catalog.config_of(spec.model_copy(update={"version": 2})).local_model_turns  # pinned


async def test_a_model_turn_waits_for_a_slot_and_heartbeats_while_waiting() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})

    slots = asyncio.Semaphore(1)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://llm"
    ) as http:
        llm = LlmActivities(None, http, default_registry(), slots)  # type: ignore[arg-type]
        env = ActivityEnvironment()
        beats: list[Any] = []
        env.on_heartbeat = lambda *details: beats.append(details)

        async def turn() -> tuple[dict[str, Any], int]:
            return await heartbeating(llm._complete_in_slot({"model": "m"}), every_seconds=0.02)

        await slots.acquire()  # another call holds the pool's only slot
        waiting = asyncio.create_task(env.run(turn))
        await asyncio.sleep(0.2)
        assert calls == 0 and len(beats) >= 3 and not waiting.done()
        slots.release()
        reply, duration_ms = await asyncio.wait_for(waiting, 5)
    assert calls == 1 and reply["choices"][0]["message"]["content"] == "hi"
    assert duration_ms < 150  # the wait for the slot is not the call's duration


async def test_wait_waits_and_caps_long_waits() -> None:
    started = time.monotonic()
    assert await wait(0.2) == "waited 0.2 seconds"
    assert time.monotonic() - started >= 0.2
    with pytest.raises(ToolError):
        await wait(-1)
    tool = default_registry().get("wait")
    assert tool.parameters_schema["required"] == ["seconds"]
    assert MAX_WAIT_SECONDS < TOOL_CALL_TIMEOUT.total_seconds()


def test_a_pool_without_a_model_call_cap_takes_as_many_as_its_activities() -> None:
    """The model server's own readings hold calls when it is saturated (admission control);
    a fixed default cap would queue calls in the worker that the server could take."""
    from services.pools.catalog import PoolSpec

    assert PoolSpec(name="p", max_concurrent_activities=30).model_call_limit == 30
    capped = PoolSpec(name="p", max_concurrent_activities=30, max_concurrent_model_calls=4)
    assert capped.model_call_limit == 4
