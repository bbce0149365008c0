"""GuardDuty findings to graph: principal keys shared with CloudTrail, entities, NEWEST merge."""

from __future__ import annotations

import io
import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.batch import DeltaBuffer, merge_prop, version_order
from graph.model import (
    ACCOUNT,
    ASSUMED_ROLE,
    FEDERATED,
    FINDING,
    INSTANCE,
    INVOLVES,
    ROLE,
    SESSION,
    USER,
    VERTEX_TYPES,
    Merge,
    VertexRef,
)
from loaders.geo import default_index
from loaders.guardduty import read_findings
from loaders.guardduty_graph import stage_finding
from loaders.identity import resolve
from loaders.ip_refs import IpRefs
from tests.unit.test_guardduty import finding

ACCT = "111122223333"


Edges = set[tuple[str, Any, Any, str]]


def stage(f: dict[str, Any]) -> tuple[dict[VertexRef, dict[str, Any]], Edges]:
    buf = DeltaBuffer()
    items = read_findings(io.BytesIO(json.dumps(f).encode()))
    ((_, parsed),) = [i for i in items if isinstance(i, tuple)]
    stage_finding(buf, parsed, IpRefs(default_index(), {"8.8.8.8"}))
    batch = buf.take("g", [])
    return (
        {v.ref: v.props for v in batch.vertices},
        {(e.label, e.src, e.dst, e.qualifier) for e in batch.edges},
    )


def involved(edges: set[tuple[str, Any, Any, str]]) -> set[VertexRef]:
    return {dst for label, _, dst, _ in edges if label == INVOLVES}


def access_key(user_type: str, principal: str, name: str | None) -> dict[str, Any]:
    return finding(
        resource={
            "resourceType": "AccessKey",
            "accessKeyDetails": {"principalId": principal, "userName": name, "userType": user_type},
        }
    )


def cloudtrail_targets(identity: dict[str, Any]) -> set[VertexRef]:
    p = resolve(json.dumps(identity).encode(), ACCT)
    return {ref for ref in p.targets if ref.label != ACCOUNT}


@pytest.mark.parametrize(
    ("user_type", "principal", "name", "cloudtrail"),
    [
        ("Root", ACCT, "root", {"type": "Root", "principalId": ACCT, "accountId": ACCT}),
        (
            "IAMUser",
            "AIDAEXAMPLE000000001",
            "alice",
            {"type": "IAMUser", "principalId": "AIDAEXAMPLE000000001", "userName": "alice"},
        ),
        (
            "AssumedRole",
            "AROAEXAMPLE000000001:alice-session",
            "admin",
            {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE000000001:alice-session",
                "arn": f"arn:aws:sts::{ACCT}:assumed-role/admin/alice-session",
                "sessionContext": {"sessionIssuer": {"principalId": "AROAEXAMPLE000000001"}},
            },
        ),
        (
            "AssumedRole",
            "AROAEXAMPLE000000001:i-0abc1234def567890",
            "web",
            {"type": "AssumedRole", "principalId": "AROAEXAMPLE000000001:i-0abc1234def567890"},
        ),
    ],
)
def test_principals_land_on_the_vertices_cloudtrail_creates(
    user_type: str, principal: str, name: str, cloudtrail: dict[str, Any]
) -> None:
    vertices, edges = stage(access_key(user_type, principal, name))
    assert involved(edges) == cloudtrail_targets({**cloudtrail, "accountId": ACCT})


def test_assumed_role_session_arn_role_and_relations() -> None:
    vertices, edges = stage(access_key("AssumedRole", "AROAEXAMPLE000000001:s1", "admin"))
    session, role = (
        VertexRef(SESSION, "AROAEXAMPLE000000001:s1"),
        VertexRef(ROLE, "AROAEXAMPLE000000001"),
    )
    # names and accounts are CloudTrail's to give (FIRST-merged: see guardduty_graph._principal)
    assert vertices[session] == vertices[role] == {}
    assert (ASSUMED_ROLE, session, role, "") in edges
    assert {(dst, q) for label, _, dst, q in edges if label == INVOLVES} == {
        (session, "resource"),
        (role, "resource"),
    }


