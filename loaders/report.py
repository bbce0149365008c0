"""What a load did, for people (rich summary) and for automation (`--json`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MAX_LISTED_ERRORS = 200


@dataclass(slots=True)
class FileFailure:
    source: str
    reason: str


@dataclass(slots=True)
class LoadReport:
    graph: str | None = None
    store: str = ""
    files: int = 0  # source objects seen
    loaded_files: int = 0  # fully loaded
    partial_files: int = 0  # loaded, some records rejected
    already_loaded: int = 0  # skipped: the ledger has them
    skipped_files: int = 0  # not event logs (digests) or sources this version cannot load
    failed: list[FileFailure] = field(default_factory=list)
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    records: int = 0
    loaded: int = 0
    skipped: int = 0
    record_errors: int = 0
    errors: list[str] = field(default_factory=list)  # the first MAX_LISTED_ERRORS record errors
    bytes_read: int = 0
    seconds: float = 0.0
    # set by whoever regroups findings after the load: {"active": n, "changed": m}
    finding_groups: dict[str, int] | None = None
    # membership: every graph the load wrote into, the records each received, and the records
    # of accounts no target graph takes (counted in `skipped`), per account
    graphs: list[str] = field(default_factory=list)
    graph_records: dict[str, int] = field(default_factory=dict)
    skipped_accounts: dict[str, int] = field(default_factory=dict)

    @property
    def failed_files(self) -> int:
        return len(self.failed)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.record_errors else 0

    def record_error(self, source: str, where: str, message: str) -> None:
        self.record_errors += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(f"{source}: {where}: {message}")

    def skip_file(self, reason: str) -> None:
        self.skipped_files += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not (self.graph_records or self.skipped_accounts):
            # a load into one graph taking every account has nothing to say about membership
            for key in ("graphs", "graph_records", "skipped_accounts"):
                del out[key]
        out["failed_files"] = self.failed_files
        out["events_per_second"] = round(self.loaded / self.seconds) if self.seconds else None
        return out
