"""loaders.geo (offline IP enrichment) and loaders.geo_build (the ASN table builder)."""

from __future__ import annotations

import bisect
import dataclasses
import io
import ipaddress
import json
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loaders import geo, geo_build
from loaders.geo import DATA_PATH, AsnTables, GeoIndex, IpInfo, IpKind, parse_source_ip

MASK64 = (1 << 64) - 1
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def index() -> GeoIndex:
    return GeoIndex.load()


# --------------------------------------------------------------------------- known answers

KNOWN_PUBLIC = [
    # ip, normalized, version, country, asn, organization (as the shipped data says)
    ("52.95.110.1", "52.95.110.1", 4, "US", 16509, "Amazon.com, Inc."),
    ("8.8.8.8", "8.8.8.8", 4, "US", 15169, "Google LLC"),
    ("1.1.1.1", "1.1.1.1", 4, "AU", 13335, "Cloudflare, Inc."),  # APNIC-registered
    ("3.5.0.1", "3.5.0.1", 4, "US", 14618, "Amazon.com, Inc."),
    ("::ffff:8.8.8.8", "8.8.8.8", 4, "US", 15169, "Google LLC"),
    ("2001:4860:4860::8888", "2001:4860:4860::8888", 6, "US", 15169, "Google LLC"),
    ("2600:1F18:0::1", "2600:1f18::1", 6, "US", 14618, "Amazon.com, Inc."),
    ("2a05:d018::1", "2a05:d018::1", 6, "IE", 16509, "Amazon.com, Inc."),
    # The one overlap in the source (AS749 214.95.0.0-215.0.255.255 vs AS721 from 215.0.0.0):
    # the later-starting range wins.
    (
        "214.255.255.255",
        "214.255.255.255",
        4,
        "US",
        749,
        "United States Department of Defense (DoD)",
    ),
    ("215.0.0.1", "215.0.0.1", 4, "US", 721, "DoD Network Information Center"),
    # An AS number above 2**31 (a private-use ASN, as published).
    ("103.138.210.1", "103.138.210.1", 4, "AU", 4294967294, "AS4294967294"),
]


@pytest.mark.parametrize(("ip", "address", "version", "country", "asn", "aso"), KNOWN_PUBLIC)
def test_known_public_addresses(
    index: GeoIndex, ip: str, address: str, version: int, country: str, asn: int, aso: str
) -> None:
    expected = IpInfo(address, version, "public", country, None, asn, aso)
    assert index.lookup(ip) == expected
    assert index.lookup_many([ip]) == [expected]


