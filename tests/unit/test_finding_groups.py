"""Finding groups: linking, windows, incremental growth and merge lineage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baselines.finding_groups import (
    ACTIVE,
    INACTIVE,
    FindingFacts,
    GroupingConfig,
    components,
    update_groups,
)
from baselines.tactics import group_title, severity_label, tactic_chain
from graph.model import BUCKET, INSTANCE, IP, SESSION, VertexRef

G = "arn:aws:detective:us-east-1:111122223333:graph:" + "a" * 32
H = 3600
T0 = 1_700_000_000
SESS = VertexRef(SESSION, "AROAEXAMPLE:alice")
IP1 = VertexRef(IP, "198.51.100.7")
IP2 = VertexRef(IP, "203.0.113.9")
I1 = VertexRef(INSTANCE, "i-0abc")
B1 = VertexRef(BUCKET, "shared-bucket")


def f(
    fid: str,
    *entities: VertexRef,
    at: int = T0,
    ftype: str = "Recon:IAMUser/MaliciousIPCaller",
    sev: float = 5.0,
) -> FindingFacts:
    return FindingFacts(fid, ftype, sev, at, at + H, frozenset(entities), "111122223333")


def test_findings_sharing_a_session_group_and_unrelated_ones_do_not() -> None:
    result = update_groups(G, [f("a", SESS), f("b", SESS, IP1), f("c", IP2)], [], now=T0)
    (group,) = result.active
    assert group.findings == {"a", "b"}
    assert group.entities == {SESS, IP1}
    assert result.changed == (group.id,)


def test_a_shared_non_linking_entity_does_not_group() -> None:
    # two findings on the same (popular) bucket are not evidence of one incident
    assert update_groups(G, [f("a", B1), f("b", B1)], [], now=T0).groups == ()


def test_the_time_window_separates_findings_far_apart() -> None:
    config = GroupingConfig(window=48 * H)
    near = [f("a", IP1, at=T0), f("b", IP1, at=T0 + 40 * H)]
    far = [f("a", IP1, at=T0), f("b", IP1, at=T0 + 60 * H)]
    assert len(update_groups(G, near, [], now=T0, config=config).active) == 1
    assert update_groups(G, far, [], now=T0, config=config).groups == ()


def test_chains_link_through_intermediate_findings() -> None:
    # a-b share the session, b-c share the instance: one component
    comps = components([f("a", SESS), f("b", SESS, I1), f("c", I1)], GroupingConfig())
    assert comps == [frozenset({"a", "b", "c"})]


def test_a_group_grows_in_place_when_a_new_finding_joins() -> None:
    first = update_groups(G, [f("a", SESS), f("b", SESS)], [], now=T0)
    (g1,) = first.active
    second = update_groups(G, [f("a", SESS), f("b", SESS), f("c", SESS)], first.groups, now=T0 + H)
    (g2,) = second.active
    assert g2.id == g1.id and g2.created == T0
    assert g2.findings == {"a", "b", "c"}
    assert second.changed == (g1.id,)


def test_rerunning_with_the_same_findings_changes_nothing() -> None:
    findings = [f("a", SESS), f("b", SESS)]
    first = update_groups(G, findings, [], now=T0)
    again = update_groups(G, findings, first.groups, now=T0 + 5 * H)
    assert again.groups == first.groups
    assert again.changed == ()


def test_a_finding_linking_two_groups_creates_a_child_and_deactivates_the_parents() -> None:
    left = [f("a", IP1), f("b", IP1)]
    right = [f("c", I1), f("d", I1)]
    first = update_groups(G, left + right, [], now=T0)
    parents = sorted(g.id for g in first.active)
    assert len(parents) == 2
    bridge = f("e", IP1, I1, ftype="Backdoor:EC2/C&CActivity.B", sev=8.0)
    second = update_groups(G, [*left, *right, bridge], first.groups, now=T0 + H)
    (child,) = second.active
    assert child.findings == {"a", "b", "c", "d", "e"}
    assert child.parents == tuple(parents)
    assert child.id not in parents
    by_id = second.by_id()
    for p in parents:
        assert by_id[p].status == INACTIVE
        assert by_id[p].child == child.id
    assert set(second.changed) == {child.id, *parents}
    assert child.severity == 8.0 and child.severity_label == "High"
    assert child.tactics == ("Discovery", "Command and Control")


def test_group_summary_follows_detective() -> None:
    types = [
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        "Recon:IAMUser/MaliciousIPCaller",
        "Behavior:EC2/NetworkPortUnusual",
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "Behavior:EC2/TrafficVolumeUnusual",
    ]
    assert tactic_chain(types) == ["Initial Access", "Discovery", "Impact", "Other"]
    assert group_title(types) == "Group with: Unusual behavior (2), Effect (1), and TTP (2)"
    assert group_title(types[:2]) == "Group with: TTP (2)"
    assert group_title(types[2:4]) == "Group with: Unusual behavior (1) and Effect (1)"
    assert [severity_label(s) for s in (0.0, 2.0, 5.0, 7.5, 9.0)] == [
        "Informational",
        "Low",
        "Medium",
        "High",
        "Critical",
    ]


@pytest.mark.parametrize(
    "kwargs", [{"window": 0}, {"min_findings": 0}, {"link_labels": frozenset()}]
)
def test_bad_configuration_is_rejected_up_front(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GroupingConfig(**kwargs)  # type: ignore[arg-type]


_entity = st.sampled_from([SESS, IP1, IP2, I1, B1])
_finding = st.builds(
    lambda i, ents, hour: f(f"f{i:03d}", *ents, at=T0 + hour * H),
    st.integers(0, 999),
    st.frozensets(_entity, max_size=3),
    st.integers(0, 200),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_finding, max_size=25, unique_by=lambda x: x.id), st.integers(0, 25))
def test_loading_in_two_steps_covers_the_same_findings_as_one(
    findings: list[FindingFacts], cut: int
) -> None:
    """Incremental grouping never loses a finding: every finding of a one-shot group is in an
    active group of the two-step run, and every active group is a union of one-shot groups."""
    once = update_groups(G, findings, [], now=T0)
    step = update_groups(G, findings[:cut], [], now=T0)
    twice = update_groups(G, findings, step.groups, now=T0 + H)
    assert {x for g in once.active for x in g.findings} <= {
        x for g in twice.active for x in g.findings
    }
    one_shot = [g.findings for g in once.active]
    for g in twice.active:
        assert g.findings == frozenset().union(*(c for c in one_shot if c & g.findings))
    # every finding is in at most one active group
    seen = [x for g in twice.active for x in g.findings]
    assert len(seen) == len(set(seen))
    assert all(g.status == ACTIVE for g in twice.active)
