"""The JanusGraph schema of the behavior graph, generated from graph.model.

JanusGraph runs with `schema.default=none`: every label and property key is declared here, once,
by an idempotent management script the store submits when it opens. Layout:

- one vertex per entity, id `<graph hash>|<label>|<key>` escaped (see `vertex_id`), with the
  properties `graph` (the graph ARN), `nkey` (the entity key: `key` is reserved by JanusGraph),
  `first`, `last` and the label's declared properties;
- per edge type two MULTI labels: `<LABEL>` summary edges (qualifier `q`, first/last observed and
  all-time counter totals) and `<LABEL>_HOURLY` edges, one per hour with counts, carrying a
  vertex-centric index on `hour`;
- `BehaviorGraph` vertices (graph metadata) and `Ledger` vertices (the ingest ledger).

Indexes: composite on `graph` (export, delete), on `arn` for graphs, on (`graph`, `source`) for
the ledger; a Lucene/Elasticsearch mixed index `search` on the search fields, so that prefix
search is an index range query.
"""

from __future__ import annotations

import functools
import hashlib
import re

from graph.model import EDGE_TYPES, VERTEX_TYPES

GRAPH_LABEL = "BehaviorGraph"
LEDGER_LABEL = "Ledger"
# membership records (graph.janusgraph_membership)
MEMBER_LABEL = "Member"
VOLUME_LABEL = "Volume"
ORG_ADMIN_LABEL = "OrgAdmin"
MEMBERSHIP_LABELS = (MEMBER_LABEL, VOLUME_LABEL, ORG_ADMIN_LABEL)
HOURLY = "_HOURLY"
COUNTERS = ("c0", "c1", "c2", "c3")
SEARCH_FIELDS = ("nkey", "name", "arn", "role_name", "method", "organization")

# Java types of every property name used anywhere (a name has one type in the whole graph).
PROP_TYPES: dict[str, str] = {
    "graph": "String",
    "nkey": "String",
    "first": "Long",
    "last": "Long",
    "q": "String",
    "hour": "Long",
    **dict.fromkeys(COUNTERS, "Long"),
    # vertex properties of the model
    "name": "String",
    "arn": "String",
    "account": "String",
    "role_name": "String",
    "role_arn": "String",
    "idp": "String",
    "audience": "String",
    "region": "String",
    "instance_type": "String",
    "image_id": "String",
    "vpc_id": "String",
    "subnet_id": "String",
    "version": "Integer",
    "kind": "String",
    "country": "String",
    "city": "String",
    "asn": "Long",
    "aso": "String",
    "created": "Long",
    "deleted": "Long",
    "service": "String",
    "method": "String",
    "organization": "String",
    "type": "String",
    "severity": "Double",
    "title": "String",
    "description": "String",
    "namespace": "String",
    "updated": "Long",
    "count": "Long",
    "archived": "Boolean",
    "sample": "Boolean",
    "tactics": "String",
    "status": "String",
    "parents": "String",
    "severity_label": "String",
    "child": "String",
    "findings": "Long",
    "accounts": "String",
    # graph metadata and ledger
    "admin_account": "String",
    "created_at": "Long",
    "takes_all": "Boolean",
    "meta": "String",
    "source": "String",
    "lversion": "String",
    "size": "Long",
    "lstatus": "String",
    "lkind": "String",
    "records": "Long",
    "loaded": "Long",
    "skipped": "Long",
    "errors": "String",
    "loaded_at": "Long",
    "hint": "String",
    # marks an element merged in by the current request (see graph.janusgraph_writes)
    "fresh": "Boolean",
    # membership records: keys of their own, so that their indexes are born enabled
    "member_graph": "String",
    "member_account": "String",
    "email": "String",
    "invitation_type": "String",
    "invited_at": "Long",
    "updated_at": "Long",
    "disabled_reason": "String",
    "packages": "String",
    "volume_graph": "String",
    "package": "String",
    "day": "Long",
    "ingested": "Long",
    "org_kind": "String",
    "delegated_at": "Long",
}


@functools.lru_cache(maxsize=64)
def graph_hash(arn: str) -> str:
    return hashlib.sha256(arn.encode()).hexdigest()[:16]


# what escape() keeps: printable ASCII but '%' (the escape) and '-'
_UNSAFE = re.compile(r"[^\x20-\x24\x26-\x2c\x2e-\x7e]")


def _percent(m: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in m.group().encode())


def escape(text: str) -> str:
    """Printable ASCII without '-' (JanusGraph's relation delimiter): %XX (of the UTF-8 bytes)
    for anything else. Runs twice per edge of a write: most texts need no escape at all."""
    if text.isascii() and text.isprintable() and "%" not in text and "-" not in text:
        return text
    return _UNSAFE.sub(_percent, text)


