"""The file writer: gzip files in CloudTrail's S3 key layout, optionally from a second thread."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from isal import igzip

from bench.workload.population_tables import REGIONS
from bench.workload.seasonality import HOUR, WINDOW
from bench.workload.templates import _ALNUM, _rows_to_bytes

GZIP_LEVEL: Final = 1
SMALL_BODY: Final = 32 << 10  # smaller bodies: level 0 (isal's level >= 1 costs ~18 us a call)


class _Writer:
    """Gzip files in CloudTrail's S3 key layout under `root`."""

    def __init__(
        self, root: Path, seed: int, level: int, accounts: Sequence[str], thread: bool = False
    ) -> None:
        self.root = str(root)
        self.level = level
        self.accounts = list(accounts)
        self.rng = np.random.default_rng([seed, 6])
        self.heads: dict[tuple[int, int, int], bytes] = {}
        self.files = 0
        self.bytes = 0
        self.raw = 0
        self.events = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[tuple[int, list[int], Sequence[bytes], list[int]] | None] | None
        self._queue = None
        if thread:
            self._queue = queue.Queue(maxsize=2)
            self._thread = threading.Thread(target=self._drain, name="workload-io", daemon=True)
            self._thread.start()

    def submit(self, hour: int, keys: list[int], records: Sequence[bytes], cuts: list[int]) -> None:
        if self._queue is None:
            self.write_many(hour, keys, records, cuts)
            return
        if self._error is not None:
            raise self._error
        self._queue.put((hour, keys, records, cuts))

    def _drain(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.write_many(*item)
                except BaseException as e:  # re-raised by submit() or close()
                    self._error = e

    def close(self) -> None:
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = None
        if self._error is not None:
            raise self._error

    def _head(self, account: int, region: int, day: int) -> bytes:
        """`<folder>/<account>_CloudTrail_<region>_` for one account, region and UTC day."""
        t = time.gmtime(day * 86400)
        acct, rname = self.accounts[account], REGIONS[region].name
        folder = (
            f"{self.root}/AWSLogs/{acct}/CloudTrail/{rname}/"
            f"{t.tm_year:04d}/{t.tm_mon:02d}/{t.tm_mday:02d}"
        )
        os.makedirs(folder, exist_ok=True)
        head = self.heads[(account, region, day)] = f"{folder}/{acct}_CloudTrail_{rname}_".encode()
        return head

    def write_many(
        self,
        hour: int,
        keys: list[int],
        records: Sequence[bytes],
        cuts: list[int],
    ) -> None:
        """One file per run of equal keys ((account * regions + region) * 12 + window)."""
        per_hour = HOUR // WINDOW
        suffixes = _rows_to_bytes(_ALNUM[self.rng.integers(0, 62, size=(len(keys), 16))])
        stamps: dict[int, tuple[int, bytes]] = {}
        lo = 0
        for key, hi, suffix in zip(keys, cuts, suffixes, strict=True):
            window = key % per_hour
            acct_region = key // per_hour
            stamp = stamps.get(window)
            if stamp is None:
                end = hour + (window + 1) * WINDOW
                stamp = stamps[window] = (
                    end // 86400,
                    time.strftime("%Y%m%dT%H%MZ_", time.gmtime(end)).encode(),
                )
            ck = (acct_region // len(REGIONS), acct_region % len(REGIONS), stamp[0])
            head = self.heads.get(ck) or self._head(*ck)
            chunk = records[lo:hi]
            body = b'{"Records":[' + b",".join(chunk) + b"]}"
            level = 0 if len(body) < SMALL_BODY else self.level
            data = igzip.compress(body, compresslevel=level, mtime=0)
            fd = os.open(
                head + stamp[1] + suffix + b".json.gz", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
            )
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            self.files += 1
            self.bytes += len(data)
            self.raw += len(body)
            self.events += hi - lo
            lo = hi
