"""The web app's files, and the headers every console response carries.

The app is one page: `/calls`, `/calls/{id}`, `/search`, `/talk`, `/rooms`, `/ops` and `/signin` all answer
`index.html`, and the browser's router shows the page. Built files under `/assets/` carry a content hash in their
names, so they are cached for a year. Nothing is loaded from elsewhere: the Content-Security-Policy allows this
origin only, and connections to the LiveKit server when one is configured (/talk).
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from litestar import Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/vtt", ".vtt")


def built() -> bool:
    return (STATIC / "index.html").is_file()


def livekit_origins(url: str | None) -> list[str]:
    """The LiveKit server's origin as the browser reaches it: its signalling socket and its HTTP fallback."""
    if not url:
        return []
    parts = urlsplit(url)
    secure = parts.scheme in ("wss", "https")
    return [f"{'wss' if secure else 'ws'}://{parts.netloc}", f"{'https' if secure else 'http'}://{parts.netloc}"]


def security_headers(app: ASGIApp, connect_to: list[str] | None = None) -> ASGIApp:
    """Adds the security headers; `connect_to` are the origins (besides this one) the page may connect to."""
    policy = {**SECURITY_HEADERS}
    if connect_to:
        policy["content-security-policy"] = CSP.replace(
            "connect-src 'self'", f"connect-src 'self' {' '.join(connect_to)}"
        )

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in policy.items():
                    headers.setdefault(name, value)
            await send(message)

        await app(scope, receive, with_headers if scope["type"] == ScopeType.HTTP else send)

    return middleware


def data_path(path: str, params: Mapping[str, str]) -> str | None:
    """The API answer the page at `path` shows first, as the app asks for it (`web/src/data.ts`), so the page can
    name it for the browser to fetch while the app's code is still loading. None when the app's own request
    cannot be told here (a time filter: the browser turns it into an instant in its own time zone)."""
    if path == "/calls" and not {"since", "until"} & params.keys():
        kept = {k: params[k] for k in ("user_id", "status", "cursor") if params.get(k)}
        return "/api/calls" + (f"?{urlencode(kept)}" if kept else "")
    if path.startswith("/calls/") and path.count("/") == 2:
        return "/api/calls/" + quote(unquote(path.removeprefix("/calls/")), safe="")
    if path == "/search" and params.get("q"):
        kept = {k: params[k] for k in ("q", "offset") if params.get(k)}
        return f"/api/search?{urlencode(kept)}"
    return None


def _index(path: str, params: Mapping[str, str]) -> Response[bytes]:
    if not built():
        raise NotFoundException(detail="the console's web app is not built: run `make console`")
    page = (STATIC / "index.html").read_bytes()
    early = ["/api/session"] + ([found] if (found := data_path(path, params)) else [])
    # `crossorigin` (anonymous: same-origin credentials) is what makes the app's `fetch` take the early answer.
    links = "".join(f'<link rel="preload" as="fetch" crossorigin href="{html.escape(href)}">' for href in early)
    page = page.replace(b"</head>", links.encode() + b"</head>", 1)
    return Response(page, media_type="text/html", headers={"cache-control": "no-cache"})


@get("/", include_in_schema=False)
async def home() -> Redirect:
    return Redirect("/calls")


@get(["/calls", "/calls/{rest:path}", "/search", "/signin", "/talk", "/rooms", "/ops"], include_in_schema=False)
async def page(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _index(request.url.path, dict(request.query_params))


@get("/assets/{name:str}", include_in_schema=False)
async def asset(name: FromPath[str]) -> Response[Any]:
    path = (STATIC / "assets" / name).resolve()
    if path.parent != (STATIC / "assets").resolve() or not path.is_file():
        raise NotFoundException(detail="no such file")
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(
        path.read_bytes(), media_type=media, headers={"cache-control": "public, max-age=31536000, immutable"}
    )


web_handlers = [home, page, asset]
