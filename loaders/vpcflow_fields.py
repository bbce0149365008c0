"""VPC flow fields: validation and decoding of the fields a record's graph identity comes from.

The per-record loop (loaders/vpcflow_graph.py) cuts each record into a raw tuple of `bytes` and
only decodes a tuple the first time it sees it; decoding is table lookups (ports, protocols) and
caches (addresses), because one-off flows (scans, short clients with fresh ephemeral ports)
make a good share of raw tuples new. Every decoded tuple is kept, per format, across the files
of a load: interfaces and peers recur from one 5-minute file to the next.

The columnar path (loaders/vpcflow_columns.py) decodes each distinct raw value of a column once
instead, with the same decoders, and numbers the decoded values (`Vocab`) so that grouping and
direction inference run on integer arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loaders.geo import parse_source_ip

# the fields a record's graph identity comes from, in `FlowKey` order
KEY_FIELDS = (
    "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action",
    "account-id", "instance-id", "vpc-id", "subnet-id", "region", "flow-direction",
)  # fmt: skip
_CACHE_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class FlowKey:
    """The validated, decoded identity of a distinct raw tuple (None: no value)."""

    eni: str
    src: str
    dst: str
    sport: str  # "-" when absent, as it goes into the qualifier
    dport: str
    proto: str
    action: str
    account: str | None
    instance: str | None
    vpc: str | None
    subnet: str | None
    region: str | None
    direction: str | None  # ingress | egress; None: to infer from the interface's address


_PORTS = {str(i).encode(): str(i) for i in range(65536)}
_PROTOCOLS = {str(i).encode(): str(i) for i in range(256)}
_ACTIONS = {b"ACCEPT": "ACCEPT", b"REJECT": "REJECT"}
_DIRECTIONS = {b"ingress": "ingress", b"egress": "egress"}
_ADDRESSES: dict[bytes, str | None] = {}


def _address(raw: bytes) -> str | None:
    address = _ADDRESSES.get(raw, "")
    if address == "":
        if len(_ADDRESSES) > _CACHE_LIMIT:
            _ADDRESSES.clear()
        address = _ADDRESSES[raw] = parse_source_ip(raw.decode("ascii", "replace"))
    return address


def _prefixed(prefix: bytes) -> Callable[[bytes], str | None]:
    def decode(raw: bytes) -> str | None:
        return raw.decode() if raw.startswith(prefix) and raw.isascii() else None

    return decode


def _account(raw: bytes) -> str | None:
    if raw == b"unknown":
        return ""  # AWS's own "no account": a value, not an error
    return raw.decode() if len(raw) == 12 and raw.isdigit() else None


def _ascii(raw: bytes) -> str | None:
    return raw.decode() if raw.isascii() else None


# field -> (decode: raw bytes -> value or None when malformed, what a malformed value is not)
_DECODERS: dict[str, tuple[Callable[[bytes], str | None], str]] = {
    "interface-id": (_prefixed(b"eni-"), "not a network interface id"),
    "srcaddr": (_address, "not an IP address"),
    "dstaddr": (_address, "not an IP address"),
    "srcport": (_PORTS.get, "not a port number"),
    "dstport": (_PORTS.get, "not a port number"),
    "protocol": (_PROTOCOLS.get, "not a protocol number"),
    "action": (_ACTIONS.get, "not ACCEPT or REJECT"),
    "account-id": (_account, "not an account id"),
    "instance-id": (_prefixed(b"i-"), "not an instance id"),
    "vpc-id": (_ascii, "not ASCII text"),
    "subnet-id": (_ascii, "not ASCII text"),
    "region": (_ascii, "not ASCII text"),
    "flow-direction": (_DIRECTIONS.get, "not ingress or egress"),
}
_REQUIRED = frozenset({"interface-id", "srcaddr", "dstaddr"})


def decode(names: list[str], raw: tuple[bytes, ...], region: str | None) -> FlowKey | str:
    """The key of a raw tuple of `names`; the error message when a field is malformed.
    `region` is the fallback of a format without the region field."""
    values: dict[str, str | None] = {}
    for name, value in zip(names, raw, strict=True):
        if value == b"-":
            if name in _REQUIRED:
                return f"field {name}: missing: '-'"
            continue
        conv, what = _DECODERS[name]
        decoded = conv(value)
        if decoded is None:
            return problem(name, what, value)
        values[name] = decoded or None
    get = values.get
    return FlowKey(
        get("interface-id") or "",
        get("srcaddr") or "",
        get("dstaddr") or "",
        get("srcport") or "-",
        get("dstport") or "-",
        get("protocol") or "-",
        get("action") or "-",
        get("account-id"),
        get("instance-id"),
        get("vpc-id"),
        get("subnet-id"),
        get("region") or region,
        get("flow-direction"),
    )


def problem(name: str, what: str, raw: bytes) -> str:
    return f"field {name}: {what}: {raw.decode('utf-8', 'replace')!r}"


# One record's counters cover at most a few minutes of one interface: 2^50 bytes (a petabyte)
# is far beyond any real one, and keeps hourly sums of thousands of records inside int64, which
# the stores' integer columns hold. Times end at 9999-12-31, the last instant dates can show.
MAX_COUNTER = (1 << 50) - 1
MAX_EPOCH = 253_402_300_799


def number_problem(fields: tuple[tuple[str, int], ...], f: list[bytes]) -> str:
    """Why a record's times or counters were rejected (the hot loop only knows that they were).
    `fields`: (name, position) of start, end, packets, bytes."""
    for name, pos in fields:
        if not f[pos].isdigit():
            what = "not epoch seconds" if name in ("start", "end") else "not a count"
            return problem(name, what, f[pos])
    for name, pos in fields:
        if name in ("start", "end") and int(f[pos]) > MAX_EPOCH:
            return problem(name, f"after 9999-12-31 (more than {MAX_EPOCH})", f[pos])
        if name not in ("start", "end") and int(f[pos]) > MAX_COUNTER:
            return problem(name, f"out of range (more than {MAX_COUNTER})", f[pos])
    return problem("end", "before start", f[fields[1][1]])


_KEYS: dict[tuple[tuple[str, ...], str | None], dict[tuple[bytes, ...], FlowKey | str]] = {}


def key_cache(names: tuple[str, ...], region: str | None) -> dict[tuple[bytes, ...], FlowKey | str]:
    """The decoded keys of a format (and fallback region), shared across files."""
    cache = _KEYS.get((names, region))
    if cache is None:
        cache = _KEYS[(names, region)] = {}
    elif len(cache) > _CACHE_LIMIT:
        cache.clear()
    return cache


# ---- vocabularies of the columnar path ----------------------------------------------------------

BAD = -1  # the id of a malformed raw value: its record goes to the per-record path
Value = str | None
I64 = npt.NDArray[np.int64]


class Vocab:
    """Ids of a field's decoded values (`values[id]`), and of the raw values decoded so far.

    Shared by the files of a load, like the key caches, and bounded the same way, but only
    between files (`checkpoint`): ids must stay valid while a file is staged. The decoded
    values are those of `decode` above; a field whose values are numbers (ports, protocols)
    or a closed set (action, direction) has them all in `fixed`, so its ids never change."""

    __slots__ = ("absent", "conv", "fixed", "ids", "raw", "required", "values")

    def __init__(self, field: str, absent: Value, fixed: list[Value]) -> None:
        self.conv = _DECODERS[field][0]
        self.required = field in _REQUIRED
        self.absent = absent  # the value of b"-" ("-" in qualifiers, else None)
        self.fixed = fixed
        self.values: list[Value] = []
        self.ids: dict[Value, int] = {}
        self.raw: dict[bytes, int] = {}
        self.reset()

    def reset(self) -> None:
        self.values = list(self.fixed)
        self.ids = {v: i for i, v in enumerate(self.values)}
        self.raw = {}

    def id(self, value: Value) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.values)
            self.values.append(value)
        return found

    def of_raws(self, raws: list[bytes]) -> I64:
        """The ids of distinct raw values (BAD for malformed ones)."""
        known = self.raw
        ids = list(map(known.get, raws))
        if None in ids:
            for i, raw in enumerate(raws):
                if ids[i] is None:
                    ids[i] = known[raw] = self._decode(raw)
        return np.array(ids, dtype=np.int64)

    def _decode(self, raw: bytes) -> int:
        if raw == b"-":
            return BAD if self.required else self.id(self.absent)
        value = self.conv(raw)
        if value is None:
            return BAD
        return self.id(value or None)  # "" (AWS's "unknown" account) is no value


_NO_VALUE: list[Value] = [None]
_addresses = Vocab("srcaddr", None, [])
_ports = Vocab("srcport", "-", [*_PORTS.values(), "-"])
# the vocabulary of each of KEY_FIELDS (source and destination share theirs); ports and
# protocols are their own ids, "-" the next one
VOCABS: dict[str, Vocab] = {
    "interface-id": Vocab("interface-id", None, []),
    "srcaddr": _addresses,
    "dstaddr": _addresses,
    "srcport": _ports,
    "dstport": _ports,
    "protocol": Vocab("protocol", "-", [*_PROTOCOLS.values(), "-"]),
    "action": Vocab("action", "-", ["ACCEPT", "REJECT", "-"]),
    "account-id": Vocab("account-id", None, _NO_VALUE),
    "instance-id": Vocab("instance-id", None, _NO_VALUE),
    "vpc-id": Vocab("vpc-id", None, _NO_VALUE),
    "subnet-id": Vocab("subnet-id", None, _NO_VALUE),
    "region": Vocab("region", None, _NO_VALUE),
    "flow-direction": Vocab("flow-direction", None, [None, "ingress", "egress"]),
}
PORT_ABSENT, PROTOCOL_ABSENT = _ports.id("-"), VOCABS["protocol"].id("-")
ACCEPT, REJECT, NO_ACTION = 0, 1, 2
INFERRED, INGRESS, EGRESS = 0, 1, 2


def checkpoint() -> None:
    """Between files: start the vocabularies again when they have grown too large."""
    for vocab in set(VOCABS.values()):
        if len(vocab.values) + len(vocab.raw) > _CACHE_LIMIT:
            vocab.reset()


def key_ids(k: FlowKey) -> list[int]:
    """The ids of a decoded key, in KEY_FIELDS order (records of the per-record path)."""
    v = VOCABS
    return [
        v["interface-id"].id(k.eni),
        _addresses.id(k.src),
        _addresses.id(k.dst),
        _ports.id(k.sport),
        _ports.id(k.dport),
        v["protocol"].id(k.proto),
        v["action"].id(k.action),
        v["account-id"].id(k.account),
        v["instance-id"].id(k.instance),
        v["vpc-id"].id(k.vpc),
        v["subnet-id"].id(k.subnet),
        v["region"].id(k.region),
        v["flow-direction"].id(k.direction),
    ]
