"""Retention: behavior data older than GUMSHOE_RETENTION_DAYS (365, Detective's year of history)
is removed on a rolling basis — by `gumshoe retention` on demand, and by `gumshoe serve` every
GUMSHOE_RETENTION_INTERVAL seconds, which also applies organization auto-enable to accounts added
to GUMSHOE_ORG_ACCOUNTS since the last run.

Age is measured back from a graph's newest data (or from now, if that is earlier): a live graph
keeps its last year, and logs loaded for a past incident are not expired the moment they land.
The cutoff is an hour start: whole hours go, so every counter of a remaining hour is intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool

from api.services.membership import enroll_organization
from api.services.membership_settings import MembershipSettings
from graph.membership import DAY, Expired
from graph.model import hour_of
from graph.store import GraphNotFound, GraphStore, StoreError

log = logging.getLogger("gumshoe.retention")


def cutoff(*, now: float, days: int) -> int:
    """The first hour kept (the one `days` days ago): every hour before it ended longer ago."""
    return hour_of(int(now) - days * DAY)


def run_retention(*, store: GraphStore, days: int, now: float) -> dict[str, Expired]:
    """Expire every graph's data older than `days` days before its newest data (at most now);
    what was removed, per graph."""
    out: dict[str, Expired] = {}
    for g in store.list_graphs():
        with contextlib.suppress(GraphNotFound):  # deleted meanwhile
            newest = store.newest(g.arn)
            if newest is None:
                continue
            before = cutoff(now=min(now, newest), days=days)
            out[g.arn] = store.expire(g.arn, before)
    return out


def scheduled_run(*, store: GraphStore, settings: MembershipSettings, now: float) -> None:
    """One tick of the serving schedule: retention, then organization auto-enable."""
    removed = run_retention(store=store, days=settings.retention_days, now=now)
    for arn, expired in removed.items():
        if expired.hours or expired.vertices:
            log.info(
                "retention %s: %d hours, %d edges, %d vertices, %d volume days removed",
                arn,
                expired.hours,
                expired.edges,
                expired.vertices,
                expired.volume,
            )
    for g in store.list_graphs():
        if g.props.get("organization") and g.props.get("auto_enable"):
            with contextlib.suppress(GraphNotFound):
                enroll_organization(store=store, graph=g.arn, settings=settings, now=int(now))


@contextlib.asynccontextmanager
async def retention_schedule(
    store: Callable[[], GraphStore],
    settings: MembershipSettings,
    clock: Callable[[], float],
) -> AsyncIterator[None]:
    """Run `scheduled_run` at startup and then every `settings.retention_interval` seconds
    while the app serves (0: never)."""
    if settings.retention_interval <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            try:
                await run_in_threadpool(
                    scheduled_run, store=store(), settings=settings, now=clock()
                )
            except StoreError as e:
                log.error("retention: store unavailable, retrying at the next run: %s", e)
            except Exception:
                log.exception("retention run failed")
            await asyncio.sleep(settings.retention_interval)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
