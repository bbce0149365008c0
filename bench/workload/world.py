"""The world (population plus engine) and the public entry points: `principals`, `generate`
and `load_truth`.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bench.workload.engine import _Engine
from bench.workload.seasonality import DEFAULT_START, HOUR
from bench.workload.templates import _iso
from bench.workload.truth import Anomaly, GenerateResult, PrincipalTruth
from bench.workload.writer import GZIP_LEVEL, _Writer

TRUTH_FILE: Final = ".truth.json"
MANIFEST_FILE: Final = ".workload.json"


class _World(_Engine):
    """The population, its templates and choice tables; then the event engine (`run`)."""

    def __init__(self, accounts: int, seed: int, t0: int, hours: int) -> None:
        super().__init__(accounts, seed, t0, hours)
        # drawn here, not in _Registry: drawing an account needs the layers above it
        used_ids: set[str] = set()
        for a in range(accounts):
            acct_id = ""
            while not acct_id or acct_id in used_ids:
                acct_id = str(self.r.randrange(10**11, 10**12))
            used_ids.add(acct_id)
            self._account(a, acct_id)
        self._link_auditors()
        self._finish()


# ----------------------------------------------------------------------------- public API


def _hour_start(start: datetime) -> int:
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    ts = int(start.timestamp())
    return ts - ts % HOUR


def principals(
    *, accounts: int, days: int, events: int | None = None, start: datetime = DEFAULT_START,
    seed: int = 0,
) -> list[PrincipalTruth]:  # fmt: skip
    """The population `generate` would use (no events, nothing written)."""
    world = _World(accounts, seed, _hour_start(start), days * 24)
    if events is not None:
        world.scale_to(events)
    return world.truths()


def generate(
    out_dir: Path,
    *,
    accounts: int,
    days: int,
    events: int | None = None,
    start: datetime = DEFAULT_START,
    seed: int = 0,
    anomalies: list[Anomaly] | None = None,
    overwrite: bool = False,
    compresslevel: int = GZIP_LEVEL,
    io_thread: bool = False,
) -> GenerateResult:
    """Write the workload under `out_dir/AWSLogs` and its ground truth to `out_dir/.truth.json`.

    `events` (approximate: session starts and launches come on top, typically +5-8 %) scales
    every principal's rate; None keeps the natural rates (heavy-tailed: median account about 60,
    mean about 110 events per hour). The same arguments always produce the same files;
    `io_thread` compresses and writes files in a second thread (the default uses one).
    """
    out = Path(out_dir)
    logs = out / "AWSLogs"
    if logs.exists() and any(logs.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{logs} is not empty (pass overwrite=True to replace it)")
        shutil.rmtree(logs)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    t0 = _hour_start(start)
    world = _World(accounts, seed, t0, days * 24)
    if events is not None:
        world.scale_to(events)
    world.plan(anomalies or [])
    writer = _Writer(out, seed, compresslevel, [a.id for a in world.accounts], io_thread)
    try:
        world.run(writer)
    finally:
        writer.close()
    result = GenerateResult(
        out_dir=str(out),
        accounts=[a.id for a in world.accounts],
        start=t0,
        end=world.t1,
        seed=seed,
        files=writer.files,
        events=writer.events,
        bytes=writer.bytes,
        raw_bytes=writer.raw,
        principals=world.truths(),
        anomalies=[plan.truth for plan in world.plans],
        params={
            "accounts": accounts,
            "days": days,
            "events": events,
            "start": _iso(t0),
            "seed": seed,
            "anomalies": [asdict(a) for a in anomalies or []],
            "compresslevel": compresslevel,
        },
    )
    result.seconds = round(time.perf_counter() - began, 3)
    (out / TRUTH_FILE).write_text(json.dumps(result.to_json(), separators=(",", ":")))
    summary = {k: v for k, v in result.to_json().items() if k not in ("principals", "anomalies")}
    (out / MANIFEST_FILE).write_text(json.dumps(summary, indent=1))
    return result


def load_truth(out_dir: Path) -> GenerateResult:
    """The ground truth `generate` wrote to `out_dir`."""
    data = json.loads((Path(out_dir) / TRUTH_FILE).read_text())
    return GenerateResult.from_json(data)
