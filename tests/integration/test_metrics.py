"""Prometheus metrics on the real stack: a task run through it shows on a worker's /metrics
(finished status, model calls, tokens, cost, tool calls, and the Temporal SDK's own metrics) and
on the gateway's (requests, tasks in flight, an approval waiting with its age)."""

from __future__ import annotations

import uuid
from collections import defaultdict

import httpx

from tests.deploy.test_monitoring import TEMPORAL_SDK_METRICS_ON_DASHBOARD
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import submit, wait_for_status
from tests.stack import RunningStack
from tests.unit.test_metrics import samples

Page = dict[tuple[str, frozenset[tuple[str, str]]], float]

# the labels the dashboard groups the Temporal SDK's metrics by
TEMPORAL_LABELS_ON_DASHBOARD = {
    "temporal_activity_schedule_to_start_latency_seconds_bucket": {"task_queue"},
    "temporal_workflow_task_schedule_to_start_latency_seconds_bucket": {"task_queue"},
    "temporal_activity_execution_latency_seconds_bucket": {"activity_type"},
    "temporal_worker_task_slots_available": {"task_queue", "worker_type"},
    "temporal_request_latency_seconds_bucket": {"operation"},
}


async def read_page(stack: RunningStack, url: str) -> Page:
    """A /metrics page, read with the stack's metrics token."""
    token = stack.settings.metrics_token
    assert token is not None
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.get(url)
        answer = await http.get(url, headers=headers)
    assert refused.status_code == 401, refused.text  # the token is wanted, even on loopback
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


async def pool_workers_page(stack: RunningStack, pool: str) -> Page:
    """The pool's workers' metrics, added up (a task may run on any of them)."""
    fleet = stack.stack.fleet
    assert fleet is not None
    every = fleet.metrics_ports()
    assert len(set(every.values())) == len(every) > 1, every  # each worker a port of its own
    ports = [port for name, port in every.items() if name.startswith(f"worker-{pool}-")]
    assert ports, every
    total: Page = defaultdict(float)
    for port in ports:
        for key, value in (await read_page(stack, f"http://127.0.0.1:{port}/metrics")).items():
            total[key] += value
    return total


def value(page: Page, name: str, **labels: str) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


async def test_a_task_shows_on_its_worker_s_metrics_with_its_calls_tokens_and_cost(
    stack: RunningStack,
) -> None:
    key = unique_key("metrics")
    marker = await stack.scripted.script(
        key,
        [
            reply_text(
                '<tool_call>{"name": "calculator", "arguments": {"expression": "6*7"}}</tool_call>',
                prompt_tokens=500,
                completion_tokens=40,
            ),
            reply_text("The answer is 42.", prompt_tokens=600, completion_tokens=10),
        ],
    )
    before = await pool_workers_page(stack, "default")
    async with stack.api() as api:
        task = await submit(api, "scripted-text", f"What is 6*7? {marker}")
        done = await wait_for_status(api, task["id"])
    assert done["status"] == "succeeded", done
    after = await pool_workers_page(stack, "default")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("agentry_tasks_finished_total", pool="default", status="succeeded", code="") >= 1
    model = {"pool": "default", "model": "scripted"}
    assert grew("agentry_model_call_duration_seconds_count", **model) >= 2
    turn = {**model, "purpose": "turn"}
    assert grew("agentry_model_tokens_total", **turn, kind="prompt") >= 1100
    assert grew("agentry_model_tokens_total", **turn, kind="completion") >= 50
    # LiteLLM prices the scripted group per token (tests/litellm-test-config.yaml)
    cost = done["usage"]["cost_usd"]  # the counter's float sum may differ in the last digits
    assert cost > 0 and grew("agentry_model_cost_usd_total", **turn) >= cost - 1e-9
    tool = {"pool": "default", "tool": "calculator", "outcome": "ok"}
    assert grew("agentry_tool_call_duration_seconds_count", **tool) >= 1
    step = {"pool": "default", "activity": "model_turn", "outcome": "completed"}
    assert grew("agentry_activity_duration_seconds_count", **step) >= 2

    # the Temporal SDK's own metrics, as the Grafana dashboard asks for them
    names = {name for name, _ in after}
    missing = [name for name in TEMPORAL_SDK_METRICS_ON_DASHBOARD if name not in names]
    assert missing == [], sorted(n for n in names if n.startswith("temporal_"))
    for name, wanted in TEMPORAL_LABELS_ON_DASHBOARD.items():
        labelled = [dict(labels) for found, labels in after if found == name]
        assert any(wanted <= set(labels) for labels in labelled), (name, labelled[:1])


