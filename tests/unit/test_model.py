"""Guard tests over every vertex and edge declaration of the data model."""

from __future__ import annotations

import re

import pytest

from graph.model import (
    ACTIVITY_SOURCES,
    EDGE_TYPES,
    LEAF_PRINCIPALS,
    MAX_COUNTERS,
    PRINCIPALS,
    ROLLUPS,
    VERTEX_TYPES,
    EdgeType,
    Merge,
    VertexType,
    edge_type,
    vertex_type,
)
from graph.sqlite_schema import COUNTER_COLUMNS


@pytest.mark.parametrize("vt", VERTEX_TYPES.values(), ids=lambda vt: vt.label)
def test_vertex_declaration(vt: VertexType) -> None:
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", vt.label), "vertex labels are PascalCase"
    assert VERTEX_TYPES[vt.label] is vt
    names = vt.prop_names
    assert len(names) == len(set(names)), "a property is declared once"
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)
    assert not {"key", "first", "last", "graph", "label"} & set(names), "reserved names"
    assert set(vt.search) <= set(names), "search terms come from declared properties"
    assert all(isinstance(m, Merge) for _, m in vt.props)
    assert vt.doc.endswith(".") and vt.key_doc
    assert not vt.rollup or vt.principal, "rollups aggregate principals' activity"


@pytest.mark.parametrize("et", EDGE_TYPES.values(), ids=lambda et: et.label)
def test_edge_declaration(et: EdgeType) -> None:
    assert re.fullmatch(r"[A-Z][A-Z_]+", et.label), "edge labels are UPPER_SNAKE"
    assert et.label not in VERTEX_TYPES
    assert et.src and et.dst
    assert et.src <= set(VERTEX_TYPES) and et.dst <= set(VERTEX_TYPES)
    assert 1 <= len(et.counters) <= MAX_COUNTERS <= len(COUNTER_COLUMNS)
    assert all(re.fullmatch(r"[a-z][a-z_]*", c) for c in et.counters)
    if et.activity:
        assert et.src == ACTIVITY_SOURCES, "activity is written for leaves and their rollups"
        assert et.counters == ("success", "failure")


def test_principal_sets() -> None:
    assert LEAF_PRINCIPALS <= PRINCIPALS
    assert ROLLUPS <= PRINCIPALS
    assert not LEAF_PRINCIPALS & ROLLUPS, "a principal is either acting or aggregating"
    assert ACTIVITY_SOURCES == PRINCIPALS


def test_detective_entity_types_exist() -> None:
    for label in (
        "AwsAccount",
        "AwsUser",
        "AwsRole",
        "AwsRoleSession",
        "FederatedUser",
        "Ec2Instance",
        "IpAddress",
        "UserAgent",
        "S3Bucket",
        "ApiOperation",
        "Finding",
        "Geolocation",
        "Aso",
    ):
        assert label in VERTEX_TYPES


def test_lookups_fail_loudly() -> None:
    with pytest.raises(ValueError, match="unknown vertex label 'Nope'"):
        vertex_type("Nope")
    with pytest.raises(ValueError, match="unknown edge label 'NOPE'"):
        edge_type("NOPE")
    with pytest.raises(KeyError):
        VERTEX_TYPES["AwsUser"].merge_of("colour")
