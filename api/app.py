"""The ASGI application: one store per process, shared by every route.

The GraphQL API and the Detective-compatible REST API mount here; `/healthz` is what load
balancers, compose and Kubernetes probes poll.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth import Authenticator, Credentials
from api.graphql.view import graphql_routes
from api.rest.routes import rest_routes
from api.services.membership_retention import retention_schedule
from api.services.membership_settings import MembershipSettings
from baselines.workers import FitPool
from graph.store import GraphStore, StoreError


def create_app(
    open_store: Callable[[], GraphStore],
    *,
    authenticator: Authenticator | None = None,
    clock: Callable[[], float] = time.time,
    fit_processes: int = 0,
) -> Starlette:
    """Build the app; the store is opened at startup and closed at shutdown, so a server that
    cannot reach its store fails health checks instead of failing to import.

    `authenticator` checks every API request (default: one without identities, which refuses
    them all; `Authenticator(None)` is --no-auth). `clock` is where default scopes end.
    `fit_processes`: worker processes fitting the API call baselines (baselines.workers; 0:
    in the server's own threads)."""
    holder: dict[str, GraphStore] = {}
    auth = authenticator if authenticator is not None else Authenticator(Credentials(()))
    settings = MembershipSettings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        holder["store"] = await run_in_threadpool(open_store)
        app.state.store = holder["store"]
        pool = FitPool(fit_processes, holder["store"].uri) if fit_processes else None
        app.state.fit_pool = pool
        try:
            if pool is not None:
                await run_in_threadpool(pool.start)
            async with retention_schedule(lambda: holder["store"], settings, clock):
                yield
        finally:
            if pool is not None:
                await run_in_threadpool(pool.close)
            await run_in_threadpool(holder["store"].close)

    async def healthz(request: Request) -> JSONResponse:
        store: GraphStore = request.app.state.store
        try:
            graphs = await run_in_threadpool(store.list_graphs)
        except StoreError as e:
            return JSONResponse({"status": "unavailable", "store": store.uri, "error": str(e)}, 503)
        return JSONResponse({"status": "ok", "store": store.uri, "graphs": len(graphs)})

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            *graphql_routes(auth, clock=clock),
            *rest_routes(auth, clock=clock, settings=settings),
        ],
        lifespan=lifespan,
    )
    app.state.authenticator = auth
    return app