def vertex_id(graph: str, label: str, key: str) -> str:
    return escape(f"{graph_hash(graph)}|{label}|{key}")


def edge_labels() -> list[str]:
    return [name for et in EDGE_TYPES for name in (et, et + HOURLY)]


def schema_script() -> str:
    """An idempotent Groovy management script creating every label, key and index."""
    keys = "\n".join(f"  pk('{k}', {t}.class)" for k, t in sorted(PROP_TYPES.items()))
    vlabels = sorted([*VERTEX_TYPES, GRAPH_LABEL, LEDGER_LABEL, *MEMBERSHIP_LABELS])
    by_key = "\n".join(
        f"  byKey('{name}', '{key}', '{label}')"
        for name, key, label in (
            ("memberByGraph", "member_graph", MEMBER_LABEL),
            ("memberByAccount", "member_account", MEMBER_LABEL),
            ("volumeByGraph", "volume_graph", VOLUME_LABEL),
            ("orgAdmins", "org_kind", ORG_ADMIN_LABEL),
        )
    )
    vl = ", ".join(f"'{v}'" for v in vlabels)
    el = ", ".join(f"'{e}'" for e in edge_labels())
    hourly = ", ".join(f"'{e}{HOURLY}'" for e in EDGE_TYPES)
    search = ", ".join(f"'{f}'" for f in SEARCH_FIELDS)
    return f"""
import org.janusgraph.core.Cardinality
import org.janusgraph.core.Multiplicity
import org.janusgraph.core.schema.Mapping
// Two clients connecting to a fresh graph at once would create the same names in two management
// transactions and leave relation types that resolve to nothing; one at a time per server.
synchronized (graph) {{
mgmt = graph.openManagement()
try {{
  def created = []
  def pk = {{ String n, Class t -> def k = mgmt.getPropertyKey(n)
    if (k == null) {{ k = mgmt.makePropertyKey(n).dataType(t).cardinality(Cardinality.SINGLE).make(); created << n }}; k }}
{keys}
  [{vl}].each {{ if (mgmt.getVertexLabel(it) == null) {{ mgmt.makeVertexLabel(it).make(); created << it }} }}
  [{el}].each {{ if (mgmt.getEdgeLabel(it) == null) {{ mgmt.makeEdgeLabel(it).multiplicity(Multiplicity.MULTI).make(); created << it }} }}
  [{hourly}].each {{ def l = mgmt.getEdgeLabel(it)
    if (mgmt.getRelationIndex(l, it + '_byHour') == null) {{
      mgmt.buildEdgeIndex(l, it + '_byHour', Direction.BOTH, Order.asc, mgmt.getPropertyKey('hour')); created << it + '_byHour' }} }}
  if (mgmt.getGraphIndex('byGraph') == null) {{
    mgmt.buildIndex('byGraph', Vertex.class).addKey(mgmt.getPropertyKey('graph')).buildCompositeIndex(); created << 'byGraph' }}
  if (mgmt.getGraphIndex('graphByArn') == null) {{
    mgmt.buildIndex('graphByArn', Vertex.class).addKey(mgmt.getPropertyKey('arn'))
      .indexOnly(mgmt.getVertexLabel('{GRAPH_LABEL}')).buildCompositeIndex(); created << 'graphByArn' }}
  if (mgmt.getGraphIndex('ledgerBySource') == null) {{
    mgmt.buildIndex('ledgerBySource', Vertex.class).addKey(mgmt.getPropertyKey('graph'))
      .addKey(mgmt.getPropertyKey('source')).indexOnly(mgmt.getVertexLabel('{LEDGER_LABEL}'))
      .buildCompositeIndex(); created << 'ledgerBySource' }}
  def byKey = {{ String n, String k, String l -> if (mgmt.getGraphIndex(n) == null) {{
    mgmt.buildIndex(n, Vertex.class).addKey(mgmt.getPropertyKey(k)).indexOnly(mgmt.getVertexLabel(l))
      .buildCompositeIndex(); created << n }} }}
{by_key}
  if (mgmt.getGraphIndex('search') == null) {{
    def b = mgmt.buildIndex('search', Vertex.class).addKey(mgmt.getPropertyKey('graph'), Mapping.STRING.asParameter())
    [{search}].each {{ b.addKey(mgmt.getPropertyKey(it), Mapping.STRING.asParameter()) }}
    b.buildMixedIndex('search'); created << 'search' }}
  mgmt.commit()
  created
}} catch (Throwable t) {{ if (mgmt.isOpen()) mgmt.rollback(); throw t }}
}}
"""
