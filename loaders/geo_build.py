"""Build the packaged ASN table `loaders/data/asn.npz` from the npm package @ip-location-db/asn.

    python -m loaders.geo_build --tarball ip-location-db-asn-2.3.2026061719.tgz
    python -m loaders.geo_build                      # runs `npm pack` for PACKAGE_SPEC itself

The package holds `asn-ipv4-num.csv` and `asn-ipv6-num.csv`: rows of
`range_start,range_end,as_number,as_organization` with inclusive numeric bounds, sorted by
start. The build

- strips surrounding whitespace from organization names (the source cuts long names at 80
  characters, often leaving a trailing blank);
- makes the ranges disjoint where they overlap: the range that starts later wins the overlap
  (what a "last start <= address" search answers anyway), and the earlier range keeps any part
  after it;
- merges adjacent ranges with the same AS number and organization;
- stores each range's (AS number, organization) as an index into a table of distinct pairs,
  and the organizations as one UTF-8 blob (format: see loaders/geo.py);
- writes a reproducible file (fixed zip timestamps, deflate level 9), then reloads it and checks
  it against the CSV rows.

Only the maintainer runs this, to refresh the data; the project never downloads at run time.
Update PACKAGE_SPEC and loaders/data/NOTICE-asn.md together.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import heapq
import io
import ipaddress
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from loaders.geo import DATA_PATH, AsnTables, GeoIndex

PACKAGE = "@ip-location-db/asn"
VERSION = "2.3.2026061719"
PACKAGE_SPEC = f"{PACKAGE}@{VERSION}"
LICENCE = "CC-BY-4.0"
SOURCES = (
    "RouteViews (https://www.routeviews.org/)",
    "DB-IP IP to ASN Lite (https://db-ip.com)",
    "NRO extended delegation statistics (https://www.nro.net/)",
)
CSV_V4 = "package/asn-ipv4-num.csv"
CSV_V6 = "package/asn-ipv6-num.csv"

Row = tuple[int, int, int, str]  # start, end (inclusive), AS number, organization
_MASK64 = (1 << 64) - 1


def read_rows(lines: Iterable[str], bits: int, name: str = "csv") -> list[Row]:
    """Parse `start,end,asn,organization` rows; raises ValueError on a malformed row."""
    top = (1 << bits) - 1
    rows: list[Row] = []
    for lineno, rec in enumerate(csv.reader(lines), start=1):
        if not rec:
            continue
        if len(rec) != 4:
            raise ValueError(f"{name}:{lineno}: expected 4 columns, got {len(rec)}: {rec!r}")
        try:
            start, end, asn = int(rec[0]), int(rec[1]), int(rec[2])
        except ValueError:
            raise ValueError(f"{name}:{lineno}: non-numeric field in {rec!r}") from None
        if not 0 <= start <= end <= top:
            raise ValueError(f"{name}:{lineno}: bad range {start}..{end} for IPv{bits // 32}")
        if not 0 <= asn <= 0xFFFFFFFF:
            raise ValueError(f"{name}:{lineno}: AS number {asn} out of range")
        rows.append((start, end, asn, rec[3].strip()))
    return rows


def flatten(rows: Iterable[Row]) -> tuple[list[Row], int]:
    """Disjoint, sorted ranges covering the same addresses; where ranges overlap, the one that
    starts later wins (for equal starts, the shorter one). Adjacent ranges with equal values are
    merged. Returns the ranges and the number of input ranges that overlapped another."""
    ordered = sorted(rows, key=lambda r: (r[0], -r[1]))
    out: list[Row] = []
    overlaps = 0

    def emit(start: int, end: int, asn: int, org: str) -> None:
        if out and out[-1][1] + 1 == start and out[-1][2:] == (asn, org):
            out[-1] = (out[-1][0], end, asn, org)
        else:
            out.append((start, end, asn, org))

    # Open ranges as a max-heap on start (-start, -seq): the top is the latest-starting one.
    heap: list[tuple[int, int, int, int, str]] = []
    pos = 0  # first address not yet emitted

    def drain(limit: int) -> None:
        """Emit open ranges up to and including `limit` (exclusive of later starts)."""
        nonlocal pos
        while heap and pos <= limit:
            _, _, end, asn, org = heap[0]
            if end < pos:
                heapq.heappop(heap)
                continue
            seg_end = min(end, limit)
            emit(pos, seg_end, asn, org)
            pos = seg_end + 1
            if end <= seg_end:
                heapq.heappop(heap)

    for seq, (start, end, asn, org) in enumerate(ordered):
        drain(start - 1)
        if heap and any(e >= start for _, _, e, _, _ in heap):
            overlaps += 1
        pos = max(pos, start)
        heapq.heappush(heap, (-start, -seq, end, asn, org))
    drain(1 << 128)
    return out, overlaps


def build_tables(v4: Sequence[Row], v6: Sequence[Row], meta: Mapping[str, Any]) -> AsnTables:
    """The decoded tables for disjoint sorted rows (see flatten())."""
    pairs = sorted({(r[2], r[3]) for r in (*v4, *v6)})
    pair_index = {p: i for i, p in enumerate(pairs)}
    orgs = sorted({org for _, org in pairs})
    org_index = {o: i for i, o in enumerate(orgs)}
    encoded = [o.encode("utf-8") for o in orgs]
    offsets = np.zeros(len(orgs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])

    def col(values: Iterable[int], dtype: type[np.unsignedinteger[Any]]) -> npt.NDArray[Any]:
        return np.fromiter(values, dtype=dtype)

    tables = AsnTables(
        v4_start=col((r[0] for r in v4), np.uint32),
        v4_end=col((r[1] for r in v4), np.uint32),
        v4_pair=col((pair_index[r[2], r[3]] for r in v4), np.uint32),
        v6_start_hi=col((r[0] >> 64 for r in v6), np.uint64),
        v6_start_lo=col((r[0] & _MASK64 for r in v6), np.uint64),
        v6_end_hi=col((r[1] >> 64 for r in v6), np.uint64),
        v6_end_lo=col((r[1] & _MASK64 for r in v6), np.uint64),
        v6_pair=col((pair_index[r[2], r[3]] for r in v6), np.uint32),
        pair_asn=col((p[0] for p in pairs), np.uint32),
        pair_org=col((org_index[p[1]] for p in pairs), np.uint32),
        org_blob=b"".join(encoded),
        org_offsets=offsets,
        meta=dict(meta),
    )
    tables.validate()
    return tables


def write_npz(arrays: Mapping[str, npt.NDArray[Any]], out: Path) -> None:
    """np.savez_compressed, but byte-for-byte reproducible (fixed timestamps, sorted members)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    tmp.replace(out)