SPECIAL = [
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("fd00:ec2::254", "private"),  # EC2 IPv6 instance metadata (ULA)
    ("100.64.0.1", "cgnat"),
    ("100.127.255.255", "cgnat"),
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("169.254.169.254", "link_local"),  # EC2 instance metadata
    ("fe80::1", "link_local"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("192.0.2.10", "reserved"),  # documentation
    ("198.51.100.1", "reserved"),
    ("203.0.113.5", "reserved"),
    ("2001:db8::1", "reserved"),
    ("198.18.0.1", "reserved"),  # benchmarking
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("0.1.2.3", "reserved"),
    ("2001::1", "reserved"),  # Teredo: the data names AS6939 here, but it is not looked up
    ("fec0::1", "reserved"),  # deprecated site-local
]


@pytest.mark.parametrize(("ip", "kind"), SPECIAL)
def test_special_addresses_have_no_country_or_asn(index: GeoIndex, ip: str, kind: IpKind) -> None:
    address = ipaddress.ip_address(ip)
    expected = IpInfo(address.compressed, address.version, kind, None, None, None, None)
    assert index.lookup(ip) == expected
    assert index.lookup_many([ip]) == [expected]
    assert geo.address_kind(ip) == kind


def test_ipv4_mapped_special_address_is_normalized(index: GeoIndex) -> None:
    assert index.lookup("::ffff:10.0.0.1") == IpInfo(
        "10.0.0.1", 4, "private", None, None, None, None
    )


def test_unrouted_public_address_has_country_but_no_asn(index: GeoIndex) -> None:
    t = index.tables
    gaps = np.flatnonzero(t.v4_start[1:] > t.v4_end[:-1] + 1)
    # Find a gap between ranges that lies in public space.
    for i in gaps.tolist():
        value = int(t.v4_end[i]) + 1
        info = index.lookup(str(ipaddress.IPv4Address(value)))
        if info.kind == "public":
            assert info.asn is None and info.aso is None
            return
    pytest.fail("no public gap in the IPv4 table")


# --------------------------------------------------------------------------- parse_source_ip


@pytest.mark.parametrize(
    "value",
    [
        "ec2.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "AWS Internal",
        "",
        "   ",
        "-",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.04",
        "0x1.2.3.4",
        "1.2.3.4/32",
        "10.0.0.0/8",
        "fe80::1%eth0",
        "[2001:db8::1]",
        "2001:db8::1/64",
        "2001:db8:::1",
        "1:2:3:4:5:6:7:8:9",
        "\u0661.2.3.4",  # Arabic-Indic digit one
        "1.2.3.4\x00",
        "1.2.3.4 5",
    ],
)
def test_parse_source_ip_rejects(value: str) -> None:
    assert parse_source_ip(value) is None
    with pytest.raises(ValueError, match="not an IP address"):
        GeoIndex.load().lookup(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("52.95.110.1", "52.95.110.1"),
        (" 52.95.110.1\n", "52.95.110.1"),
        ("\t10.0.0.1 ", "10.0.0.1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2600:1f18::1", "2600:1f18::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:C000:0201", "192.0.2.1"),
        ("::1.2.3.4", "::102:304"),  # IPv4-compatible (deprecated), not mapped: stays IPv6
        ("1::2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("::", "::"),
    ],
)
def test_parse_source_ip_accepts(value: str, expected: str) -> None:
    assert parse_source_ip(value) == expected


def test_parse_source_ip_non_text() -> None:
    for value in (None, 1234, b"1.2.3.4", ["1.2.3.4"]):
        assert parse_source_ip(value) is None  # type: ignore[arg-type]


@PROPERTY
@given(st.text())
def test_parse_source_ip_never_raises(value: str) -> None:
    result = parse_source_ip(value)
    if result is not None:
        assert ipaddress.ip_address(result).compressed == result


@PROPERTY
@given(st.text(alphabet="0123456789abcdefABCDEF:.%/ fx", max_size=45))
def test_parse_source_ip_agrees_with_ipaddress(value: str) -> None:
    """Address-like text: the fast paths accept exactly what ipaddress accepts."""
    try:
        addr: Any = ipaddress.ip_address(value.strip())
    except ValueError:
        addr = None
    if addr is None or "%" in value:
        assert parse_source_ip(value) is None
        return
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    assert parse_source_ip(value) == addr.compressed


def sparse_ipv6() -> st.SearchStrategy[int]:
    """IPv6 values with runs of zero groups (what the '::' compression is about)."""
    group = st.one_of(st.just(0), st.just(0xFFFF), st.integers(0, 0xFFFF))
    return st.lists(group, min_size=8, max_size=8).map(
        lambda gs: sum(g << (16 * i) for i, g in enumerate(gs))
    )


@PROPERTY
@given(st.one_of(sparse_ipv6(), st.integers(0, (1 << 128) - 1)))
def test_ipv6_forms_normalize_like_ipaddress(value: int) -> None:
    addr = ipaddress.IPv6Address(value)
    expected = addr.ipv4_mapped.compressed if addr.ipv4_mapped else addr.compressed
    for text in (addr.compressed, addr.exploded, addr.compressed.upper(), addr.exploded.upper()):
        assert parse_source_ip(text) == expected
    assert geo._format_v6(value) == addr.compressed


@PROPERTY
@given(st.integers(0, (1 << 32) - 1))
def test_ipv4_forms_normalize_like_ipaddress(value: int) -> None:
    addr = ipaddress.IPv4Address(value)
    assert parse_source_ip(str(addr)) == str(addr)
    assert parse_source_ip(f"::ffff:{addr}") == str(addr)
    assert parse_source_ip(ipaddress.IPv6Address((0xFFFF << 32) | value).exploded) == str(addr)


# --------------------------------------------------------------------------- kinds


def address_strategy() -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Random addresses, weighted towards special blocks and their edges."""
    edges = [
        v
        for blocks, to_addr in (
            (geo._V4_SPECIAL, ipaddress.IPv4Address),
            (geo._V6_SPECIAL_HI, lambda hi: ipaddress.IPv6Address(hi << 64)),
        )
        for start, end in zip(blocks._starts, blocks._ends, strict=True)
        for v in (to_addr(start), to_addr(end), to_addr(max(start - 1, 0)))
    ]
    return st.one_of(
        st.integers(0, (1 << 32) - 1).map(ipaddress.IPv4Address),
        st.integers(0, (1 << 128) - 1).map(ipaddress.IPv6Address),
        st.integers(0x2000 << 112, (0x4000 << 112) - 1).map(ipaddress.IPv6Address),
        st.sampled_from(edges),
    )


@PROPERTY
@given(address_strategy())
def test_prefilter_agrees_with_stdlib(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    parsed = geo._parse(addr.compressed)
    assert parsed is not None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    assert geo._kind(parsed) == geo._classify(addr)


def _stdlib_special_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets: list[Any] = [ipaddress.IPv4Network("100.64.0.0/10")]
    for constants in (ipaddress._IPv4Constants, ipaddress._IPv6Constants):  # type: ignore[attr-defined]
        for name, value in vars(constants).items():
            if name.endswith("_network"):
                nets.append(value)
            elif name.endswith("_networks") and "exceptions" not in name:
                nets.extend(value)
    return nets


def test_prefilter_covers_every_stdlib_special_network() -> None:
    nets = _stdlib_special_networks()
    assert len(nets) > 20
    for net in nets:
        if net.version == 4:
            blocks, start, end = geo._V4_SPECIAL, int(net[0]), int(net[-1])
        else:
            blocks, start, end = geo._V6_SPECIAL_HI, int(net[0]) >> 64, int(net[-1]) >> 64
        i = max(0, bisect.bisect_right(blocks._starts, start) - 1)
        assert blocks._starts[i] <= start and end <= blocks._ends[i], net


# --------------------------------------------------------------------------- the real table


def brute_force_pair_v4(t: AsnTables, value: int) -> int:
    q = np.uint32(value)
    hits = np.flatnonzero((t.v4_start <= q) & (q <= t.v4_end))
    assert len(hits) <= 1
    return int(t.v4_pair[hits[0]]) if len(hits) else -1


def brute_force_pair_v6(t: AsnTables, value: int) -> int:
    qh, ql = np.uint64(value >> 64), np.uint64(value & MASK64)
    after_start = (t.v6_start_hi < qh) | ((t.v6_start_hi == qh) & (t.v6_start_lo <= ql))
    before_end = (qh < t.v6_end_hi) | ((qh == t.v6_end_hi) & (ql <= t.v6_end_lo))
    hits = np.flatnonzero(after_start & before_end)
    assert len(hits) <= 1
    return int(t.v6_pair[hits[0]]) if len(hits) else -1


def expected_info(index: GeoIndex, text: str) -> tuple[str, int | None, str | None]:
    """(kind, asn, aso) by the stdlib classifier and a linear scan of the tables."""
    addr: Any = ipaddress.ip_address(text)
    kind = geo._classify(addr)
    if kind != "public":
        return kind, None, None
    t = index.tables
    pair = (
        brute_force_pair_v4(t, int(addr))
        if addr.version == 4
        else brute_force_pair_v6(t, int(addr))
    )
    if pair < 0:
        return kind, None, None
    return kind, int(t.pair_asn[pair]), t.org(int(t.pair_org[pair])) or None


def near_ranges(
    n: int, start_of: Callable[[int], int], end_of: Callable[[int], int]
) -> st.SearchStrategy[int]:
    """Addresses at, next to and inside the n ranges of a table."""

    def pick(i: int, where: str, frac: float) -> int:
        start, end = start_of(i), end_of(i)
        return {
            "start": start,
            "end": end,
            "before": start - 1,
            "after": end + 1,
            "inside": start + int((end - start) * frac),
        }[where]

    return st.builds(
        pick,
        st.integers(0, n - 1),
        st.sampled_from(["start", "end", "before", "after", "inside"]),
        st.floats(0, 1),
    )


def v4_candidates(index: GeoIndex) -> st.SearchStrategy[str]:
    t = index.tables
    near = near_ranges(len(t.v4_start), lambda i: int(t.v4_start[i]), lambda i: int(t.v4_end[i]))
    values = st.one_of(st.integers(0, (1 << 32) - 1), near).filter(lambda v: 0 <= v < 1 << 32)
    return values.map(lambda v: str(ipaddress.IPv4Address(v)))


def v6_candidates(index: GeoIndex) -> st.SearchStrategy[str]:
    t = index.tables
    near = near_ranges(
        len(t.v6_start_hi),
        lambda i: (int(t.v6_start_hi[i]) << 64) | int(t.v6_start_lo[i]),
        lambda i: (int(t.v6_end_hi[i]) << 64) | int(t.v6_end_lo[i]),
    )
    values = st.one_of(
        st.integers(0x2000 << 112, (0x4000 << 112) - 1), st.integers(0, (1 << 128) - 1), near
    ).filter(lambda v: 0 <= v < 1 << 128 and v >> 32 != 0xFFFF)  # mapped IPv4 becomes IPv4
    return values.map(lambda v: ipaddress.IPv6Address(v).compressed)


@PROPERTY
@given(st.data())
def test_lookup_many_matches_linear_scan(index: GeoIndex, data: st.DataObject) -> None:
    ips = data.draw(
        st.lists(st.one_of(v4_candidates(index), v6_candidates(index)), min_size=1, max_size=40)
    )
    infos = index.lookup_many(ips)
    assert len(infos) == len(ips)
    for ip, info in zip(ips, infos, strict=True):
        assert (info.kind, info.asn, info.aso) == expected_info(index, ip), ip
        assert info.address == ip
        assert info.city is None
        assert (info.country is None) or info.kind == "public"
        assert index.lookup(ip) == info


def test_lookup_many_keeps_order_and_duplicates(index: GeoIndex) -> None:
    ips = ["8.8.8.8", "10.0.0.1", "2600:1f18::1", "8.8.8.8", "::ffff:8.8.8.8", "fe80::1"]
    infos = index.lookup_many(ips)
    assert infos == [index.lookup(ip) for ip in ips]
    assert [i.address for i in infos] == [
        "8.8.8.8",
        "10.0.0.1",
        "2600:1f18::1",
        "8.8.8.8",
        "8.8.8.8",
        "fe80::1",
    ]
    assert index.lookup_many([]) == []


def test_lookup_many_rejects_bad_input(index: GeoIndex) -> None:
    with pytest.raises(ValueError, match=r"'ec2.amazonaws.com' \(item 1\)"):
        index.lookup_many(["8.8.8.8", "ec2.amazonaws.com"])
    with pytest.raises(TypeError):
        index.lookup_many("8.8.8.8")


def test_packaged_file(index: GeoIndex) -> None:
    assert GeoIndex.load() is index is geo.default_index()
    assert DATA_PATH.stat().st_size < 4_000_000
    with np.load(DATA_PATH, allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)
    assert index.source == "@ip-location-db/asn@2.3.2026061719"
    assert index.tables.meta["licence"] == "CC-BY-4.0"
    t = index.tables
    assert len(t.v4_start) > 400_000 and len(t.v6_start_hi) > 100_000
    assert (DATA_PATH.parent / "NOTICE-asn.md").exists()


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="geo_build"):
        GeoIndex.load(tmp_path / "missing.npz")


# --------------------------------------------------------------------------- a synthetic table

BASE6 = 0x2400 << 112  # public IPv6 space


def synthetic_rows() -> tuple[list[geo_build.Row], list[geo_build.Row]]:
    v4 = [
        (int(ipaddress.IPv4Address("8.0.0.0")), int(ipaddress.IPv4Address("8.0.0.255")), 1, "One"),
        (int(ipaddress.IPv4Address("8.0.1.0")), int(ipaddress.IPv4Address("8.0.1.255")), 2, "Two"),
        # overlaps the next one: the later start wins
        (
            int(ipaddress.IPv4Address("9.0.0.0")),
            int(ipaddress.IPv4Address("9.0.0.200")),
            3,
            "Three",
        ),
        (
            int(ipaddress.IPv4Address("9.0.0.100")),
            int(ipaddress.IPv4Address("9.0.0.150")),
            4,
            "Four",
        ),
        (
            int(ipaddress.IPv4Address("11.0.0.0")),
            int(ipaddress.IPv4Address("11.0.0.0")),
            2**32 - 2,
            "",
        ),
    ]
    hi = BASE6 >> 64
    v6 = [
        # several ranges sharing one upper half, told apart by the lower half only
        ((hi << 64) | 0x10, (hi << 64) | 0x1F, 10, "Ten"),
        ((hi << 64) | 0x20, (hi << 64) | 0x2F, 11, "Eleven"),
        ((hi << 64) | 0x40, (hi << 64) | (1 << 63), 12, "Twelve"),
        ((hi << 64) | ((1 << 63) + 1), ((hi + 5) << 64) | 7, 13, "Thirteen"),
        (((hi + 5) << 64) | 8, ((hi + 5) << 64) | 8, 14, "Fourteen ünïcode"),
        (((hi + 9) << 64), ((hi + 9) << 64) | MASK64, 10, "Ten"),
    ]
    return v4, v6


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeoIndex, list[geo_build.Row]]:
    v4_raw, v6_raw = synthetic_rows()
    v4, overlaps = geo_build.flatten(v4_raw)
    assert overlaps == 1
    v6, _ = geo_build.flatten(v6_raw)
    tables = geo_build.build_tables(v4, v6, {"package": "synthetic", "version": "0"})
    path = tmp_path_factory.mktemp("geo") / "synthetic.npz"
    geo_build.write_npz(tables.to_arrays(), path)
    index = GeoIndex.load(path)
    geo_build.check(index, v4, v6)
    return index, [*v4, *v6]


def test_synthetic_overlap(synthetic: tuple[GeoIndex, list[geo_build.Row]]) -> None:
    index, _ = synthetic
    got = [
        (index.lookup(ip).asn, index.lookup(ip).aso)
        for ip in ("9.0.0.99", "9.0.0.100", "9.0.0.150", "9.0.0.151", "9.0.0.201")
    ]
    assert got == [(3, "Three"), (4, "Four"), (4, "Four"), (3, "Three"), (None, None)]
    assert index.lookup("11.0.0.0").asn == 2**32 - 2
    assert index.lookup("11.0.0.0").aso is None  # empty organization


@PROPERTY
@given(st.data())
def test_synthetic_lookups_match_linear_scan(
    synthetic: tuple[GeoIndex, list[geo_build.Row]], data: st.DataObject
) -> None:
    index, rows = synthetic
    v4_rows = [r for r in rows if r[1] < 1 << 32]
    v6_rows = [r for r in rows if r[0] >= 1 << 32]
    row = st.sampled_from(v4_rows + v6_rows)
    near = st.builds(
        lambda r, d: r[0] + d if d <= 0 else (r[1] + d - 1),
        row,
        st.integers(-2, 3),
    )
    around6 = st.integers(BASE6 - 10, BASE6 + (12 << 64))
    values = data.draw(st.lists(st.one_of(near, around6), min_size=1, max_size=20))
    ips = [str(ipaddress.ip_address(v)) for v in values if 0 <= v < 1 << 128]
    assume(ips)
    infos = index.lookup_many(ips)
    for ip, info in zip(ips, infos, strict=True):
        value = int(ipaddress.ip_address(ip))
        table = v4_rows if info.version == 4 else v6_rows
        hits = [(asn, org or None) for start, end, asn, org in table if start <= value <= end]
        if info.kind != "public":
            assert info.asn is None
            continue
        assert (info.asn, info.aso) == (hits[0] if hits else (None, None)), ip
        assert index.lookup(ip) == info


def test_searchsorted_right_128_matches_numpy_on_python_ints() -> None:
    rng = np.random.default_rng(7)
    his = np.sort(rng.integers(0, 5, size=300).astype(np.uint64))
    los = rng.integers(0, 2**63, size=300, dtype=np.uint64) * np.uint64(2)
    order = np.lexsort((los, his))
    sh, sl = his[order], los[order]
    qh = rng.integers(0, 6, size=500).astype(np.uint64)
    ql = np.concatenate([sl[:250], rng.integers(0, 2**63, size=250, dtype=np.uint64)])
    got = geo._searchsorted_right_128(sh, sl, qh, ql)
    keys = [(int(h) << 64) | int(lo) for h, lo in zip(sh, sl, strict=True)]
    queries = [(int(h) << 64) | int(lo) for h, lo in zip(qh, ql, strict=True)]
    expected = np.searchsorted(
        np.array(keys, dtype=object), np.array(queries, dtype=object), "right"
    )
    assert got.tolist() == expected.tolist()


# --------------------------------------------------------------------------- flatten


@PROPERTY
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 12), st.integers(1, 4)),
        max_size=12,
    )
)
def test_flatten_matches_definition(spec: list[tuple[int, int, int]]) -> None:
    rows = [(start, start + length, asn, f"AS{asn}") for start, length, asn in spec]
    flat, _ = geo_build.flatten(rows)
    # disjoint, sorted, adjacent equal values merged
    for a, b in zip(flat, flat[1:], strict=False):
        assert a[1] < b[0]
        assert not (a[1] + 1 == b[0] and a[2:] == b[2:])
    ordered = sorted(enumerate(rows), key=lambda ir: (ir[1][0], -ir[1][1], ir[0]))
    for value in range(0, 80):
        covering = [r for _, r in ordered if r[0] <= value <= r[1]]
        want = covering[-1][2:] if covering else None
        got = [r[2:] for r in flat if r[0] <= value <= r[1]]
        assert got == ([want] if want else [])


# --------------------------------------------------------------------------- (de)serialization


def test_tables_round_trip_and_validation(index: GeoIndex) -> None:
    t = index.tables
    arrays = t.to_arrays()
    again = AsnTables.from_arrays(arrays)
    for field in dataclasses.fields(AsnTables):
        ours, theirs = getattr(t, field.name), getattr(again, field.name)
        assert np.array_equal(ours, theirs) if isinstance(ours, np.ndarray) else ours == theirs

    with pytest.raises(ValueError, match="missing"):
        AsnTables.from_arrays({k: v for k, v in arrays.items() if k != "v4_pair"})
    with pytest.raises(ValueError, match="must be 1-D uint32"):
        AsnTables.from_arrays({**arrays, "v4_pair": arrays["v4_pair"].astype(np.int64)})
    meta = json.dumps({"format": 99}).encode()
    with pytest.raises(ValueError, match="format 99"):
        AsnTables.from_arrays({**arrays, "meta": np.frombuffer(meta, dtype=np.uint8)})
    bad_gap = arrays["v4_gap"].copy()
    bad_gap[-1] = 2**32 - 1
    with pytest.raises(ValueError, match="past 255.255.255.255"):
        AsnTables.from_arrays({**arrays, "v4_gap": bad_gap})
    bad_pair = arrays["v6_pair"].copy()
    bad_pair[0] = len(t.pair_asn)
    with pytest.raises(ValueError, match="index out of range"):
        AsnTables.from_arrays({**arrays, "v6_pair": bad_pair})
    with pytest.raises(ValueError, match="not sorted"):
        GeoIndex(dataclasses.replace(t, v4_end=t.v4_end[::-1].copy()))


def test_arrays_are_read_only(index: GeoIndex) -> None:
    with pytest.raises(ValueError, match="read-only"):
        index.tables.v4_start[0] = 0


# --------------------------------------------------------------------------- the build CLI


def _tarball(path: Path, v4_csv: str, v6_csv: str) -> None:
    package = {"name": "@ip-location-db/asn", "version": "0.0.1-test"}
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (
            ("package/package.json", json.dumps(package)),
            ("package/asn-ipv4-num.csv", v4_csv),
            ("package/asn-ipv6-num.csv", v6_csv),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_build_cli_from_tarball(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v4 = '134744064,134744319,15169,Google LLC\n16777216,16777471,13335,"Cloudflare, Inc."\n'
    first6 = int(ipaddress.IPv6Address("2600:1f18::"))
    last6 = int(ipaddress.IPv6Address("2600:1f18:7fff:ffff:ffff:ffff:ffff:ffff"))
    v6 = f'{first6},{last6},14618,"Amazon.com, Inc. "\n'
    tgz, out = tmp_path / "asn.tgz", tmp_path / "out" / "asn.npz"
    _tarball(tgz, v4, v6)
    assert geo_build.main(["--tarball", str(tgz), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "package: @ip-location-db/asn@0.0.1-test" in printed
    assert "ipv4_ranges: 2" in printed
    first = out.read_bytes()
    assert geo_build.main(["--tarball", str(tgz), "--out", str(out)]) == 0
    assert out.read_bytes() == first  # reproducible
    with zipfile.ZipFile(out) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    index = GeoIndex.load(out)
    assert index.lookup("8.8.8.8").aso == "Google LLC"
    assert index.lookup("1.0.0.1").aso == "Cloudflare, Inc."
    assert index.lookup("2600:1f18::5").asn == 14618
    assert index.lookup("2600:1f18::5").aso == "Amazon.com, Inc."
    assert index.lookup("9.9.9.9").asn is None


def test_read_rows_strips_organizations() -> None:
    rows = geo_build.read_rows(io.StringIO('1,2,3," Org, Inc. "\n\n4,4,5,Other\n'), 32)
    assert rows == [(1, 2, 3, "Org, Inc."), (4, 4, 5, "Other")]


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("1,2,3\n", "expected 4 columns"),
        ("x,2,3,Org\n", "non-numeric"),
        ("5,2,3,Org\n", "bad range"),
        (f"0,{2**32},3,Org\n", "bad range"),
        ("1,2,-1,Org\n", "out of range"),
    ],
)
def test_read_rows_rejects_malformed(csv_text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        geo_build.read_rows(io.StringIO(csv_text), 32)
