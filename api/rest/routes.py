"""The Detective-compatible management API: one route per operation of botocore's `detective`
model, at its exact method and path, so that boto3 and the AWS CLI work unchanged against
`endpoint_url` / `--endpoint-url`.

Every request is authenticated (SigV4 for service `detective`, or a bearer token) before its body
is read as input; the signed region is the region the caller works in (graphs are regional).
Handlers are synchronous service calls run in the thread pool; expected failures come back as the
model's exceptions, anything else as InternalServerException (logged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.model import OperationModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.auth import Authenticator, AuthError
from api.rest import graphs, investigations, members
from api.rest.protocol import (
    Call,
    caller_region,
    error_response,
    operations,
    request_params,
    service_error,
    success,
)
from api.services.errors import ServiceError
from api.services.membership_checks import RateLimiter
from api.services.membership_settings import MembershipSettings
from graph.store import GraphNotFound, StoreUnavailable

log = logging.getLogger("gumshoe.rest")
MAX_BODY = 1 << 20
Handler = Callable[[Call], dict[str, Any] | None]
HANDLERS: dict[str, Handler] = {
    **graphs.HANDLERS,
    **members.HANDLERS,
    **investigations.HANDLERS,
}


def route_path(op: OperationModel) -> str:
    """The model's URI template as a Starlette path (`{ResourceArn}` → `{ResourceArn:path}`)."""
    uri: str = op.http["requestUri"]
    return uri.replace("{ResourceArn}", "{ResourceArn:path}")


def _endpoint(
    op: OperationModel,
    handler: Handler,
    auth: Authenticator,
    settings: MembershipSettings,
    limiter: RateLimiter,
    clock: Callable[[], float],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        length = request.headers.get("content-length", "0")
        if length.isdigit() and int(length) > MAX_BODY:
            return error_response(
                "ValidationException",
                f"the request body is larger than {MAX_BODY} bytes",
                400,
                ErrorCode="INVALID_REQUEST_BODY",
            )
        try:
            caller = await auth.authenticate(request)
        except AuthError as e:
            return error_response(e.code, str(e), e.status)
        try:
            limiter.check(caller.account_id)
            params = request_params(
                op,
                await request.body(),
                dict(request.path_params),
                list(request.query_params.multi_items()),
            )
            call = Call(
                store=request.app.state.store,
                caller=caller,
                params=params,
                region=caller_region(request.headers.get("authorization", "")),
                settings=settings,
                now=int(clock()),
            )
            payload = await run_in_threadpool(handler, call)
        except ServiceError as e:
            return service_error(e)
        except GraphNotFound as e:  # deleted while the call ran
            return error_response("ResourceNotFoundException", str(e), 404)
        except StoreUnavailable as e:
            log.error("%s: store unavailable: %s", op.name, e)
            return error_response("InternalServerException", "the store is unavailable", 500)
        except Exception:
            log.exception("%s failed", op.name)
            return error_response("InternalServerException", "Internal server error", 500)
        return success(op, payload)

    endpoint.__name__ = op.name
    return endpoint


def rest_routes(
    auth: Authenticator,
    *,
    clock: Callable[[], float] = time.time,
    settings: MembershipSettings | None = None,
) -> list[BaseRoute]:
    """A route for each of the model's operations (all 29: a missing handler fails here), and
    the download of investigation reports."""
    chosen = settings if settings is not None else MembershipSettings.from_env()
    limiter = RateLimiter(chosen.rate_limit)
    routes: list[BaseRoute] = []
    for op in operations():
        handler = HANDLERS[op.name]
        endpoint = _endpoint(op, handler, auth, chosen, limiter, clock)
        routes.append(Route(route_path(op), endpoint, methods=[op.http["method"]]))
    routes.append(investigations.report_route(auth))
    return routes