def test_root_iam_user_role_and_federated_keys() -> None:
    root, _ = stage(access_key("Root", ACCT, "root"))
    assert root[VertexRef(USER, ACCT)] == {
        "name": "root",
        "arn": f"arn:aws:iam::{ACCT}:root",
        "account": ACCT,
    }
    user, _ = stage(access_key("IAMUser", "AIDAEXAMPLE000000001", "alice"))
    assert user[VertexRef(USER, "AIDAEXAMPLE000000001")] == {}
    _, role = stage(access_key("Role", "AROAEXAMPLE000000002", "deployer"))
    assert involved(role) == {VertexRef(ROLE, "AROAEXAMPLE000000002")}
    _, fed = stage(access_key("FederatedUser", f"{ACCT}:bob", "bob"))
    assert involved(fed) == {VertexRef(FEDERATED, "sts.amazonaws.com:bob")}


def test_instance_profile_session_rolls_up_to_its_instance() -> None:
    _, edges = stage(access_key("AssumedRole", "AROAEXAMPLE000000001:i-0abc1234def567890", "web"))
    assert VertexRef(INSTANCE, "i-0abc1234def567890") in involved(edges)


def test_remote_ip_is_geolocated_like_cloudtrail_source_ips() -> None:
    f = finding(
        service={"action": {"awsApiCallAction": {"remoteIpDetails": {"ipAddressV4": "8.8.8.8"}}}}
    )
    vertices, edges = stage(f)
    ip = VertexRef("IpAddress", "8.8.8.8")
    info = default_index().lookup("8.8.8.8")
    assert vertices[ip]["country"] == info.country and vertices[ip]["asn"] == info.asn
    assert (INVOLVES, VertexRef(FINDING, "f1"), ip, "remote") in edges
    assert {label for label, src, _, _ in edges if src == ip} == {"LOCATED_IN", "ANNOUNCED_BY"}


def test_finding_props_and_observed_window() -> None:
    f = finding(
        description="",
        service={
            "eventFirstSeen": "2024-05-01T09:00:00Z",
            "eventLastSeen": "2024-05-01T10:30:00Z",
            "count": 4,
            "archived": True,
            "resourceRole": "ACTOR",
        },
    )
    vertices, _ = stage(f)
    props = vertices[VertexRef(FINDING, "f1")]
    assert props["severity"] == 5.0 and isinstance(props["severity"], float)
    assert "description" not in props  # "" is no value
    assert (props["count"], props["archived"], props["updated"]) == (4, True, 1714561200)


# ---------------------------------------------------------------- NEWEST merge

FINDING_TYPE = VERTEX_TYPES[FINDING]


def test_finding_declares_a_max_version() -> None:
    for vt in VERTEX_TYPES.values():
        if any(m is Merge.NEWEST for _, m in vt.props):
            assert vt.version is not None and vt.merge_of(vt.version) is Merge.MAX


def _versions() -> st.SearchStrategy[list[dict[str, Any]]]:
    # every version carries its values (GuardDuty always writes type, severity, title): a value
    # missing from the newest version is filled from an older one in write order (documented)
    version = st.fixed_dictionaries(
        {
            "updated": st.integers(0, 5),
            "severity": st.sampled_from([1.0, 5.0, 8.0]),
            "title": st.sampled_from("abc"),
            "archived": st.booleans(),
        },
    )
    return st.lists(version, min_size=1, max_size=5)


def _merge_all(writes: list[dict[str, Any]]) -> dict[str, Any]:
    buf = DeltaBuffer()
    for props in writes:
        buf.vertex(VertexRef(FINDING, "f"), 0, 0, dict(props))
    (vd,) = buf.take("g", []).vertices
    return vd.props


@given(_versions())
def test_newest_merge_does_not_depend_on_write_order(writes: list[dict[str, Any]]) -> None:
    results = [_merge_all(list(p)) for p in itertools.permutations(writes)]
    assert all(r == results[0] for r in results)
    newest = max(w["updated"] for w in writes)
    top = [w for w in writes if w["updated"] == newest]
    assert results[0]["severity"] == max(w["severity"] for w in top)


def test_merge_prop_newest_rules() -> None:
    assert version_order(FINDING_TYPE, {"updated": 2}, {"updated": 3}) == 1
    assert version_order(FINDING_TYPE, {"updated": 2}, {}) == -1
    assert merge_prop(Merge.NEWEST, 8.0, 1.0, 1) == 1.0
    assert merge_prop(Merge.NEWEST, 8.0, 1.0, -1) == 8.0
    assert merge_prop(Merge.NEWEST, None, 1.0, -1) == 1.0  # an older write fills the unknown
    assert merge_prop(Merge.NEWEST, 1.0, 8.0, 0) == 8.0  # a tie keeps the larger value
