"""Detective Investigations (StartInvestigation, GetInvestigation, ListInvestigations,
ListIndicators, UpdateInvestigationState): input validation and listing.

The investigations themselves (scoring an IAM user or role over a scope against its baseline)
come from an `Investigator`: baselines.investigation_engine.BaselineInvestigator unless another is
registered with `register` first (it is registered on first use).

The REST handlers (api.rest.investigations), the GraphQL fields (api.graphql.investigations) and
the report download route share these functions: the same checks (only the graph's administrator
account), the same errors (api.services.errors, api.services.membership_errors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from api.auth import Caller
from api.services.errors import NotFound
from api.services.membership_checks import page
from api.services.membership_errors import InvalidRequest
from api.services.membership_graphs import admin_graph
from graph.store import GraphStore

ENTITY_ARN = re.compile(r"^arn:aws[-\w]*:iam::(\d{12}):(user|role)/\S+$")
ENTITY_TYPES = {"user": "IAM_USER", "role": "IAM_ROLE"}
SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
STATUSES = ("RUNNING", "FAILED", "SUCCESSFUL")
STATES = ("ACTIVE", "ARCHIVED")
TOKEN_AGE = 24 * 3600  # Detective's investigation tokens expire after 24 hours
MAX_SCOPE = 366 * 86_400


@dataclass(frozen=True, slots=True)
class Investigation:
    graph: str
    investigation_id: str  # 21 digits
    entity_arn: str
    entity_type: str  # IAM_USER or IAM_ROLE
    created: int
    scope_start: int
    scope_end: int
    status: str
    severity: str
    state: str


@dataclass(frozen=True, slots=True)
class Indicator:
    indicator_type: str
    detail: Mapping[str, Any] = field(default_factory=dict)  # IndicatorDetail, wire-shaped


class Investigator(Protocol):
    def start(
        self, store: GraphStore, graph: str, entity_arn: str, start: int, end: int, now: int
    ) -> Investigation: ...

    def investigations(self, store: GraphStore, graph: str) -> list[Investigation]: ...

    def indicators(
        self, store: GraphStore, graph: str, investigation_id: str
    ) -> list[Indicator]: ...

    def set_state(
        self, store: GraphStore, graph: str, investigation_id: str, state: str
    ) -> None: ...


_registered: list[Investigator] = []


def register(investigator: Investigator) -> None:
    _registered[:] = [investigator]


def _engine() -> Investigator | None:
    if not _registered:
        # The baselines engine is the default. Imported on first use, not at the top: it imports
        # this module (for Investigation and Indicator), and tests may register another first.
        from baselines.investigation_engine import BaselineInvestigator

        register(BaselineInvestigator())
    return _registered[0] if _registered else None


def start_investigation(
    *,
    store: GraphStore,
    caller: Caller,
    graph: str,
    entity_arn: str,
    scope_start: int,
    scope_end: int,
    now: int,
) -> Investigation:
    admin_graph(store=store, caller=caller, arn=graph)
    if not ENTITY_ARN.match(entity_arn):
        raise InvalidRequest(f"EntityArn must be an IAM user or role ARN, not {entity_arn!r}")
    if scope_end <= scope_start:
        raise InvalidRequest("ScopeEndTime must be after ScopeStartTime")
    if scope_end - scope_start > MAX_SCOPE:
        raise InvalidRequest("the scope of an investigation is at most one year")
    if scope_start > now:
        raise InvalidRequest("ScopeStartTime is in the future")
    engine = _engine()
    if engine is None:
        raise InvalidRequest("investigations are not available: no investigation engine runs")
    return engine.start(store, graph, entity_arn, scope_start, scope_end, now)


def _all(store: GraphStore, graph: str) -> list[Investigation]:
    engine = _engine()
    return engine.investigations(store, graph) if engine is not None else []


def get_investigation(
    *, store: GraphStore, caller: Caller, graph: str, investigation_id: str
) -> Investigation:
    admin_graph(store=store, caller=caller, arn=graph)
    for inv in _all(store, graph):
        if inv.investigation_id == investigation_id:
            return inv
    raise NotFound(f"investigation {investigation_id} does not exist in {graph}")


def _matches(inv: Investigation, criteria: Mapping[str, Any]) -> bool:
    for name, attr in (("Severity", "severity"), ("Status", "status"), ("State", "state")):
        wanted = criteria.get(name)
        if wanted is not None and getattr(inv, attr) != wanted["Value"]:
            return False
    arn = criteria.get("EntityArn")
    if arn is not None and inv.entity_arn != arn["Value"]:
        return False
    created = criteria.get("CreatedTime")
    return created is None or created["StartInclusive"] <= inv.created <= created["EndInclusive"]


def check_filter(criteria: Mapping[str, Any]) -> None:
    for name, allowed in (("Severity", SEVERITIES), ("Status", STATUSES), ("State", STATES)):
        given = criteria.get(name)
        if given is not None and given["Value"] not in allowed:
            choices = ", ".join(allowed)
            raise InvalidRequest(f"FilterCriteria.{name} must be one of {choices}")
    created = criteria.get("CreatedTime")
    if created is not None and created["StartInclusive"] > created["EndInclusive"]:
        raise InvalidRequest("FilterCriteria.CreatedTime starts after it ends")


def list_investigations(
    *,
    store: GraphStore,
    caller: Caller,
    graph: str,
    criteria: Mapping[str, Any] | None,
    sort: Mapping[str, Any] | None,
    token: str | None,
    max_results: int | None,
    now: int,
) -> tuple[list[Investigation], str | None]:
    admin_graph(store=store, caller=caller, arn=graph)
    check_filter(criteria or {})
    found = [inv for inv in _all(store, graph) if _matches(inv, criteria or {})]
    field_name = (sort or {}).get("Field", "CREATED_TIME")
    descending = (sort or {}).get("SortOrder", "DESC") == "DESC"

    def rank(inv: Investigation) -> tuple[Any, ...]:
        if field_name == "SEVERITY":
            return (SEVERITIES.index(inv.severity), inv.investigation_id)
        if field_name == "STATUS":
            return (inv.status, inv.investigation_id)
        return (inv.created, inv.investigation_id)

    ordered = sorted(found, key=rank, reverse=descending)
    # the page key is the position in this order, so it survives any sort field
    keyed = [(f"{i:08d}", inv) for i, inv in enumerate(ordered)]
    chunk, next_token = page(
        keyed,
        lambda k: k[0],
        token=token,
        max_results=max_results,
        limit=100,
        max_age=TOKEN_AGE,
        now=now,
    )
    return [inv for _, inv in chunk], next_token


def list_indicators(
    *,
    store: GraphStore,
    caller: Caller,
    graph: str,
    investigation_id: str,
    indicator_type: str | None,
    token: str | None,
    max_results: int | None,
    now: int,
) -> tuple[list[Indicator], str | None]:
    get_investigation(store=store, caller=caller, graph=graph, investigation_id=investigation_id)
    engine = _engine()
    found: Sequence[Indicator] = engine.indicators(store, graph, investigation_id) if engine else []
    chosen = [i for i in found if indicator_type is None or i.indicator_type == indicator_type]
    keyed = [(f"{i:08d}", ind) for i, ind in enumerate(chosen)]
    chunk, next_token = page(
        keyed,
        lambda k: k[0],
        token=token,
        max_results=max_results,
        limit=100,
        max_age=TOKEN_AGE,
        now=now,
    )
    return [ind for _, ind in chunk], next_token


def update_investigation_state(
    *, store: GraphStore, caller: Caller, graph: str, investigation_id: str, state: str
) -> None:
    get_investigation(store=store, caller=caller, graph=graph, investigation_id=investigation_id)
    engine = _engine()
    assert engine is not None  # an investigation was found, so an engine listed it
    engine.set_state(store, graph, investigation_id, state)


def investigation_report(
    *, store: GraphStore, caller: Caller, graph: str, investigation_id: str
) -> dict[str, Any]:
    """The downloadable JSON report of one investigation (GetInvestigation's fields, every
    indicator, counts per indicator type and notes), for the graph's administrator only."""
    get_investigation(store=store, caller=caller, graph=graph, investigation_id=investigation_id)
    from baselines.investigation_engine import investigation_report as report

    try:
        return report(store=store, graph=graph, investigation_id=investigation_id)
    except KeyError:  # listed by another engine, or deleted meanwhile
        raise NotFound(f"investigation {investigation_id} has no report in {graph}") from None
