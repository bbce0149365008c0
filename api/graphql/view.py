"""GraphQL over HTTP: `POST /graphql` (and queries by GET) for authenticated callers, and the
offline GraphiQL page for browsers at `GET /graphql`.

Every request that runs a query is authenticated first (SigV4 for service `detective`, or a
bearer token) by `api.auth.Authenticator`; refusals are 401/403 with a GraphQL-shaped error body,
before strawberry sees the request. The GraphiQL page and its vendored assets need no
credentials: they hold no data, and the page sends the token the user types into its headers
pane. Request bodies are capped at MAX_BODY bytes. Under `--no-auth` only requests whose Host is
a loopback name are served, so that a web page cannot reach the API by DNS rebinding.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from api.auth import Authenticator, AuthError, Caller, Identity
from api.auth import is_loopback as _is_loopback
from api.graphql.context import Context
from api.graphql.schema import schema
from baselines.cache import BaselineCache

STATIC = Path(__file__).resolve().parent.parent / "static" / "graphiql"
IDE_PAGE = Path(__file__).resolve().parent / "graphiql.html"
MAX_BODY = 256 * 1024
CALLER_KEY = "gumshoe.caller"
NOBODY = Caller(Identity("<unauthenticated>", "-"))  # administers no graph
# The page loads nothing but what this server serves: a missing vendored file fails loudly
# instead of quietly reaching a CDN. Fonts and icons are data: URIs inside graphiql.min.css.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self' data:; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(schema, graphql_ide="graphiql", subscription_protocols=())
        self.clock = clock
        # one per app: baseline results outlive requests (keyed by the entities' observed spans)
        self.baseline_cache = BaselineCache()

    async def render_graphql_ide(self, request: Request) -> Response:
        html = ide_html()
        if html is None:  # an install without the package data: the API still serves
            return PlainTextResponse("GraphiQL is not installed with this package", 404)
        return HTMLResponse(html, headers={"content-security-policy": CSP})

    async def get_context(self, request: Any, response: Any) -> Context:
        # strawberry builds a context for the GraphiQL page too, which runs nothing; fail closed
        # should anything unauthenticated ever get this far
        caller: Caller = request.scope.get(CALLER_KEY, NOBODY)
        pool = getattr(request.app.state, "fit_pool", None)
        return Context.create(
            request.app.state.store, caller, self.clock, self.baseline_cache, pool
        )

    def encode_json(self, data: object) -> bytes:
        return msgspec.json.encode(data)


@functools.cache
def ide_html() -> str | None:
    try:
        return IDE_PAGE.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


def _wants_ide(scope: Scope) -> bool:
    if scope["method"] != "GET":
        return False
    request = Request(scope)
    accept = request.headers.get("accept", "")
    return "query" not in request.query_params and ("text/html" in accept or "*/*" in accept)


def _host(scope: Scope) -> str:
    host = Request(scope).headers.get("host", "")
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0]


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # what a finished request receives next: wait for the client to go away
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class Authenticated:
    """ASGI middleware for the GraphQL endpoint: authenticate, then hand over the caller."""

    def __init__(self, app: GraphQLView, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no subscriptions: nothing to do over websockets
            await send({"type": "websocket.close", "code": 1008})
            return
        if self.authenticator.credentials is None and not _is_loopback(_host(scope)):
            await _error(403, "AccessDeniedException", "--no-auth serves loopback hosts only")(
                scope, receive, send
            )
            return
        if _wants_ide(scope):
            await self.app(scope, receive, send)
            return
        declared = Request(scope).headers.get("content-length", "0")
        fits = not declared.isdigit() or int(declared) <= MAX_BODY  # bad values: read, capped
        body = await _read_body(receive, MAX_BODY) if fits else None
        if body is None:
            await _error(413, "PayloadTooLarge", f"request body over {MAX_BODY} bytes")(
                scope, receive, send
            )
            return
        try:
            caller = await self.authenticator.authenticate(Request(scope, _replay(body)))
        except AuthError as e:
            await _error(e.status, e.code, str(e))(scope, receive, send)
            return
        scope[CALLER_KEY] = caller
        await self.app(scope, _replay(body), send)


def graphql_routes(
    authenticator: Authenticator, *, clock: Callable[[], float] = time.time
) -> list[BaseRoute]:
    """Routes to add to the Starlette app: the endpoint and the vendored GraphiQL assets."""
    endpoint = Authenticated(GraphQLView(clock), authenticator)
    return [
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        Mount(
            "/static/graphiql",
            StaticFiles(directory=STATIC, check_dir=False),
            name="graphiql-static",
        ),
    ]
