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

Address parsing and kinds live in `loaders.geo_address`, the decoded tables (`AsnTables`) in
`loaders.geo_tables`; this module holds the index and re-exports both.

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

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import iptocc
import numpy as np

from loaders.geo_address import (
    _MASK64,
    _V4_SPECIAL,
    _V6_SPECIAL_HI,
    IpKind,
    _address,
    _classify,
    _kind,
    _parse,
    _Parsed,
    _require,
    address_kind,
    parse_source_ip,
)
from loaders.geo_address import _format_v6 as _format_v6  # re-exported: tests import it from here
from loaders.geo_tables import FORMAT_VERSION as FORMAT_VERSION  # re-exported: public name
from loaders.geo_tables import (
    I64,
    U32,
    U64,
    AsnTables,
    _lex_le,
    _searchsorted_right_128,
)

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

DATA_PATH: Final = Path(__file__).resolve().parent / "data" / "asn.npz"
ATTRIBUTION: Final = (
    "IP to ASN data: @ip-location-db/asn, from RouteViews, DB-IP (https://db-ip.com) and NRO, "
    "licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). "
    "Country data: iptocc (Regional Internet Registries)."
)


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
