"""Browser tests: the gateway's web pages in headless Chromium (Debian's), driven by Playwright."""
