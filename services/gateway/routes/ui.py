"""/ui: the gateway's web pages, the console (/ui/) and the approvals inbox (/ui/approvals),
plain HTML and ES modules from services/gateway/ui/.

No build step and nothing from the internet: the page talks to the `/v1` REST API with the
signed-in key and is locked to its own origin by a strict Content-Security-Policy. The HTML is
never cached (it names the assets by content hash); an asset asked for by its current hash is
cached for a year, any other request for it revalidates through its ETag. The modules that the
entry script imports are such requests: `import ... from "./api.js"` asks for
`/ui/static/api.js` with no hash, so the browser revalidates each one on every load (a 304 when
unchanged) and never runs a stale module under a fresh entry.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from services.gateway.errors import ProblemError

UI_DIR = Path(__file__).resolve().parent.parent / "ui"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
ASSET_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# a bare file name: no folders, no dots but the extension's, so nothing outside UI_DIR resolves
ASSET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(?:js|css|svg)$")
ASSET_REFERENCE = re.compile(r'"/ui/static/([A-Za-z0-9_-]{1,64}\.(?:js|css|svg))"')
# a fragment of HTML several pages share (the sign-in form), put in where a page names it
INCLUDE = re.compile(r"<!-- include ([a-z_]{1,64}\.html) -->")
IMMUTABLE = "public, max-age=31536000, immutable"
# for unpinned requests, modules imported by other modules among them
REVALIDATE = "no-cache"

router = APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    body: bytes
    version: str  # the first hex digits of the content's sha256

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=32)
def _read(path: Path, stamp: tuple[int, int]) -> Asset:
    """Read once per file version (the stamp changes when the file does)."""
    body = path.read_bytes()
    return Asset(body=body, version=hashlib.sha256(body).hexdigest()[:16])


def load_asset(name: str) -> Asset | None:
    """A JS, CSS or SVG file directly in UI_DIR, or None for any other name."""
    if not ASSET_NAME.fullmatch(name):
        return None
    path = UI_DIR / name
    if not path.is_file():
        return None
    return _read(path, _stamp(path))


def render_page(name: str) -> bytes:
    """The HTML with its fragments included and each `/ui/static/<asset>` reference pinned to
    the asset's content hash."""
    html = (UI_DIR / name).read_text(encoding="utf-8")
    html = INCLUDE.sub(lambda match: (UI_DIR / match.group(1)).read_text(encoding="utf-8"), html)

    def pin(match: re.Match[str]) -> str:
        asset = load_asset(match.group(1))
        if asset is None:
            return match.group(0)
        return f'"/ui/static/{match.group(1)}?v={asset.version}"'

    return ASSET_REFERENCE.sub(pin, html).encode("utf-8")


@router.get("/")
async def console_page() -> Response:
    """The console: tasks and their timelines, usage, and (for operators) the pools."""
    return _page("console.html")


@router.get("/approvals")
async def approvals_page() -> Response:
    """The approver's page: sign in with an approver key, then decide."""
    return _page("approvals.html")


def _page(name: str) -> Response:
    return Response(
        render_page(name),
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


@router.get("/static/{name}")
async def static_asset(
    name: str,
    v: Annotated[str | None, Query(description="The asset's content hash.")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The page's scripts and styles, cached by content hash."""
    asset = load_asset(name)
    if asset is None:
        raise ProblemError(404, f"no asset named {name!r}", kind="asset-not-found")
    headers = {
        **SECURITY_HEADERS,
        "ETag": asset.etag,
        "Cache-Control": IMMUTABLE if v == asset.version else REVALIDATE,
    }
    if if_none_match is not None and asset.etag in _etags(if_none_match):
        return Response(status_code=304, headers=headers)
    media_type = ASSET_MEDIA_TYPES[Path(name).suffix]
    return Response(asset.body, media_type=media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
