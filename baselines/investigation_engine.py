"""The investigation engine behind the Detective Investigations API (api.services.investigations).

Investigations run synchronously inside StartInvestigation: the reads are batched and bounded
(see baselines.indicators), so a scope of a year answers in well under a request timeout, and a
RUNNING state that nobody can observe is not worth a worker queue. A run that raises is kept as
FAILED (with the error), as Detective keeps failed investigations listable.

Results are persisted in the behavior graph's properties (key "investigations"), the store
contract's one place for per-graph records besides membership: they then live and die with the
graph (DeleteGraph removes them) on every backend, with no schema change. Writes happen under the
same per-graph lock as the membership operations' read-modify-write of those properties.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from api.services.investigations import ENTITY_TYPES, Indicator, Investigation
from api.services.membership_checks import graph_lock
from api.services.membership_errors import InvalidRequest
from api.services.membership_graphs import find_graph
from baselines.investigation import (
    InvestigationConfig,
    find_entity,
    indicator_counts,
    run_investigation,
)
from graph.store import GraphStore, StoreUnavailable

PROP = "investigations"
MAX_KEPT = 200  # per graph, oldest dropped first: graph props are read on every graph lookup
MAX_INDICATORS = 500  # per investigation, stored; the counts keep the true totals


def _stored(store: GraphStore, graph: str) -> dict[str, dict[str, Any]]:
    raw = find_graph(store, graph).props.get(PROP) or {}
    return dict(raw) if isinstance(raw, Mapping) else {}


def _save(store: GraphStore, graph: str, inv_id: str, record: dict[str, Any] | None,
          state: str | None = None) -> None:  # fmt: skip
    with graph_lock(graph):
        info = find_graph(store, graph)
        kept = dict(info.props.get(PROP) or {})
        if record is not None:
            kept[inv_id] = record
        if state is not None:
            kept[inv_id] = {**kept[inv_id], "state": state}
        newest = sorted(kept, key=lambda k: (kept[k]["created"], k))[-MAX_KEPT:]
        store.update_graph(graph, {**info.props, PROP: {k: kept[k] for k in newest}})


def _investigation(graph: str, inv_id: str, r: Mapping[str, Any]) -> Investigation:
    return Investigation(
        graph=graph,
        investigation_id=inv_id,
        entity_arn=r["entity_arn"],
        entity_type=r["entity_type"],
        created=r["created"],
        scope_start=r["scope_start"],
        scope_end=r["scope_end"],
        status=r["status"],
        severity=r["severity"],
        state=r["state"],
    )


class BaselineInvestigator:
    """api.services.investigations.Investigator over baselines.investigation."""

    def __init__(self, config: InvestigationConfig | None = None) -> None:
        self.config = config or InvestigationConfig()

    def start(
        self, store: GraphStore, graph: str, entity_arn: str, start: int, end: int, now: int
    ) -> Investigation:
        entity = find_entity(store, graph, entity_arn)
        if entity is None:
            # nothing to score: Detective likewise refuses entities its graph has not seen
            raise InvalidRequest(f"{entity_arn} has not been observed in the behavior graph")
        inv_id = f"{secrets.randbelow(10**21):021d}"
        kind = entity_arn.split(":", 5)[-1].split("/", 1)[0]
        record: dict[str, Any] = {
            "entity_arn": entity_arn,
            "entity_type": ENTITY_TYPES[kind],
            "created": now,
            "scope_start": start,
            "scope_end": end,
            "state": "ACTIVE",
        }
        try:
            result = run_investigation(
                store=store, graph=graph, entity=entity, start=start, end=end, config=self.config
            )
        except StoreUnavailable:
            raise  # the store is down: nothing can be recorded either; the caller retries
        except Exception as exc:  # any rule failing fails the run, kept as FAILED
            record |= {"status": "FAILED", "severity": "INFORMATIONAL", "error": str(exc)[:500],
                       "indicators": [], "counts": {}, "notes": []}  # fmt: skip
        else:
            record |= {
                "status": "SUCCESSFUL",
                "severity": result.severity,
                "indicators": [
                    {"IndicatorType": i.indicator_type, "IndicatorDetail": i.detail}
                    for i in result.indicators[:MAX_INDICATORS]
                ],
                "counts": indicator_counts(result.indicators),
                "notes": list(result.notes),
            }
        _save(store, graph, inv_id, record)
        return _investigation(graph, inv_id, record)

    def investigations(self, store: GraphStore, graph: str) -> list[Investigation]:
        return [_investigation(graph, k, r) for k, r in sorted(_stored(store, graph).items())]

    def indicators(self, store: GraphStore, graph: str, investigation_id: str) -> list[Indicator]:
        record = _stored(store, graph).get(investigation_id) or {}
        return [
            Indicator(i["IndicatorType"], i["IndicatorDetail"])
            for i in record.get("indicators", [])
        ]

    def set_state(self, store: GraphStore, graph: str, investigation_id: str, state: str) -> None:
        _save(store, graph, investigation_id, None, state=state)


def investigation_report(*, store: GraphStore, graph: str, investigation_id: str) -> dict[str, Any]:
    """The downloadable JSON report of one investigation: GetInvestigation's fields, every
    stored indicator (ListIndicators' shape), counts per indicator type and notes.
    Raises KeyError when the graph holds no such investigation."""
    r = _stored(store, graph)[investigation_id]
    return {
        "GraphArn": graph,
        "InvestigationId": investigation_id,
        "EntityArn": r["entity_arn"],
        "EntityType": r["entity_type"],
        "CreatedTime": r["created"],
        "ScopeStartTime": r["scope_start"],
        "ScopeEndTime": r["scope_end"],
        "Status": r["status"],
        "Severity": r["severity"],
        "State": r["state"],
        "IndicatorCounts": r.get("counts", {}),
        "Indicators": r.get("indicators", []),
        "Notes": r.get("notes", []),
        **({"Error": r["error"]} if "error" in r else {}),
    }
