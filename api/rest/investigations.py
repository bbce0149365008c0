"""REST handlers of Detective Investigations (thin: input → api.services.investigations), and
the download of an investigation's JSON report."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.auth import Authenticator, AuthError
from api.rest.protocol import Call, error_response, iso, service_error
from api.services import investigations
from api.services.errors import ServiceError
from api.services.investigations import Investigation
from api.services.membership_errors import InvalidRequest
from graph.store import GraphNotFound, StoreUnavailable

log = logging.getLogger("gumshoe.rest")
REPORT_PATH = "/investigations/report"  # not a Detective operation: GET, outside its model


def _detail(inv: Investigation) -> dict[str, Any]:
    return {
        "InvestigationId": inv.investigation_id,
        "Severity": inv.severity,
        "Status": inv.status,
        "State": inv.state,
        "CreatedTime": iso(inv.created),
        "EntityArn": inv.entity_arn,
        "EntityType": inv.entity_type,
    }


def start_investigation(c: Call) -> dict[str, Any]:
    p = c.params
    inv = investigations.start_investigation(
        store=c.store,
        caller=c.caller,
        graph=p["GraphArn"],
        entity_arn=p["EntityArn"],
        scope_start=p["ScopeStartTime"],
        scope_end=p["ScopeEndTime"],
        now=c.now,
    )
    return {"InvestigationId": inv.investigation_id}


def get_investigation(c: Call) -> dict[str, Any]:
    inv = investigations.get_investigation(
        store=c.store,
        caller=c.caller,
        graph=c.params["GraphArn"],
        investigation_id=c.params["InvestigationId"],
    )
    return {
        **_detail(inv),
        "GraphArn": inv.graph,
        "ScopeStartTime": iso(inv.scope_start),
        "ScopeEndTime": iso(inv.scope_end),
    }


def list_investigations(c: Call) -> dict[str, Any]:
    p = c.params
    found, token = investigations.list_investigations(
        store=c.store,
        caller=c.caller,
        graph=p["GraphArn"],
        criteria=p.get("FilterCriteria"),
        sort=p.get("SortCriteria"),
        token=p.get("NextToken"),
        max_results=p.get("MaxResults"),
        now=c.now,
    )
    out: dict[str, Any] = {"InvestigationDetails": [_detail(i) for i in found]}
    if token:
        out["NextToken"] = token
    return out


def list_indicators(c: Call) -> dict[str, Any]:
    p = c.params
    found, token = investigations.list_indicators(
        store=c.store,
        caller=c.caller,
        graph=p["GraphArn"],
        investigation_id=p["InvestigationId"],
        indicator_type=p.get("IndicatorType"),
        token=p.get("NextToken"),
        max_results=p.get("MaxResults"),
        now=c.now,
    )
    out: dict[str, Any] = {
        "GraphArn": p["GraphArn"],
        "InvestigationId": p["InvestigationId"],
        "Indicators": [
            {"IndicatorType": i.indicator_type, "IndicatorDetail": dict(i.detail)} for i in found
        ],
    }
    if token:
        out["NextToken"] = token
    return out


def update_investigation_state(c: Call) -> None:
    investigations.update_investigation_state(
        store=c.store,
        caller=c.caller,
        graph=c.params["GraphArn"],
        investigation_id=c.params["InvestigationId"],
        state=c.params["State"],
    )


HANDLERS = {
    "StartInvestigation": start_investigation,
    "GetInvestigation": get_investigation,
    "ListInvestigations": list_investigations,
    "ListIndicators": list_indicators,
    "UpdateInvestigationState": update_investigation_state,
}


def report_route(auth: Authenticator) -> Route:
    """`GET /investigations/report?GraphArn=...&InvestigationId=...`: an investigation's JSON
    report as a download, for the graph's administrator, authenticated like every API call
    (SigV4 for service `detective`, or a bearer token). Refusals have the REST API's shapes."""

    async def report(request: Request) -> Response:
        try:
            caller = await auth.authenticate(request)
        except AuthError as e:
            return error_response(e.code, str(e), e.status)
        graph = request.query_params.get("GraphArn", "")
        inv_id = request.query_params.get("InvestigationId", "")
        if not graph or not inv_id:
            return service_error(InvalidRequest("GraphArn and InvestigationId are required"))
        try:
            body = await run_in_threadpool(
                partial(
                    investigations.investigation_report,
                    store=request.app.state.store,
                    caller=caller,
                    graph=graph,
                    investigation_id=inv_id,
                )
            )
        except ServiceError as e:
            return service_error(e)
        except GraphNotFound as e:
            return error_response("ResourceNotFoundException", str(e), 404)
        except StoreUnavailable as e:
            log.error("investigation report: store unavailable: %s", e)
            return error_response("InternalServerException", "the store is unavailable", 500)
        except Exception:
            log.exception("investigation report failed")
            return error_response("InternalServerException", "Internal server error", 500)
        name = f"investigation-{inv_id}.json" if inv_id.isdigit() else "investigation.json"
        return JSONResponse(body, headers={"content-disposition": f'attachment; filename="{name}"'})

    return Route(REPORT_PATH, report, methods=["GET"])
