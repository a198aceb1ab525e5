"""What the browser tests share: Debian's Chromium and its flags, how long the pages get to
show something, where screenshots go, and signing in."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

from tests.stack import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 20_000


def screenshot_dir() -> Path:
    """Where the tests save their screenshots (artifacts, never committed):
    `AGENTRY_TEST_ARTIFACTS`/screenshots, else .agentry/test-artifacts/screenshots."""
    base = os.environ.get("AGENTRY_TEST_ARTIFACTS") or ROOT / ".agentry" / "test-artifacts"
    folder = Path(base) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def sign_in(page: Page, gateway_url: str, key: str, path: str = "/ui/approvals") -> None:
    await page.goto(f"{gateway_url}{path}")
    await page.get_by_label("API key").fill(key)
    await page.get_by_test_id("signin-submit").click()
