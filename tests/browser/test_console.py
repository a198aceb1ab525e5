"""The console (/ui/) in headless Chromium against the running stack.

A task's timeline fills in live while it waits for a person and then finishes; a bar opens its
step, a sub-agent's bar its task; the usage charts show the costs GET /v1/usage reports; a
platform operator scales a pool; a submitter pages, filters, searches and cancels; a key of
another tenant sees none of it.
Each test signs in with keys of a tenant of its own, so the figures it checks are its own.
Screenshots of each page go to the test artifacts (tests/browser/chromium.py).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.chromium import UI_TIMEOUT_MS, screenshot_dir, sign_in
from tests.fakes.script_client import reply_text, reply_tool_calls, script_marker, unique_key
from tests.integration.helpers import submit, wait_for_status
from tests.stack import RunningStack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(280)]

AGENT = "scripted-approvals"  # writes outside drafts/ wait for a person


async def held_write(stack: RunningStack, api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """A task that waits for approval of writing reports/<name>.txt, then answers."""
    key = unique_key(f"console-{name}")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [("write_file", {"path": f"reports/{name}.txt", "content": f"report {name}"})],
                content=f"Writing report {name}.",
                prompt_tokens=120,
                completion_tokens=30,
            ),
            reply_text(f"Report {name} is written.", prompt_tokens=200, completion_tokens=12),
        ],
    )
    task = await submit(api, AGENT, f"write report {name} {marker}")
    return await wait_for_status(api, task["id"], {"waiting_approval"})


async def answered(stack: RunningStack, api: httpx.AsyncClient, text: str) -> dict[str, Any]:
    """A task whose model answers at once, with known token counts."""
    key = unique_key("console-answer")
    marker = await stack.scripted.script(
        key, [reply_text(text, prompt_tokens=1000, completion_tokens=250)]
    )
    task = await submit(api, AGENT, f"answer {marker}")
    done = await wait_for_status(api, task["id"])
    assert done["status"] == "succeeded", done
    return done


def bars(page: Page, kind: str) -> Locator:
    return page.locator(f'[data-testid="timeline-bar"][data-kind="{kind}"]')


def row(page: Page, task_id: str) -> Locator:
    return page.locator(f'[data-testid="task-row"][data-task-id="{task_id}"]')


async def open_console(page: Page, stack: RunningStack, key: str) -> None:
    await sign_in(page, stack.info.gateway_url, key, path="/ui/")
    await expect(page.get_by_test_id("view-tasks")).to_be_visible(timeout=UI_TIMEOUT_MS)


async def test_a_tasks_timeline_fills_in_live_and_its_bars_open_their_steps(
    stack: RunningStack, page: Page
) -> None:
    tenant = unique_key("console-live")
    submitter = await stack.create_key("submitter", "console-submitter", tenant=tenant)
    approver = await stack.create_key("approver", "console-approver", tenant=tenant)
    async with stack.api(submitter) as api, stack.api(approver) as approving:
        task = await held_write(stack, api, "live")
        await open_console(page, stack, submitter)
        await row(page, task["id"]).get_by_test_id("task-link").click()

        # while it waits: one model turn, an open wait for a person, no tool call yet
        status = page.get_by_test_id("task-status")
        await expect(status).to_have_text("waiting approval", timeout=UI_TIMEOUT_MS)
        await expect(bars(page, "model")).to_have_count(1, timeout=UI_TIMEOUT_MS)
        await expect(bars(page, "human")).to_have_count(1)
        await expect(bars(page, "human")).to_have_class("bar bar-human bar-open")
        await expect(bars(page, "tool")).to_have_count(0)
        await expect(page.get_by_test_id("fig-human")).not_to_have_text("0 ms")
        await expect(page.get_by_test_id("approvals-link")).to_be_visible()
        await expect(page.get_by_test_id("cancel-task")).to_be_visible()
        await page.screenshot(path=str(screenshot_dir() / "console-task-waiting.png"))

        # decided elsewhere (the API), the open page goes on by itself
        [approval] = (await api.get(f"/v1/tasks/{task['id']}/approvals")).json()["items"]
        decided = await approving.post(
            f"/v1/approvals/{approval['id']}/decision",
            json={"decision": "approve", "comment": "go ahead"},
        )
        assert decided.status_code == 200, decided.text
        await expect(status).to_have_text("succeeded", timeout=UI_TIMEOUT_MS)
        await expect(bars(page, "model")).to_have_count(2, timeout=UI_TIMEOUT_MS)
        await expect(bars(page, "tool")).to_have_count(1)
        await expect(bars(page, "human")).to_have_class("bar bar-human")
        done = (await api.get(f"/v1/tasks/{task['id']}")).json()

        usage = done["usage"]
        figures = page.get_by_test_id("task-figures")
        await expect(figures.get_by_test_id("fig-model-calls")).to_have_text("2")
        await expect(figures.get_by_test_id("fig-tokens")).to_have_text(
            f"{usage['prompt_tokens'] + usage['completion_tokens']:,}"
        )
        await expect(page.get_by_test_id("task-result")).to_have_text("Report live is written.")
        await expect(page.get_by_test_id("transcript")).to_contain_text("Report live is written.")
        await expect(page.get_by_test_id("cancel-task")).to_be_hidden()
        assert done["temporal_ui_url"], done
        await expect(page.get_by_test_id("temporal-link")).to_have_attribute(
            "href", done["temporal_ui_url"]
        )

        detail = page.get_by_test_id("bar-detail")
        await bars(page, "tool").click()
        await expect(detail.get_by_test_id("detail-arguments")).to_contain_text("reports/live.txt")
        await expect(detail.get_by_test_id("detail-output")).to_contain_text("reports/live.txt")
        await bars(page, "human").click()
        decision = detail.get_by_test_id("detail-decision")
        await expect(decision).to_contain_text("approve", timeout=UI_TIMEOUT_MS)
        await expect(decision).to_contain_text("console-approver")
        await expect(decision).to_contain_text("go ahead")
        await bars(page, "model").nth(1).click()
        await expect(detail.get_by_test_id("detail-output")).to_have_text("Report live is written.")
        await expect(detail).to_contain_text("200")  # the turn's prompt tokens
        await page.screenshot(path=str(screenshot_dir() / "console-task.png"), full_page=True)


async def test_a_sub_agents_run_is_a_bar_that_leads_to_its_own_task(
    stack: RunningStack, page: Page
) -> None:
    key = await stack.create_key("submitter", "console-boss", tenant=unique_key("console-sub"))
    helper = unique_key("console-helper")
    await stack.scripted.script(helper, [reply_text("forty-two", delay_s=1.0)])
    call = {"agent": "scripted-helper", "instructions": f"Answer. {script_marker(helper)}"}
    block = json.dumps({"name": "delegate", "arguments": call})
    boss = await stack.scripted.script(
        unique_key("console-boss"),
        [
            reply_text(f"<tool_call>{block}</tool_call>"),
            reply_text("The helper says forty-two."),
        ],
    )
    async with stack.api(key) as api:
        task = await submit(api, "scripted-delegator", f"Ask the helper. {boss}")
        done = await wait_for_status(api, task["id"])
        [child] = (await api.get(f"/v1/tasks/{task['id']}/children")).json()["items"]
    assert done["status"] == "succeeded", done

    await open_console(page, stack, key)
    await page.evaluate(f"location.hash = '#/tasks/{task['id']}'")
    await expect(bars(page, "subagent")).to_have_count(1, timeout=UI_TIMEOUT_MS)
    await bars(page, "subagent").click()
    detail = page.get_by_test_id("bar-detail")
    await expect(detail.get_by_test_id("detail-output")).to_have_text("forty-two")
    # the bar spans the child's run (a second at least), not a mark at its answer
    rect = bars(page, "subagent").locator("rect")
    await expect(rect).not_to_have_attribute("width", "3", timeout=UI_TIMEOUT_MS)
    assert float(await rect.get_attribute("width") or "0") > 20
    await detail.get_by_test_id("detail-child").click()
    await expect(page.get_by_test_id("task-title")).to_contain_text(
        child["id"], timeout=UI_TIMEOUT_MS
    )
    await expect(page.get_by_test_id("task-result")).to_have_text("forty-two")


async def test_the_usage_charts_show_the_costs_the_api_reports(
    stack: RunningStack, page: Page
) -> None:
    key = await stack.create_key("admin", "console-usage", tenant=unique_key("console-usage"))
    async with stack.api(key) as api:
        for text in ("first", "second"):
            await answered(stack, api, text)
        by_agent = (await api.get("/v1/usage", params={"group_by": "agent"})).json()
        by_day = (await api.get("/v1/usage", params={"group_by": "day"})).json()
    [agent] = by_agent["items"]
    assert agent["cost_usd"] > 0 and agent["tasks_succeeded"] == 2, agent

    await open_console(page, stack, key)
    await page.get_by_test_id("nav-usage").click()
    agent_bar = page.locator(f'[data-testid="bar-cost-agent"][data-label="{AGENT}"]')
    await expect(agent_bar).to_have_count(1, timeout=UI_TIMEOUT_MS)
    assert float(await agent_bar.get_attribute("data-value") or "nan") == pytest.approx(
        agent["cost_usd"]
    )
    for day in by_day["items"]:  # one, unless the tasks ran either side of midnight (UTC)
        day_bar = page.locator(f'[data-testid="bar-cost-day"][data-label="{day["key"][5:]}"]')
        assert float(await day_bar.get_attribute("data-value") or "nan") == pytest.approx(
            day["cost_usd"]
        )
    model_bars = await page.get_by_test_id("bar-cost-model").all()
    shown = [float(await bar.get_attribute("data-value") or "nan") for bar in model_bars]
    assert sum(shown) == pytest.approx(by_day["total_cost_usd"])
    per_task = page.locator(f'[data-testid="usage-agent-row"][data-agent="{AGENT}"]')
    per_task_value = await per_task.get_by_test_id("cost-per-task").get_attribute("data-value")
    assert float(per_task_value or "nan") == pytest.approx(agent["cost_usd"] / 2)
    await page.screenshot(path=str(screenshot_dir() / "console-usage.png"), full_page=True)


async def test_a_platform_operator_watches_and_scales_a_pool(
    stack: RunningStack, page: Page
) -> None:
    operator = await stack.create_key("platform-operator", "console-ops")
    await open_console(page, stack, operator)
    await page.get_by_test_id("nav-pools").click()
    pool = page.locator('[data-testid="pool-card"][data-pool="console"]')
    # the gateway samples every 2 s in the test stack: each series has its line
    await expect(pool.get_by_test_id("chart-line")).to_have_count(4, timeout=UI_TIMEOUT_MS)
    await expect(pool.get_by_test_id("pool-replicas")).to_have_text("0")

    async with stack.api(operator) as api:
        try:
            await pool.get_by_test_id("replicas-input").fill("1")
            await pool.get_by_test_id("replicas-save").click()
            await expect(pool.get_by_test_id("pool-replicas")).to_have_text(
                "1", timeout=UI_TIMEOUT_MS
            )
            scaled = await _pool(api, "console")
            assert scaled["replicas"]["desired"] == 1
            assert scaled["replicas"]["set_by"] == "console-ops"
            await page.screenshot(path=str(screenshot_dir() / "console-pools.png"), full_page=True)

            await pool.get_by_test_id("replicas-input").fill("2")  # above max_replicas
            await pool.get_by_test_id("replicas-save").click()
            await expect(pool.get_by_test_id("replicas-error")).to_contain_text(
                "takes 0 to 1 replicas", timeout=UI_TIMEOUT_MS
            )
            assert (await _pool(api, "console"))["replicas"]["desired"] == 1

            await pool.get_by_test_id("replicas-input").fill("0")
            await pool.get_by_test_id("replicas-save").click()
            await expect(pool.get_by_test_id("pool-replicas")).to_have_text(
                "0", timeout=UI_TIMEOUT_MS
            )
        finally:
            await api.put("/v1/pools/console/replicas", json={"replicas": 0})
        assert (await _pool(api, "console"))["replicas"]["desired"] == 0


async def _pool(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    pools = (await api.get("/v1/pools")).json()["items"]
    [pool] = [p for p in pools if p["name"] == name]
    return pool


async def test_a_submitter_pages_filters_searches_and_cancels(
    stack: RunningStack, page: Page
) -> None:
    tenant = unique_key("console-list")
    submitter = await stack.create_key("submitter", "console-lister", tenant=tenant)
    approver = await stack.create_key("approver", "console-watcher", tenant=tenant)
    async with stack.api(submitter) as api:
        first = await answered(stack, api, "one")
        second = await answered(stack, api, "two")
        held = await held_write(stack, api, "held")

        # an approver may look but not cancel
        await open_console(page, stack, approver)
        await row(page, held["id"]).get_by_test_id("task-link").click()
        await expect(page.get_by_test_id("task-status")).to_have_text(
            "waiting approval", timeout=UI_TIMEOUT_MS
        )
        await expect(page.get_by_test_id("cancel-task")).to_be_hidden()
        await page.get_by_test_id("signout").click()

        await sign_in(page, stack.info.gateway_url, submitter, path="/ui/#/tasks?limit=2")
        rows = page.get_by_test_id("task-row")
        await expect(rows).to_have_count(2, timeout=UI_TIMEOUT_MS)  # newest first
        await expect(rows.first).to_have_attribute("data-task-id", held["id"])
        await page.get_by_test_id("tasks-more").click()
        await expect(rows).to_have_count(3, timeout=UI_TIMEOUT_MS)
        await expect(rows.last).to_have_attribute("data-task-id", first["id"])
        await expect(page.get_by_test_id("tasks-more")).to_be_hidden()

        await page.get_by_test_id("filter-status").select_option("succeeded")
        await page.get_by_test_id("filter-since").select_option("1h")
        await page.get_by_test_id("filter-apply").click()
        await expect(rows).to_have_count(2, timeout=UI_TIMEOUT_MS)
        await expect(row(page, second["id"])).to_have_count(1)
        await expect(row(page, held["id"])).to_have_count(0)
        await page.screenshot(path=str(screenshot_dir() / "console-tasks.png"), full_page=True)

        await page.get_by_test_id("search-id").fill(held["id"])
        await page.get_by_test_id("search-open").click()
        await expect(page.get_by_test_id("task-title")).to_contain_text(
            held["id"], timeout=UI_TIMEOUT_MS
        )
        await page.get_by_test_id("cancel-task").click()
        await expect(page.get_by_test_id("task-status")).to_have_text(
            "cancelled", timeout=UI_TIMEOUT_MS
        )
        cancelled = await wait_for_status(api, held["id"])
    assert cancelled["status"] == "cancelled", cancelled
    assert "console-lister" in (cancelled["cancel_reason"] or ""), cancelled


async def test_a_key_of_another_tenant_sees_none_of_it(stack: RunningStack, page: Page) -> None:
    owner = await stack.create_key("admin", "console-owner", tenant=unique_key("console-a"))
    stranger = await stack.create_key("admin", "console-stranger", tenant=unique_key("console-b"))
    async with stack.api(owner) as api:
        task = await answered(stack, api, "private answer")

    await open_console(page, stack, stranger)
    await expect(page.get_by_test_id("tasks-empty")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(row(page, task["id"])).to_have_count(0)
    await expect(page.get_by_test_id("nav-pools")).to_be_hidden()

    await page.evaluate(f"location.hash = '#/tasks/{task['id']}'")
    await expect(page.get_by_test_id("task-error")).to_contain_text(
        "No task", timeout=UI_TIMEOUT_MS
    )
    await expect(page.get_by_test_id("task-body")).to_be_hidden()

    await page.get_by_test_id("nav-usage").click()
    await expect(page.get_by_test_id("usage-total")).to_contain_text("$0.00", timeout=UI_TIMEOUT_MS)
    await expect(page.get_by_test_id("bar-cost-agent")).to_have_count(0)

    await page.evaluate("location.hash = '#/pools'")  # not a platform operator: back to tasks
    await expect(page.get_by_test_id("view-tasks")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.get_by_test_id("view-pools")).to_be_hidden()
