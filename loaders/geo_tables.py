"""The decoded ASN tables (`AsnTables`) behind `loaders.geo`, with their validation and
(de)serialization; the file format is described in `loaders.geo`'s docstring."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

FORMAT_VERSION: Final = 1


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
    """The decoded ASN tables (read-only arrays); see `loaders.geo` for the file format.

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
