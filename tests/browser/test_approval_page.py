"""The approval page (/ui/approvals) in headless Chromium against the running stack.

An approver signs in with a key, then approves one held call, rejects one with a comment and
edits one's arguments; each outcome is checked where it counts: in the tasks' results, their
transcripts and what the model was shown. Chromium is Debian's (`make setup` installs it);
Playwright only drives it, it downloads nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from services.gateway.routes.ui import UI_DIR
from tests.browser.chromium import UI_TIMEOUT_MS, screenshot_dir, sign_in
from tests.fakes.script_client import reply_text, reply_tool_calls, unique_key
from tests.integration.helpers import events, messages, submit, wait_for_status
from tests.stack import RunningStack

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(280)]

AGENT = "scripted-approvals"
RELATIVE_IMPORT = re.compile(r'\bfrom "\./([^"]+)"')
ENTRY_MODULES = ["approvals.js", "console.js"]


async def held_write(stack: RunningStack, api: httpx.AsyncClient, label: str) -> tuple[str, str]:
    """A task whose model wants to write reports/q3.txt (held: outside drafts/), then answers.

    Returns (task id, script key) once the task waits for the decision."""
    key = unique_key(f"ui-{label}")
    marker = await stack.scripted.script(
        key,
        [
            reply_tool_calls(
                [("write_file", {"path": "reports/q3.txt", "content": f"report {label}"})],
                content=f"Saving the quarterly report for {label}.",
            ),
            reply_text(f"Done with {label}."),
        ],
    )
    task = await submit(api, AGENT, f"save the report {marker}")
    await wait_for_status(api, task["id"], {"waiting_approval"})
    return task["id"], key


def card(page: Page, task_id: str, section: str = "open-list") -> Locator:
    return page.get_by_test_id(section).locator(
        f'[data-testid="approval-card"][data-task-id="{task_id}"]'
    )


async def tool_messages(api: httpx.AsyncClient, task_id: str) -> list[str]:
    return [m["content"] or "" for m in await messages(api, task_id) if m["role"] == "tool"]


async def test_approver_approves_rejects_and_edits_from_the_page(
    stack: RunningStack, page: Page
) -> None:
    async with stack.api() as api:
        (task_a, _), (task_b, key_b), (task_c, _) = await asyncio.gather(
            held_write(stack, api, "a"), held_write(stack, api, "b"), held_write(stack, api, "c")
        )

        approver = await stack.create_key("approver", "browser-approver")
        await sign_in(page, stack.info.gateway_url, approver)
        for task_id in (task_a, task_b, task_c):
            await expect(card(page, task_id)).to_be_visible(timeout=UI_TIMEOUT_MS)

        # what the approver sees on a card
        shown = card(page, task_a)
        await expect(shown.get_by_test_id("card-tool")).to_have_text("write_file")
        await expect(shown.get_by_test_id("card-arguments")).to_contain_text('"reports/q3.txt"')
        await expect(shown.get_by_test_id("card-reason")).to_contain_text("drafts/")
        await expect(shown.get_by_test_id("card-reasoning")).to_have_text(
            "Saving the quarterly report for a."
        )
        await expect(shown.get_by_test_id("card-status")).to_have_text("Pending")
        await expect(shown.get_by_test_id("card-deadline")).to_contain_text("in ")
        await expect(shown.get_by_test_id("card-escalation")).to_have_text("Not escalated")
        conversation = shown.get_by_test_id("card-conversation")
        await conversation.locator("summary").click()
        await expect(conversation).to_contain_text("save the report")
        await page.screenshot(path=str(screenshot_dir() / "approval-inbox.png"), full_page=True)

        # approve A
        await card(page, task_a).get_by_test_id("approve").click()
        decided_a = card(page, task_a, "decided-list")
        await expect(decided_a.get_by_test_id("card-outcome-text")).to_contain_text(
            "Approved by you", timeout=UI_TIMEOUT_MS
        )

        # reject B with a comment
        shown = card(page, task_b)
        await shown.get_by_test_id("reject-open").click()
        await shown.get_by_label("Comment (why not)").fill("not this quarter")
        await shown.get_by_test_id("reject-submit").click()
        decided_b = card(page, task_b, "decided-list")
        await expect(decided_b.get_by_test_id("card-outcome-text")).to_contain_text(
            "Rejected by you", timeout=UI_TIMEOUT_MS
        )
        await expect(decided_b.get_by_test_id("card-comment")).to_have_text("not this quarter")

        # edit C's path in the generated form
        shown = card(page, task_c)
        await shown.get_by_test_id("edit-open").click()
        path_input = shown.get_by_test_id("edit-arg-path")
        await expect(path_input).to_have_value("reports/q3.txt")
        await expect(shown.get_by_test_id("edit-arg-content")).to_have_value("report c")
        await path_input.fill("reports/q4.txt")
        await shown.get_by_test_id("edit-submit").click()
        decided_c = card(page, task_c, "decided-list")
        await expect(decided_c.get_by_test_id("card-outcome-text")).to_contain_text(
            "Edited by you", timeout=UI_TIMEOUT_MS
        )
        await expect(decided_c.get_by_test_id("card-decided-arguments")).to_contain_text(
            '"reports/q4.txt"'
        )
        for task_id in (task_a, task_b, task_c):
            await expect(card(page, task_id)).to_have_count(0)

        done_a, done_b, done_c = await asyncio.gather(
            *(wait_for_status(api, task_id) for task_id in (task_a, task_b, task_c))
        )
        tools_a = await tool_messages(api, task_a)
        log_c = await events(api, task_c)
        tools_c = await tool_messages(api, task_c)

    assert done_a["status"] == "succeeded", done_a
    assert done_a["result"] == "Done with a."
    assert len(tools_a) == 1 and "wrote reports/q3.txt" in tools_a[0], tools_a

    assert done_b["status"] == "succeeded", done_b
    shown_to_model = json.dumps((await stack.scripted.requests(key_b))[1]["messages"][-1])
    assert "not this quarter" in shown_to_model, shown_to_model

    assert done_c["status"] == "succeeded", done_c
    [call_c] = [e["data"] for e in log_c if e["type"] == "tool_call"]
    assert call_c["arguments"] == {"path": "reports/q4.txt", "content": "report c"}
    assert len(tools_c) == 1 and "wrote reports/q4.txt" in tools_c[0], tools_c


async def test_a_wrong_key_is_refused_at_sign_in(stack: RunningStack, page: Page) -> None:
    await sign_in(page, stack.info.gateway_url, "agk_not-a-real-key")

    error = page.get_by_test_id("signin-error")
    await expect(error).to_contain_text("not valid", timeout=UI_TIMEOUT_MS)
    await expect(page.get_by_test_id("inbox")).to_be_hidden()
    await expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
    assert await page.evaluate("() => sessionStorage.length") == 0


async def test_the_page_is_locked_to_its_origin_and_serves_only_its_assets(
    stack: RunningStack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.info.gateway_url, timeout=10) as http:
        html = await http.get("/ui/approvals")
        script_url = re.search(r'src="(/ui/static/approvals\.js\?v=[0-9a-f]+)"', html.text)
        assert script_url, html.text
        script = await http.get(script_url.group(1))
        unpinned = await http.get("/ui/static/approvals.js")
        revalidated = await http.get(
            "/ui/static/approvals.js", headers={"If-None-Match": unpinned.headers["etag"]}
        )
        refused: dict[str, Any] = {
            path: (await http.get(path)).status_code
            for path in (
                "/ui/static/approvals.html",
                "/ui/static/..%2F..%2Fapp.py",
                "/ui/static/%2E%2E%2Fapprovals.css",
                "/ui/static/nope.js",
            )
        }

    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    csp = html.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert html.headers["cache-control"] == "no-store"
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]
    assert unpinned.headers["cache-control"] == "no-cache"
    assert revalidated.status_code == 304
    assert set(refused.values()) == {404}, refused


async def test_the_entry_module_imports_the_others_by_revalidated_urls(stack: RunningStack) -> None:
    """The pages pin their entry modules by hash; the modules those import, directly or not,
    are asked for by name alone (`./api.js` is /ui/static/api.js), so each must revalidate,
    not be kept. Every module in the folder is reached from an entry."""
    async with httpx.AsyncClient(base_url=stack.info.gateway_url, timeout=10) as http:
        served: dict[str, httpx.Response] = {}
        wanted = list(ENTRY_MODULES)
        while wanted:
            name = wanted.pop()
            if name not in served:
                served[name] = await http.get(f"/ui/static/{name}")
                wanted.extend(RELATIVE_IMPORT.findall(served[name].text))
        revalidated: dict[str, int] = {}
        for name, response in served.items():
            again = await http.get(
                f"/ui/static/{name}", headers={"If-None-Match": response.headers.get("etag", "")}
            )
            revalidated[name] = again.status_code

    assert set(served) == {path.name for path in UI_DIR.glob("*.js")}, sorted(served)
    for name, response in served.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/javascript"), name
        assert response.headers["cache-control"] == "no-cache", name
    assert set(revalidated.values()) == {304}, revalidated
