"""IP vertices of one flush: an address, its place (country and city) and its ASO, observed
once over their whole span, with one vectorized geolocation lookup for the flush's addresses.
Shared by the CloudTrail, VPC flow and GuardDuty stagers."""

from __future__ import annotations

from graph.batch import DeltaBuffer
from graph.model import ANNOUNCED_BY, ASO, GEO, IP, LOCATED_IN, VertexRef
from loaders.geo import GeoIndex, parse_source_ip


class IpRefs:
    """IP vertices of one flush, enriched with one vectorized geolocation lookup."""

    def __init__(self, geo: GeoIndex, raw_values: set[str]) -> None:
        normalized = {raw: parse_source_ip(raw) for raw in raw_values}
        addresses = sorted({a for a in normalized.values() if a})
        infos = geo.lookup_many(addresses) if addresses else []
        self._info = dict(zip(addresses, infos, strict=True))
        self.refs = {raw: VertexRef(IP, a) for raw, a in normalized.items() if a}
        self._written: set[str] = set()

    def ref(self, raw: str | None) -> VertexRef | None:
        return self.refs.get(raw) if raw else None

    def write_hours(self, out: DeltaBuffer, ip_hours: dict[tuple[str, int], list[int]]) -> None:
        """`relations` of every (address, hour) -> [n, first, last] of a flush, observing each
        address, place and ASO once over its whole span instead of once per hour."""
        spans: dict[str, list[int]] = {}
        for (address, _hour), (_n, first, last) in ip_hours.items():
            span = spans.get(address)
            if span is None:
                spans[address] = [first, last]
            else:
                if first < span[0]:
                    span[0] = first
                if last > span[1]:
                    span[1] = last
        ends = {address: self._observe(out, address, *span) for address, span in spans.items()}
        for (address, _hour), (n, first, last) in ip_hours.items():
            _count(out, ends[address], n, first, last)

    def relations(self, out: DeltaBuffer, address: str, n: int, first: int, last: int) -> None:
        _count(out, self._observe(out, address, first, last), n, first, last)

    def _observe(self, out: DeltaBuffer, address: str, first: int, last: int) -> _Ends:
        """Observe the address, its place and its ASO over [first, last]; returns their refs
        (None: unknown)."""
        info = self._info[address]
        ip = VertexRef(IP, address)
        if address in self._written:
            out.vertex(ip, first, last)
        else:
            self._written.add(address)
            out.vertex(
                ip,
                first,
                last,
                {
                    "version": info.version,
                    "kind": info.kind,
                    "country": info.country,
                    "city": info.city,
                    "asn": info.asn,
                    "aso": info.aso,
                },
            )
        place = aso = None
        if info.country:
            place = VertexRef(GEO, f"{info.country}/{info.city}" if info.city else info.country)
            out.vertex(place, first, last, {"country": info.country, "city": info.city})
        if info.asn is not None:
            aso = VertexRef(ASO, f"AS{info.asn}")
            out.vertex(aso, first, last, {"asn": info.asn, "organization": info.aso})
        return ip, place, aso


_Ends = tuple[VertexRef, VertexRef | None, VertexRef | None]  # an address, its place and ASO


def _count(out: DeltaBuffer, ends: _Ends, n: int, first: int, last: int) -> None:
    """Count the address's LOCATED_IN and ANNOUNCED_BY edges in [first, last]."""
    ip, place, aso = ends
    # (count, not edge: both ends were observed over this span by _observe)
    if place is not None:
        out.count(LOCATED_IN, ip, place, "", first, last, (n,))
    if aso is not None:
        out.count(ANNOUNCED_BY, ip, aso, "", first, last, (n,))
