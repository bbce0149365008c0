"""Offline IP enrichment: address kind, country and autonomous system (ASN + organization).

Everything is answered from data shipped with the project; nothing is downloaded at run time.

- Kind: the stdlib `ipaddress` decides whether an address is public or special-purpose (private
  RFC 1918 / ULA, CGNAT 100.64/10, loopback, link-local, multicast, unspecified, and "reserved"
  for every other non-global range: documentation, benchmarking, 240/4, Teredo, ...). Only public
  addresses get a country and an ASN.
- Country: the `iptocc` package (RIR delegation data, ISO 3166-1 alpha-2).
- ASN and organization: `loaders/data/asn.npz`, built by `python -m loaders.geo_build` from the
  npm package @ip-location-db/asn (CC BY 4.0: RouteViews, DB-IP https://db-ip.com, NRO); see
  `loaders/data/NOTICE-asn.md`. Anything that shows these results to people must credit the
  sources (`ATTRIBUTION`).

The ASN table holds disjoint, sorted inclusive ranges. IPv4 bounds are uint32; IPv6 bounds are
(hi, lo) pairs of uint64 halves compared lexicographically. A lookup finds the last range whose
start is <= the address (`searchsorted(..., "right") - 1`) and checks the address against that
range's end.

File format (version 1; every member is a plain little-endian array, so `np.load` works with
`allow_pickle=False`). Bounds are delta-encoded because that halves the file:

    meta               uint8   UTF-8 JSON: format, package, version, licence, sources
    v4_gap             uint32  start[i] = end[i-1] + 1 + gap[i], taking end[-1] + 1 as 0
    v4_span            uint32  end[i] = start[i] + span[i]
    v4_pair            uint32  index into the pair table
    v6_start_hi_delta  uint64  start_hi = cumsum(delta) mod 2**64
    v6_start_lo        uint64
    v6_span_hi         uint64  end_hi = start_hi + span_hi
    v6_end_lo          uint64
    v6_pair            uint32
    pair_asn_delta     uint32  AS number = cumsum(delta) mod 2**32 (ASNs are unsigned 32-bit)
    pair_org           uint32  index into the organization table
    org_blob           uint8   UTF-8 organization names, concatenated (sorted)
    org_len            uint32  byte length of each name; offsets = cumsum
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeVar

import iptocc
import numpy as np
import numpy.typing as npt

__all__ = [
    "ATTRIBUTION",
    "DATA_PATH",
    "AsnTables",
    "GeoIndex",
    "IpInfo",
    "IpKind",
    "address_kind",
    "default_index",
    "parse_source_ip",
]

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

DATA_PATH: Final = Path(__file__).resolve().parent / "data" / "asn.npz"
FORMAT_VERSION: Final = 1
ATTRIBUTION: Final = (
    "IP to ASN data: @ip-location-db/asn, from RouteViews, DB-IP (https://db-ip.com) and NRO, "
    "licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). "
    "Country data: iptocc (Regional Internet Registries)."
)

IpKind = Literal[
    "public",
    "private",
    "loopback",
    "link_local",
    "cgnat",
    "multicast",
    "reserved",
    "unspecified",
]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_MASK64: Final = (1 << 64) - 1
# The longest textual IPv6 address ("ffff:...:ffff:255.255.255.255") has 45 characters.
_MAX_TEXT: Final = 64


@dataclass(frozen=True, slots=True)
class IpInfo:
    """What the project knows about one IP address."""

    address: str  # normalized text form (ipaddress.ip_address(...).compressed)
    version: int  # 4 or 6
    kind: IpKind
    country: str | None  # ISO 3166-1 alpha-2, only for public addresses
    city: str | None  # always None: no city database is shipped
    asn: int | None
    aso: str | None  # organization name of the ASN


# --------------------------------------------------------------------------- parsing and kinds


class _Parsed(NamedTuple):
    version: int  # 4 or 6
    value: int
    text: str  # normalized: ipaddress.ip_address(value).compressed


def _parse(value: object) -> _Parsed | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    # A zone ("fe80::1%eth0") is meaningless outside its host: not an address we key on.
    if not text or len(text) > _MAX_TEXT or "%" in text:
        return None
    # Fast paths (ipaddress is slow): accept a text that the C parser reads and that is already
    # in the normalized form, which ipaddress therefore accepts too. ipaddress decides the rest.
    ipv6 = ":" in text
    try:
        packed = socket.inet_pton(socket.AF_INET6 if ipv6 else socket.AF_INET, text)
    except (OSError, ValueError):
        packed = b""
    if packed:
        value = int.from_bytes(packed, "big")
        if not ipv6:
            if socket.inet_ntoa(packed) == text:
                return _Parsed(4, value, text)
        elif value >> 32 != 0xFFFF:  # IPv4-mapped addresses take the slow path
            canonical = _format_v6(value)
            if canonical == text.lower():
                return _Parsed(6, value, canonical)
    addr: _Address
    try:
        addr = ipaddress.IPv6Address(text) if ipv6 else ipaddress.IPv4Address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return _Parsed(addr.version, int(addr), addr.compressed)


def _format_v6(value: int) -> str:
    """ipaddress.IPv6Address(value).compressed, faster: lowercase hex without leading zeros,
    the first longest run of two or more zero groups written as '::'."""
    groups = [(value >> shift) & 0xFFFF for shift in range(112, -16, -16)]
    best, best_len, run = -1, 1, 0
    for i, group in enumerate(groups):
        run = run + 1 if group == 0 else 0
        if run > best_len:
            best, best_len = i - run + 1, run
    parts = [f"{group:x}" for group in groups]
    if best < 0:
        return ":".join(parts)
    return ":".join(parts[:best]) + "::" + ":".join(parts[best + best_len :])


def _address(p: _Parsed) -> _Address:
    return ipaddress.IPv4Address(p.value) if p.version == 4 else ipaddress.IPv6Address(p.value)


def parse_source_ip(value: str) -> str | None:
    """Return the normalized IP text if `value` (CloudTrail sourceIPAddress / flow-log address)
    is an IP address; None for service names like 'ec2.amazonaws.com', 'AWS Internal', '' or
    garbage. Accepts IPv4, IPv6, IPv4-mapped IPv6 (normalized to the IPv4 form), and strips
    surrounding whitespace; never raises. IPv6 addresses with a zone ('fe80::1%eth0') are not
    accepted."""
    parsed = _parse(value)
    return None if parsed is None else parsed.text


def _require(ip: str) -> _Parsed:
    parsed = _parse(ip)
    if parsed is None:
        raise ValueError(f"not an IP address: {ip!r}")
    return parsed


_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
_PRIVATE_V4: Final = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_PRIVATE_V6: Final = ipaddress.IPv6Network("fc00::/7")


def _classify(addr: _Address) -> IpKind:
    """The kind of an address, decided by the stdlib `ipaddress` (no table lookup)."""
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link_local"
    if addr.is_multicast:
        return "multicast"
    if isinstance(addr, ipaddress.IPv4Address):
        if addr in _CGNAT:
            return "cgnat"
        if any(addr in net for net in _PRIVATE_V4):
            return "private"
    else:
        if addr in _PRIVATE_V6:
            return "private"
        if addr.is_site_local:
            return "reserved"
    if addr.is_reserved or not addr.is_global:
        return "reserved"
    return "public"


def address_kind(ip: str) -> IpKind:
    """The kind of `ip` ("public", "private", ...); raises ValueError if it is no IP address."""
    return _kind(_require(ip))


class _Blocks:
    """Sorted disjoint integer ranges with scalar (bisect) and vector (numpy) membership."""

    __slots__ = ("_ends", "_ends_np", "_starts", "_starts_np")

    def __init__(self, ranges: Sequence[tuple[int, int]], dtype: type[np.unsignedinteger[Any]]):
        merged: list[list[int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [r[0] for r in merged]
        self._ends = [r[1] for r in merged]
        self._starts_np = np.array(self._starts, dtype=dtype)
        self._ends_np = np.array(self._ends, dtype=dtype)

    def contains(self, value: int) -> bool:
        i = bisect.bisect_right(self._starts, value) - 1
        return i >= 0 and value <= self._ends[i]

    def contains_many(self, values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
        i = np.searchsorted(self._starts_np, values, side="right") - 1
        ic = np.maximum(i, 0)
        result: npt.NDArray[np.bool_] = (i >= 0) & (values <= self._ends_np[ic])
        return result


def _v4_range(cidr: str) -> tuple[int, int]:
    net = ipaddress.IPv4Network(cidr)
    return int(net.network_address), int(net.broadcast_address)


def _v6_hi_range(cidr: str) -> tuple[int, int]:
    net = ipaddress.IPv6Network(cidr)
    assert net.prefixlen <= 64, cidr
    return int(net.network_address) >> 64, int(net.broadcast_address) >> 64


# Every IPv4 address that any CPython 3.11+ `ipaddress` treats as non-global or special lies in
# these blocks (a superset: blocks with some global addresses are fine). Addresses outside them
# are public without asking `ipaddress`; addresses inside are classified by `_classify`. This
# only saves time: tests check that both routes agree.
_V4_SPECIAL: Final = _Blocks(
    [
        _v4_range(c)
        for c in (
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "192.31.196.0/24",
            "192.52.193.0/24",
            "192.88.99.0/24",
            "192.168.0.0/16",
            "192.175.48.0/24",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/3",
        )
    ],
    np.uint32,
)
# The same for IPv6, on the upper 64 bits: everything outside global unicast 2000::/3, plus the
# special blocks inside it.
_V6_SPECIAL_HI: Final = _Blocks(
    [
        _v6_hi_range(c)
        for c in (
            "::/3",
            "4000::/2",
            "8000::/1",
            "2001::/23",
            "2001:db8::/32",
            "2002::/16",
            "3fff::/20",
        )
    ],
    np.uint64,
)


def _kind(p: _Parsed) -> IpKind:
    if p.version == 4:
        special = _V4_SPECIAL.contains(p.value)
    else:
        special = _V6_SPECIAL_HI.contains(p.value >> 64)
    return _classify(_address(p)) if special else "public"


# --------------------------------------------------------------------------- the ASN tables


def _lex_le(ah: U64, al: U64, bh: U64, bl: U64) -> npt.NDArray[np.bool_]:
    """(ah, al) <= (bh, bl), element-wise, as 128-bit numbers."""
    result: npt.NDArray[np.bool_] = (ah < bh) | ((ah == bh) & (al <= bl))
    return result


def _searchsorted_right_128(sh: U64, sl: U64, qh: U64, ql: U64) -> npt.NDArray[np.intp]:
    """Like np.searchsorted(starts, q, "right") for 128-bit values split into (hi, lo) halves.

    `sh`/`sl` must be sorted lexicographically. np.searchsorted on the hi halves bounds each
    query to the run of starts sharing its hi half; a vectorized binary search on the lo halves
    finishes inside those (short) runs."""
    lo = np.searchsorted(sh, qh, side="left")
    hi = np.searchsorted(sh, qh, side="right")
    if len(sh) == 0:
        return lo
    last = len(sh) - 1
    active = lo < hi
    while active.any():
        mid = (lo + hi) // 2
        le = sl[np.minimum(mid, last)] <= ql
        lo = np.where(active & le, mid + 1, lo)
        hi = np.where(active & ~le, mid, hi)
        active = lo < hi
    return lo


_G = TypeVar("_G", bound=np.generic)


def _readonly(a: npt.NDArray[_G]) -> npt.NDArray[_G]:
    a.flags.writeable = False
    return a


def _member(arrays: Mapping[str, npt.NDArray[Any]], name: str, dtype: type[np.generic]) -> Any:
    try:
        a = arrays[name]
    except KeyError:
        raise ValueError(f"ASN table: member {name!r} is missing") from None
    if a.ndim != 1 or a.dtype != np.dtype(dtype):
        raise ValueError(f"ASN table: {name!r} must be 1-D {np.dtype(dtype)}, got {a.dtype}")
    return a


@dataclass(frozen=True, slots=True, eq=False)
class AsnTables:
    """The decoded ASN tables (read-only arrays); see the module docstring for the file format.

    Range i of IPv4 is [v4_start[i], v4_end[i]] with AS number pair_asn[v4_pair[i]] and
    organization org(pair_org[v4_pair[i]]); IPv6 likewise with (hi, lo) bounds."""

    v4_start: U32
    v4_end: U32
    v4_pair: U32
    v6_start_hi: U64
    v6_start_lo: U64
    v6_end_hi: U64
    v6_end_lo: U64
    v6_pair: U32
    pair_asn: U32
    pair_org: U32
    org_blob: bytes
    org_offsets: I64  # len(orgs) + 1 offsets into org_blob
    meta: dict[str, Any]

    def org(self, i: int) -> str:
        return self.org_blob[self.org_offsets[i] : self.org_offsets[i + 1]].decode("utf-8")

    def validate(self) -> None:
        """Raise ValueError unless the tables are consistent, sorted and disjoint."""
        n4, n6, npair = len(self.v4_start), len(self.v6_start_hi), len(self.pair_asn)
        norg = len(self.org_offsets) - 1
        if len(self.v4_end) != n4 or len(self.v4_pair) != n4:
            raise ValueError("ASN table: IPv4 columns differ in length")
        if any(len(a) != n6 for a in (self.v6_start_lo, self.v6_end_hi, self.v6_end_lo)):
            raise ValueError("ASN table: IPv6 columns differ in length")
        if len(self.v6_pair) != n6 or len(self.pair_org) != npair or norg < 0:
            raise ValueError("ASN table: pair/organization columns differ in length")
        if self.org_offsets[0] != 0 or self.org_offsets[-1] != len(self.org_blob):
            raise ValueError("ASN table: organization offsets do not cover the blob")
        if np.any(np.diff(self.org_offsets) < 0):
            raise ValueError("ASN table: organization offsets are not ascending")
        if n4 and (
            np.any(self.v4_start > self.v4_end) or np.any(self.v4_start[1:] <= self.v4_end[:-1])
        ):
            raise ValueError("ASN table: IPv4 ranges are not sorted and disjoint")
        sh, sl, eh, el = self.v6_start_hi, self.v6_start_lo, self.v6_end_hi, self.v6_end_lo
        if n6 and (
            not np.all(_lex_le(sh, sl, eh, el)) or np.any(_lex_le(sh[1:], sl[1:], eh[:-1], el[:-1]))
        ):
            raise ValueError("ASN table: IPv6 ranges are not sorted and disjoint")
        for name, idx, bound in (
            ("v4_pair", self.v4_pair, npair),
            ("v6_pair", self.v6_pair, npair),
            ("pair_org", self.pair_org, norg),
        ):
            if len(idx) and int(idx.max()) >= bound:
                raise ValueError(f"ASN table: {name} index out of range")

    # ---- (de)serialization

    def to_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The file members (see the module docstring); raises ValueError on invalid tables."""
        self.validate()
        prev_next = np.zeros(len(self.v4_start), dtype=np.int64)
        prev_next[1:] = self.v4_end[:-1].astype(np.int64) + 1
        lengths = np.diff(self.org_offsets)
        meta = dict(self.meta, format=FORMAT_VERSION)
        return {
            "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8),
            "v4_gap": (self.v4_start.astype(np.int64) - prev_next).astype(np.uint32),
            "v4_span": (self.v4_end - self.v4_start).astype(np.uint32),
            "v4_pair": self.v4_pair.astype(np.uint32),
            "v6_start_hi_delta": np.diff(self.v6_start_hi, prepend=np.uint64(0)).astype(np.uint64),
            "v6_start_lo": self.v6_start_lo.astype(np.uint64),
            "v6_span_hi": (self.v6_end_hi - self.v6_start_hi).astype(np.uint64),
            "v6_end_lo": self.v6_end_lo.astype(np.uint64),
            "v6_pair": self.v6_pair.astype(np.uint32),
            "pair_asn_delta": np.diff(self.pair_asn, prepend=np.uint32(0)).astype(np.uint32),
            "pair_org": self.pair_org.astype(np.uint32),
            "org_blob": np.frombuffer(self.org_blob, dtype=np.uint8),
            "org_len": lengths.astype(np.uint32),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> AsnTables:
        """Decode and validate file members; raises ValueError on anything malformed."""
        try:
            meta = json.loads(bytes(_member(arrays, "meta", np.uint8)).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"ASN table: unreadable meta ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise ValueError(f"ASN table: format {found!r}, expected {FORMAT_VERSION}")

        gap = _member(arrays, "v4_gap", np.uint32).astype(np.int64)
        span = _member(arrays, "v4_span", np.uint32).astype(np.int64)
        if len(gap) != len(span):
            raise ValueError("ASN table: IPv4 columns differ in length")
        end = np.cumsum(gap + span + 1) - 1
        if len(end) and end[-1] > 0xFFFFFFFF:
            raise ValueError("ASN table: IPv4 ranges run past 255.255.255.255")
        start = end - span

        start_hi = np.cumsum(_member(arrays, "v6_start_hi_delta", np.uint64), dtype=np.uint64)
        span_hi = _member(arrays, "v6_span_hi", np.uint64)
        if len(span_hi) != len(start_hi):
            raise ValueError("ASN table: IPv6 columns differ in length")
        lengths = _member(arrays, "org_len", np.uint32).astype(np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])

        tables = cls(
            v4_start=_readonly(start.astype(np.uint32)),
            v4_end=_readonly(end.astype(np.uint32)),
            v4_pair=_readonly(_member(arrays, "v4_pair", np.uint32)),
            v6_start_hi=_readonly(start_hi),
            v6_start_lo=_readonly(_member(arrays, "v6_start_lo", np.uint64)),
            v6_end_hi=_readonly(start_hi + span_hi),
            v6_end_lo=_readonly(_member(arrays, "v6_end_lo", np.uint64)),
            v6_pair=_readonly(_member(arrays, "v6_pair", np.uint32)),
            pair_asn=_readonly(
                np.cumsum(_member(arrays, "pair_asn_delta", np.uint32), dtype=np.uint32)
            ),
            pair_org=_readonly(_member(arrays, "pair_org", np.uint32)),
            org_blob=bytes(_member(arrays, "org_blob", np.uint8)),
            org_offsets=_readonly(offsets),
            meta=meta,
        )
        tables.validate()
        return tables


# --------------------------------------------------------------------------- the index


class GeoIndex:
    """Country and ASN lookups for IP addresses; see the module docstring."""

    __slots__ = ("_orgs", "tables")

    def __init__(self, tables: AsnTables) -> None:
        tables.validate()
        self.tables = tables
        self._orgs: dict[int, tuple[int, str | None]] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> GeoIndex:
        """The index stored at `path`; by default the packaged table, read once per process."""
        if path is None:
            return default_index()
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except FileNotFoundError:
            raise FileNotFoundError(
                f"ASN table not found: {path} (rebuild it with `python -m loaders.geo_build`)"
            ) from None
        return cls(AsnTables.from_arrays(arrays))

    @property
    def source(self) -> str:
        """The data's package and version, e.g. '@ip-location-db/asn@2.3.2026061719'."""
        meta = self.tables.meta
        return f"{meta.get('package', '?')}@{meta.get('version', '?')}"

    # ---- table lookups; a pair index or -1

    def _pair(self, pair: int) -> tuple[int, str | None]:
        found = self._orgs.get(pair)
        if found is None:
            t = self.tables
            org = t.org(int(t.pair_org[pair]))
            found = self._orgs[pair] = (int(t.pair_asn[pair]), org or None)
        return found

    def _pair_v4(self, value: int) -> int:
        t = self.tables
        i = int(np.searchsorted(t.v4_start, np.uint32(value), side="right")) - 1
        return int(t.v4_pair[i]) if i >= 0 and value <= int(t.v4_end[i]) else -1

    def _pair_v6(self, value: int) -> int:
        t = self.tables
        qh, ql = value >> 64, value & _MASK64
        i = int(np.searchsorted(t.v6_start_hi, np.uint64(qh), side="right")) - 1
        while i >= 0 and int(t.v6_start_hi[i]) == qh and int(t.v6_start_lo[i]) > ql:
            i -= 1
        if i < 0 or (qh, ql) > (int(t.v6_end_hi[i]), int(t.v6_end_lo[i])):
            return -1
        return int(t.v6_pair[i])

    def _pairs_v4(self, q: U32) -> I64:
        t = self.tables
        if len(t.v4_start) == 0:
            return np.full(len(q), -1, dtype=np.int64)
        i = np.searchsorted(t.v4_start, q, side="right") - 1
        ic = np.maximum(i, 0)
        ok = (i >= 0) & (q <= t.v4_end[ic])
        return np.where(ok, t.v4_pair[ic].astype(np.int64), np.int64(-1))

    def _pairs_v6(self, qh: U64, ql: U64) -> I64:
        t = self.tables
        if len(t.v6_start_hi) == 0:
            return np.full(len(qh), -1, dtype=np.int64)
        i = _searchsorted_right_128(t.v6_start_hi, t.v6_start_lo, qh, ql) - 1
        ic = np.maximum(i, 0)
        ok = (i >= 0) & _lex_le(qh, ql, t.v6_end_hi[ic], t.v6_end_lo[ic])
        return np.where(ok, t.v6_pair[ic].astype(np.int64), np.int64(-1))

    def _info(self, p: _Parsed, kind: IpKind, pair: int, country: str | None) -> IpInfo:
        asn, aso = self._pair(pair) if pair >= 0 else (None, None)
        return IpInfo(p.text, p.version, kind, country, None, asn, aso)

    # ---- public API

    def lookup(self, ip: str) -> IpInfo:
        """Everything known about `ip`; raises ValueError unless parse_source_ip(ip) accepts it."""
        p = _require(ip)
        kind = _kind(p)
        if kind != "public":
            return IpInfo(p.text, p.version, kind, None, None, None, None)
        pair = self._pair_v4(p.value) if p.version == 4 else self._pair_v6(p.value)
        return self._info(p, kind, pair, iptocc.country_code(p.text))

    def lookup_many(self, ips: Sequence[str]) -> list[IpInfo]:
        """lookup() for many addresses at once (vectorized; repeated addresses are looked up
        once). Raises ValueError naming the first item that is not an IP address."""
        if isinstance(ips, str):
            raise TypeError("lookup_many() takes a sequence of addresses, not one string")
        slot_of: dict[str, int] = {}
        slots: list[int] = []
        addrs: list[_Parsed] = []
        for pos, ip in enumerate(ips):
            slot = slot_of.get(ip)
            if slot is None:
                parsed = _parse(ip)
                if parsed is None:
                    raise ValueError(f"not an IP address: {ip!r} (item {pos})")
                slot = slot_of[ip] = len(addrs)
                addrs.append(parsed)
            slots.append(slot)
        infos = self._lookup_addresses(addrs)
        return [infos[s] for s in slots]

    def _lookup_addresses(self, addrs: Sequence[_Parsed]) -> list[IpInfo]:
        kinds: list[IpKind] = ["public"] * len(addrs)
        pairs: list[int] = [-1] * len(addrs)

        pos4 = [k for k, a in enumerate(addrs) if a.version == 4]
        pos6 = [k for k, a in enumerate(addrs) if a.version == 6]
        if pos4:
            q4 = np.fromiter((addrs[k].value for k in pos4), dtype=np.uint32, count=len(pos4))
            special = _V4_SPECIAL.contains_many(q4)
            for j in np.flatnonzero(special).tolist():
                kinds[pos4[j]] = _classify(_address(addrs[pos4[j]]))
            keep = np.fromiter((kinds[k] == "public" for k in pos4), dtype=bool, count=len(pos4))
            found = self._pairs_v4(q4[keep]).tolist()
            for k, pair in zip(np.asarray(pos4)[keep].tolist(), found, strict=True):
                pairs[k] = pair
        if pos6:
            ints = [addrs[k].value for k in pos6]
            qh = np.fromiter((v >> 64 for v in ints), dtype=np.uint64, count=len(ints))
            ql = np.fromiter((v & _MASK64 for v in ints), dtype=np.uint64, count=len(ints))
            special = _V6_SPECIAL_HI.contains_many(qh)
            for j in np.flatnonzero(special).tolist():
                kinds[pos6[j]] = _classify(_address(addrs[pos6[j]]))
            keep = np.fromiter((kinds[k] == "public" for k in pos6), dtype=bool, count=len(pos6))
            found = self._pairs_v6(qh[keep], ql[keep]).tolist()
            for k, pair in zip(np.asarray(pos6)[keep].tolist(), found, strict=True):
                pairs[k] = pair

        public = [k for k, kind in enumerate(kinds) if kind == "public"]
        countries: list[str | None] = [None] * len(addrs)
        if public:
            codes = iptocc.country_code([addrs[k].text for k in public])
            for k, code in zip(public, codes, strict=True):
                countries[k] = code
        return [self._info(a, kinds[k], pairs[k], countries[k]) for k, a in enumerate(addrs)]


_default: GeoIndex | None = None
_default_lock = threading.Lock()


def default_index() -> GeoIndex:
    """The packaged index (`DATA_PATH`), read on first use and then shared by the process."""
    global _default
    index = _default
    if index is None:
        with _default_lock:
            index = _default
            if index is None:
                index = _default = GeoIndex.load(DATA_PATH)
    return index
