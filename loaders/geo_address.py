"""IP address parsing and classification for `loaders.geo`: strict text parsing to an
integer, and the address kind (public or which special-purpose range), answered by a
vectorizable block test before falling back to the stdlib `ipaddress`."""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

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
