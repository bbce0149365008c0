"""A batch's VPC flows (loaders/vpcflow_batch.py): the array merge against a dict merged file by
file, which is what the loader did before (and what the graph must not notice), in the order of
the flows' key ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loaders.vpcflow_batch import FlowPart, FlowTable, codes, current_vocabs
from loaders.vpcflow_fields import VOCABS

FIELDS = ("interface-id", "instance-id", "srcaddr")
BIG = 2**63 - 1  # int64's largest: sums of two need Python ints

entry = st.tuples(
    st.sampled_from(["eni-0a", "eni-0b", "eni-0c"]),
    st.sampled_from([None, "i-01", "i-02"]),
    st.sampled_from([0, 3600, 7200]),
    st.sampled_from(["198.51.100.1", "203.0.113.9", "10.0.0.5"]),
    st.integers(0, 3),  # qualifier code
    st.lists(st.integers(0, 1000), min_size=5, max_size=5),
    st.integers(0, 500),  # first - hour
    st.integers(0, 500),  # last - first
)
# a file: its entries, whether the vocabularies start again before it, whether counters are huge
part_spec = st.tuples(st.lists(entry, min_size=1, max_size=12), st.booleans(), st.booleans())


def make_part(entries: list[Any], huge: bool) -> tuple[FlowPart, list[tuple[Any, ...]]]:
    """A FlowPart of the entries under the current vocabularies, and the entries as the dict
    merge sees them: (key, [bytes in, bytes out, packets in, packets out, records, first, last])."""
    ids = [[VOCABS[f].id(e[j]) for e in entries] for j, f in zip((0, 1, 3), FIELDS, strict=True)]
    rows = []
    for e in entries:
        sums = [BIG if huge and i == 0 else v for i, v in enumerate(e[5])]
        first = e[2] + e[6]
        rows.append([*sums, first, first + e[7]])
    table = np.array(rows, dtype=object if huge else np.int64)
    col = [np.array(c, dtype=np.int64) for c in ids]
    hour = np.array([e[2] for e in entries], dtype=np.int64)
    qualifier = np.array([e[4] for e in entries], dtype=np.int64)
    part = FlowPart(col[0], col[1], hour, col[2], qualifier, table, current_vocabs())
    keyed = [((e[0], e[1], e[2], e[3], e[4]), row) for e, row in zip(entries, rows, strict=True)]
    return part, keyed


def reference(keyed: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[int]]:
    out: dict[tuple[Any, ...], list[int]] = {}
    for key, row in keyed:
        acc = out.get(key)
        if acc is None:
            out[key] = list(row)
            continue
        for i in range(5):
            acc[i] += row[i]
        acc[5], acc[6] = min(acc[5], row[5]), max(acc[6], row[6])
    return out


def by_key(table: FlowTable) -> dict[tuple[Any, ...], list[int]]:
    merged = table.merged()
    if merged is None:
        return {}
    values = [VOCABS[f].values for f in FIELDS]
    keys = zip(
        [values[0][i] for i in merged.eni.tolist()],
        [values[1][i] for i in merged.instance.tolist()],
        merged.hour.tolist(),
        [values[2][i] for i in merged.remote.tolist()],
        merged.qualifier.tolist(),
        strict=True,
    )
    return dict(zip(keys, merged.table.tolist(), strict=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(part_spec, min_size=1, max_size=6), st.integers(1, 20))
def test_merged_is_the_dict_merge_in_key_order(specs: list[Any], compact_from: int) -> None:
    table = FlowTable(compact_from=compact_from)
    keyed: list[tuple[Any, ...]] = []
    for entries, reset, huge in specs:
        if reset:  # what `checkpoint` does between files when the vocabularies are large
            for f in FIELDS:
                VOCABS[f].reset()
        part, rows = make_part(entries, huge)
        table.add(part)
        keyed.extend(rows)
    expected = reference(keyed)
    got = by_key(table)
    assert got == expected
    merged = table.merged()
    assert merged is not None
    ids = list(
        zip(
            merged.eni.tolist(),
            merged.instance.tolist(),
            merged.remote.tolist(),
            merged.qualifier.tolist(),
            merged.hour.tolist(),
            strict=True,
        )
    )
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # what the store inserts fastest
    assert table.rows >= len(expected)


def test_sums_past_int64_across_files_stay_exact() -> None:
    """Each file's counters fit int64, their sum over the batch does not: Python ints."""
    big = 3 * 2**60
    table = FlowTable()
    entry = ("eni-0a", None, 0, "198.51.100.7", 2, [big, 0, big, 0, 1], 0, 5)
    for _ in range(4):
        part, _ = make_part([entry], huge=False)
        assert part.table.dtype == np.int64
        table.add(part)
    ((_, row),) = by_key(table).items()
    assert row == [4 * big, 0, 4 * big, 0, 4, 0, 5]


