"""EdgeRows in a DeltaBuffer and a WriteBatch: counted, carried by copy/absorb/take, and folded
into EdgeDeltas without touching the batch's own (a store may be handed the same batch again)."""

from __future__ import annotations

from graph.batch import DeltaBuffer
from graph.edge_rows import EdgeRows
from graph.model import ENI, FLOW, IP, VertexRef

H = 1_700_000_000 - 1_700_000_000 % 3600
NIC, PEER = VertexRef(ENI, "eni-1"), VertexRef(IP, "198.51.100.1")


def _rows(*hours: int) -> EdgeRows:
    n = len(hours)
    return EdgeRows(
        FLOW, ENI, IP, [NIC.key] * n, [PEER.key] * n, ["q"] * n, list(hours),
        [h + 1 for h in hours], [h + 2 for h in hours], ([1] * n, [2] * n, [3] * n, [4] * n),
    )  # fmt: skip


def test_rows_are_counted_and_carried() -> None:
    a, b = DeltaBuffer(), DeltaBuffer()
    a.vertex(NIC, H)
    a.add_rows(_rows(H, H + 3600))
    a.add_rows(_rows())  # empty: nothing
    b.add_rows(_rows(H))
    assert len(a) == 3 and len(b) == 1
    copied = a.copy()
    a.absorb(b)
    assert len(a) == 4 and len(b) == 0 and len(copied) == 3
    batch = a.take("g", [])
    assert len(batch) == 4 and len(batch.rows) == 2 and len(a) == 0
    assert len(copied.take("g", []).rows) == 1


def test_folding_adds_rows_into_a_copy_of_the_batch_edges() -> None:
    buf = DeltaBuffer()
    buf.count(FLOW, NIC, PEER, "q", H + 7, H + 9, (10, 20, 30, 40))
    buf.add_rows(_rows(H, H, H + 3600))  # the same (edge, hour) twice, and another hour
    batch = buf.take("g", [])
    for _ in range(2):  # folding twice gives the same: the batch itself is left as it was
        (edge,) = batch.with_rows_folded().edges
        assert edge.hours == {H: [12, 24, 36, 48], H + 3600: [1, 2, 3, 4]}
        assert (edge.first, edge.last) == (H + 1, H + 3602)
    assert batch.edges[0].hours == {H: [10, 20, 30, 40]}
