"""The browser tests' Chromium (one per session) and a fresh tab per test that fails the test
on any script error or CSP violation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.is_file(), "Debian's chromium is missing: run `make setup` (as root)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh tab (own sessionStorage); fails the test on script errors or CSP violations."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # the browser logs every 4xx answer (a refused key, a task of another tenant, replicas
        # out of range), which the pages show the user; the favicon has no file
        text = message.text
        expected = "status of 4" in text or "favicon" in (message.location["url"] or "")
        if message.type == "error" and not expected:
            problems.append(f"console: {text}")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield opened
    await context.close()
    assert problems == [], problems
