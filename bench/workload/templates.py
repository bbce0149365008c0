"""Record rendering helpers: byte tables for ids, timestamps, UUID rows, and the per-API
record template whose %b slots one `bytes.__mod__` fills per event.
"""

from __future__ import annotations

import time
from typing import Final, NamedTuple

import numpy as np

from bench.workload.api_catalog import Service
from bench.workload.seasonality import HOUR, Arr

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_TABLE: Final = bytes(ord(_B32[i % 32]) for i in range(256))
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
_UPPER_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
_UUID_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_MMSS = np.array([f"{s // 60:02d}:{s % 60:02d}Z".encode() for s in range(HOUR)], dtype=object)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _expiration(ts: int) -> str:
    t = time.gmtime(ts)
    h12 = t.tm_hour % 12 or 12
    ampm = "AM" if t.tm_hour < 12 else "PM"
    return f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday}, {t.tm_year}, {h12}:{t.tm_min:02d}:{t.tm_sec:02d} {ampm}"  # noqa: E501


def _uuid_rows(rng: np.random.Generator, n: int) -> Arr:
    """n random version-4 UUIDs as an (n, 36) array of ASCII bytes."""
    nib = rng.integers(0, 16, size=(n, 32), dtype=np.uint8)
    nib[:, 12] = 4
    nib[:, 16] = 8 | (nib[:, 16] & 3)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_POS] = _HEX[nib]
    return out


def _rows_to_bytes(rows: Arr) -> list[bytes]:
    width = rows.shape[1]
    return list(np.ascontiguousarray(rows).view(f"S{width}").ravel().tolist())


class _Entry(NamedTuple):
    api: str
    fmt: bytes
    resp_ok: bytes
    resp_fail: bytes
    region: int  # fixed region index, or -1: the caller's
    s3: bool  # S3 request ids
    errors: tuple[tuple[str | None, str, int], ...]
    denied: int  # index of the access-denied error
    action: str


def _literal(s: str) -> str:
    return s.replace("%", "%%")


def _entry_format(
    svc: Service,
    name: str,
    params: str,
    read_only: bool,
    *,
    event_type: str = "AwsApiCall",
    data_event: bool = False,
    additional: str = "",
    resources: str = "",
    host: str | None,
) -> bytes:
    """A record template; its %b slots take: userIdentity, hour prefix, MM:SSZ, region, source
    IP, user agent, error fields, responseElements, requestID, eventID, recipient, TLS region."""
    mgmt = "false" if data_event else "true"
    category = "Data" if data_event else "Management"
    ro = "true" if read_only else "false"
    parts = [
        _literal(f'{{"eventVersion":"{svc.version}","userIdentity":'), "%b",
        _literal(',"eventTime":"'), "%b%b",
        _literal(f'","eventSource":"{svc.source}","eventName":"{name}","awsRegion":"'), "%b",
        _literal('","sourceIPAddress":"'), "%b", _literal('","userAgent":"'), "%b",
        _literal('",'), "%b",
        _literal(f'"requestParameters":{params},"responseElements":'), "%b",
        _literal("," + additional + '"requestID":"'), "%b",
        _literal('","eventID":"'), "%b",
        _literal(
            f'","readOnly":{ro},{resources}"eventType":"{event_type}","managementEvent":{mgmt},'
            '"recipientAccountId":"'
        ), "%b",
        _literal(f'","eventCategory":"{category}"'),
    ]  # fmt: skip
    if host is None:
        parts.append("%.0b")
    else:
        pre, sep, post = host.partition("{r}")
        tls = ',"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256",'
        parts.append(_literal(tls + '"clientProvidedHostHeader":"' + pre))
        parts.append("%b" if sep else "%.0b")
        parts.append(_literal(post + '"}'))
    parts.append("}")
    return "".join(parts).encode()