async def test_a_waiting_approval_shows_on_the_gateway_with_its_age(stack: RunningStack) -> None:
    key = unique_key("metrics-approval")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls([("write_file", {"path": "reports/m.txt", "content": "x"})]),
            reply_text("Saved."),
        ],
    )
    metrics_url = f"{stack.info.gateway_url}/metrics"
    before = await pool_workers_page(stack, "default")
    async with (
        stack.api() as api,
        stack.api(await stack.create_key("approver", "metrics-approver")) as approver,
    ):
        task = await submit(api, "scripted-approvals", f"save it {marker}")
        await wait_for_status(api, task["id"], {"waiting_approval"})
        page = await read_page(stack, metrics_url)
        agent = "scripted-approvals"
        assert value(page, "agentry_metrics_database_up") == 1
        assert value(page, "agentry_approvals_waiting", agent=agent) >= 1
        assert value(page, "agentry_approval_oldest_wait_seconds", agent=agent) > 0
        assert value(page, "agentry_live_tasks", agent=agent, status="waiting_approval") >= 1
        submitted = {"method": "POST", "route": "/v1/tasks", "status": "201"}
        assert value(page, "agentry_http_requests_total", **submitted) >= 1
        # a task id never becomes a label: routes are templates
        assert not any(task["id"] in str(labels) for _, labels in page)
        # the gateway's Temporal client (it started the task's workflow)
        started = [labels for name, labels in page if name == "temporal_request_total"]
        assert ("operation", "StartWorkflowExecution") in set().union(*started), started

        [approval] = (await approver.get("/v1/approvals", params={"task_id": task["id"]})).json()[
            "items"
        ]
        decided = await approver.post(
            f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
        assert (await wait_for_status(api, task["id"]))["status"] == "succeeded"
    after = await pool_workers_page(stack, "default")
    requested = {"pool": "default", "tool": "write_file"}
    assert (
        value(after, "agentry_approvals_requested_total", **requested)
        - value(before, "agentry_approvals_requested_total", **requested)
    ) >= 1


async def test_a_task_stopped_by_its_tenant_s_spend_limit_counts_as_a_guardrail_stop(
    stack: RunningStack,
) -> None:
    tenant = f"metrics-spend-{uuid.uuid4().hex[:6]}"
    key = await stack.create_key("admin", "metrics-spend", tenant=tenant)
    operator = await stack.create_key("platform-operator", "metrics-spend-ops", tenant="platform")
    script = await stack.scripted.script(unique_key("metrics-spend"), [reply_text("never")])
    before = await pool_workers_page(stack, "default")
    async with stack.api(key) as api, stack.api(operator) as ops:
        limit = {"tenant": tenant, "monthly_limit_usd": 1e-6}  # no model call fits
        assert (await ops.put("/v1/spend/limit", json=limit)).status_code == 200
        task = await submit(api, "scripted-native", script)
        ended = await wait_for_status(api, task["id"])
    assert ended["status"] == "failed" and ended["error"]["code"] == "spend_limit", ended
    after = await pool_workers_page(stack, "default")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("agentry_task_stops_total", pool="default", code="spend_limit") >= 1
    stopped = {"pool": "default", "status": "failed", "code": "spend_limit"}
    assert grew("agentry_tasks_finished_total", **stopped) >= 1