def npm_pack(spec: str, dest: Path) -> Path:
    """Download the package tarball with `npm pack` into `dest`."""
    done = subprocess.run(
        ["npm", "pack", spec, "--json"], cwd=dest, check=True, capture_output=True, text=True
    )
    filename = json.loads(done.stdout)[0]["filename"]
    # npm names scoped tarballs "scope-name-version.tgz" (older npm versions: "@scope/...").
    path = dest / str(filename).lstrip("@").replace("/", "-")
    if not path.exists():
        matches = sorted(dest.glob("*.tgz"))
        if len(matches) != 1:
            raise RuntimeError(f"npm pack {spec}: cannot find the tarball in {dest}")
        path = matches[0]
    return path


def read_tarball(path: Path) -> tuple[list[Row], list[Row], dict[str, Any]]:
    """The IPv4 and IPv6 rows and package.json of an @ip-location-db/asn tarball."""
    with tarfile.open(path, "r:gz") as tar:

        def text(member: str) -> io.TextIOWrapper:
            f = tar.extractfile(member)
            if f is None:
                raise ValueError(f"{path}: {member} is not a file")
            return io.TextIOWrapper(f, encoding="utf-8", newline="")

        package = json.load(text("package/package.json"))
        v4 = read_rows(text(CSV_V4), 32, CSV_V4)
        v6 = read_rows(text(CSV_V6), 128, CSV_V6)
    return v4, v6, package


def check(index: GeoIndex, v4: Sequence[Row], v6: Sequence[Row], step: int = 1) -> None:
    """Assert that the index answers every step-th flattened row at its bounds."""
    for rows, version in ((v4, 4), (v6, 6)):
        for start, end, asn, org in rows[::step]:
            for value in (start, end):
                addr = ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value)
                pair = index._pair_v4(value) if version == 4 else index._pair_v6(value)
                got = index._pair(pair) if pair >= 0 else None
                if got != (asn, org or None):
                    raise AssertionError(f"{addr}: index says {got}, data says {(asn, org)}")


def build(tarball: Path, out: Path) -> dict[str, Any]:
    """Convert `tarball` into `out`; returns statistics."""
    t0 = time.perf_counter()
    v4_raw, v6_raw, package = read_tarball(tarball)
    v4, v4_overlaps = flatten(v4_raw)
    v6, v6_overlaps = flatten(v6_raw)
    meta = {
        "package": package.get("name", PACKAGE),
        "version": package.get("version", "?"),
        "licence": LICENCE,
        "sources": list(SOURCES),
    }
    tables = build_tables(v4, v6, meta)
    write_npz(tables.to_arrays(), out)
    index = GeoIndex.load(out)
    for field in dataclasses.fields(AsnTables):
        ours, theirs = getattr(tables, field.name), getattr(index.tables, field.name)
        same = np.array_equal(ours, theirs) if isinstance(ours, np.ndarray) else ours == theirs
        if field.name != "meta" and not same:
            raise AssertionError(f"{out}: {field.name} does not round-trip")
    check(index, v4, v6)
    asns = {r[2] for r in (*v4, *v6)}
    return {
        "package": f"{meta['package']}@{meta['version']}",
        "ipv4_rows": len(v4_raw),
        "ipv4_ranges": len(v4),
        "ipv4_overlapping_rows": v4_overlaps,
        "ipv6_rows": len(v6_raw),
        "ipv6_ranges": len(v6),
        "ipv6_overlapping_rows": v6_overlaps,
        "asns": len(asns),
        "asn_org_pairs": len(tables.pair_asn),
        "organizations": len(tables.org_offsets) - 1,
        "bytes": out.stat().st_size,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loaders.geo_build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tarball", type=Path, help="npm tarball (default: run `npm pack`)")
    parser.add_argument(
        "--package", default=PACKAGE_SPEC, help=f"npm spec (default {PACKAGE_SPEC})"
    )
    parser.add_argument("--out", type=Path, default=DATA_PATH, help=f"output (default {DATA_PATH})")
    args = parser.parse_args(argv)
    if args.tarball is not None:
        stats = build(args.tarball, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            stats = build(npm_pack(args.package, Path(tmp)), args.out)
    for key, value in stats.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
