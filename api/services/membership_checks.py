"""Checks shared by the management services: identifiers, who may act, paging, per-graph locks.

Authorization is decided from the graph ARN alone: its account field is the administrator (every
graph is named after its administrator, see loaders.graphs.graph_arn), so a caller learns nothing
about graphs of other accounts, not even whether they exist.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from api.auth import Caller
from api.services.errors import AccessDenied
from api.services.membership_errors import INVALID_GRAPH_ARN, InvalidRequest, TooManyRequests

T = TypeVar("T")

# the patterns of botocore's service model (GraphArn, AccountId, EmailAddress)
GRAPH_ARN = re.compile(
    r"^arn:aws[-\w]{0,10}?:detective:[-\w]{2,20}?:\d{12}?:graph:[abcdef\d]{32}?$"
)
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
EMAIL = re.compile(r"^.+@(?:(?:(?!-)[A-Za-z0-9-]{1,62})?[A-Za-z0-9]{1}\.)+[A-Za-z]{2,63}$")
MAX_EMAIL = 64
DEFAULT_PAGE = 100


def check_graph_arn(arn: str) -> str:
    if not isinstance(arn, str) or not GRAPH_ARN.match(arn):
        raise InvalidRequest(f"Invalid graph ARN: {arn!r}", INVALID_GRAPH_ARN)
    return arn


def arn_account(arn: str) -> str:
    return check_graph_arn(arn).split(":")[4]


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def valid_account(account: str) -> bool:
    return bool(ACCOUNT_ID.match(account))


def valid_email(email: str | None) -> bool:
    return email is not None and 0 < len(email) <= MAX_EMAIL and bool(EMAIL.match(email))


def caller_account(caller: Caller, action: str) -> str:
    """The caller's account; an unauthenticated caller (--no-auth) has none to act as."""
    if caller.account_id is None:
        raise AccessDenied(f"{action} acts as an account: sign the request (SigV4) to call it")
    return caller.account_id


def require_admin(caller: Caller, arn: str) -> None:
    if not caller.administers(arn_account(arn)):
        raise AccessDenied(
            f"account {caller.account_id} is not the administrator of behavior graph {arn}"
        )


# -- per-graph locks ---------------------------------------------------------------------------
# State transitions read a member record and write it back; within one API process these locks
# make them atomic per graph (several API servers on one JanusGraph need a single writer).
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


@contextlib.contextmanager
def graph_lock(arn: str) -> Iterator[None]:
    with _guard:
        lock = _locks.setdefault(arn, threading.Lock())
    with lock:
        yield


# -- request rate --------------------------------------------------------------------------------
class RateLimiter:
    """A token bucket per account: `rate` calls per second, bursts of up to `rate` calls."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, account: str | None) -> None:
        if self.rate <= 0 or account is None:
            return
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.get(account, (self.rate, now))
            tokens = min(self.rate, tokens + (now - when) * self.rate)
            if tokens < 1:
                self._buckets[account] = (tokens, now)
                raise TooManyRequests(f"account {account} is over {self.rate:g} calls per second")
            self._buckets[account] = (tokens - 1, now)


# -- paging ------------------------------------------------------------------------------------
def encode_token(after: str, issued: float | None = None) -> str:
    body = {"after": after} if issued is None else {"after": after, "issued": int(issued)}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def decode_token(token: str, *, max_age: float | None = None, now: float = 0.0) -> str:
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = body["after"]
        if not isinstance(after, str):
            raise TypeError
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidRequest("NextToken is not a token this API issued") from None
    if max_age is not None and now - body.get("issued", 0) > max_age:
        raise InvalidRequest("NextToken has expired (tokens are valid for 24 hours)")
    return after


def page(
    items: Sequence[T],
    key: Callable[[T], str],
    *,
    token: str | None,
    max_results: int | None,
    limit: int = 200,
    max_age: float | None = None,
    now: float = 0.0,
) -> tuple[list[T], str | None]:
    """One page of `items` (sorted by `key`) after the token's key; the next token or None.
    Keys rather than offsets: a page stays right when items are added or removed meanwhile."""
    size = DEFAULT_PAGE if max_results is None else max_results
    if not 1 <= size <= limit:
        raise InvalidRequest(f"MaxResults must be between 1 and {limit}, not {size}")
    after = decode_token(token, max_age=max_age, now=now) if token else None
    rest = [i for i in items if after is None or key(i) > after]
    chunk = rest[:size]
    more = len(rest) > size
    issued = now if max_age is not None else None
    return chunk, encode_token(key(chunk[-1]), issued) if more else None
