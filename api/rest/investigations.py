"""REST handlers of Detective Investigations (thin: input → api.services.investigations)."""

from __future__ import annotations

from typing import Any

from api.rest.protocol import Call, iso
from api.services import investigations
from api.services.investigations import Investigation


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
