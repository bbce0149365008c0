"""Types of the native core built from loaders/native (Rust); see loaders/cloudtrail_native.py."""

from collections.abc import Iterable
from typing import Any

_Strings = tuple[str | None, ...]
_Raws = tuple[bytes | None, bytes | None, bytes | None]
_Scan = tuple[
    int,
    int,
    list[tuple[int, _Strings, _Raws]],
    list[tuple[bytes, str | None]],
    list[tuple[int, str | None, bytes, str | None]],
    tuple[int, str | None] | None,
]
_Row = tuple[
    bytes,
    str | None,
    int,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    bool,
    int,
    int,
    int,
]

_Folded = tuple[
    list[tuple[str, str, int, int]],
    list[tuple[int, Any, Any, int, int]],
    list[tuple[int, int, int, str, int, int, dict[int, list[int]]]],
    list[tuple[int, int, int, int, int]],
    list[tuple[int, int, int, int, int]],
]

class Staging:
    def __init__(self, special: Iterable[str]) -> None: ...
    def scan(self, data: bytes, hint: str | None) -> _Scan | None: ...
    def scan_file(
        self, path: str, size: int, sniff: bool, hint: str | None, limit: int
    ) -> tuple[int, str, _Scan] | None: ...
    def commit(self) -> None: ...
    def add(
        self,
        identity: bytes,
        recipient: str | None,
        hour: int,
        source: str | None,
        name: str | None,
        ip: str | None,
        agent: str | None,
        bucket: str | None,
        ok: bool,
        n: int,
        first: int,
        last: int,
    ) -> None: ...
    def discard(self) -> None: ...
    def drain(self) -> list[_Row]: ...
    def __len__(self) -> int: ...
    def fold_keys(self) -> tuple[list[tuple[bytes, str | None]], list[str]]: ...
    def fold(
        self, principal: list[int], rollups: list[list[int]], address: list[int]
    ) -> _Folded: ...

_FlowPlan = int | tuple[int, int, int] | tuple[int, list[int]]
_FlowGroups = tuple[
    bytearray,
    bytearray,
    bytearray,
    bytearray,
    bytearray,
    bytearray,
    bytearray,
    bytearray,
    list[int],
    int,
    int,
    int,
]

class FlowBlock:
    @staticmethod
    def split(text: bytes, width: int, header: bool) -> FlowBlock | None: ...
    def __len__(self) -> int: ...
    @property
    def span(self) -> int: ...
    def distinct(self, columns: list[int]) -> list[bytes]: ...
    def aggregate(
        self,
        keys: list[_FlowPlan],
        status: int | None,
        start: int,
        end: int | None,
        packets: int,
        nbytes: int,
        base: int,
        max_epoch: int,
        max_counter: int,
    ) -> _FlowGroups: ...