def test_sums_past_int64_within_one_file_stay_exact() -> None:
    """A file's entries are staged unfolded: one part can hold a key whose sum needs Python
    ints, with no second part to trigger the check."""
    big = 3 * 2**60
    table = FlowTable()
    entry = ("eni-0a", None, 0, "198.51.100.7", 2, [big, 0, 0, big, 1], 0, 5)
    part, _ = make_part([entry] * 4, huge=False)
    table.add(part)
    ((_, row),) = by_key(table).items()
    assert row == [4 * big, 0, 0, 4 * big, 4, 0, 5]


def test_compaction_bounds_the_staged_count() -> None:
    """Twenty files of the same five flows: the count the loader flushes on stays near five."""
    table = FlowTable(compact_from=8)
    entries = [("eni-0a", None, 0, f"198.51.100.{i}", 0, [1, 0, 1, 0, 1], 0, 10) for i in range(5)]
    for _ in range(20):
        table.add(make_part(entries, huge=False)[0])
    assert table.rows < 16 and len(table.parts) < 4
    ((_, row),) = {k: v for k, v in by_key(table).items() if k[3] == "198.51.100.0"}.items()
    assert row == [20, 0, 20, 0, 20, 0, 10]


def test_absorb_takes_the_flows_and_empties_the_other() -> None:
    a, b = FlowTable(), FlowTable()
    a.add(make_part([("eni-0a", None, 0, "198.51.100.1", 1, [1] * 5, 0, 0)], huge=False)[0])
    b.add(make_part([("eni-0b", None, 0, "198.51.100.2", 1, [2] * 5, 0, 0)], huge=False)[0])
    a.absorb(b)
    assert not b and b.rows == 0
    assert sorted(k[0] for k in by_key(a)) == ["eni-0a", "eni-0b"]
    assert a.remote_addresses() == {"198.51.100.1", "198.51.100.2"}


@pytest.mark.parametrize("empty", [FlowTable()])
def test_an_empty_table_merges_to_nothing(empty: FlowTable) -> None:
    assert empty.merged() is None and not empty and empty.by_key() == {}


# columns as the merge meets them: small ids, hours (multiples of 3600, some far apart),
# qualifier codes up to 2^40, and anything int64 holds
column_values = st.one_of(
    st.lists(st.integers(0, 50), min_size=1),
    st.lists(st.integers(0, 10**6).map(lambda h: h * 3600), min_size=1),
    st.lists(st.integers(0, 2**40), min_size=1),
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1),
    st.lists(st.sampled_from([-(2**63), 0, 2**63 - 1]), min_size=1),
)


@example([[1800, 0], [0, 3600]])  # digits past their radix would make these equal
@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20).flatmap(
    lambda n: st.lists(column_values.map(lambda v: (v * n)[:n]), min_size=1, max_size=6)
))  # fmt: skip
def test_codes_are_equal_and_ordered_exactly_as_the_rows_are(columns: list[list[int]]) -> None:
    arrays = [np.array(c, dtype=np.int64) for c in columns]
    code = codes(arrays).tolist()
    rows = list(zip(*columns, strict=True))
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (code[i] == code[j]) == (rows[i] == rows[j]), (rows[i], rows[j])
            assert (code[i] < code[j]) == (rows[i] < rows[j]), (rows[i], rows[j])
