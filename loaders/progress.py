"""Terminal progress and the human-readable load summary (rich; silent when not a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from loaders.report import LoadReport
from loaders.sources import SourceObject

ProgressFn = Callable[[SourceObject, LoadReport], None]


@contextmanager
def progress_bar(*, enabled: bool, console: Console) -> Iterator[ProgressFn | None]:
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("loading")

        def update(obj: SourceObject, r: LoadReport) -> None:
            mb = r.bytes_read / 1e6
            bar.update(
                task,
                description=f"{r.files} files, {r.loaded:,} events, {mb:,.1f} MB, "
                f"{r.failed_files} failed — {obj.name}",
            )

        yield update


def print_summary(r: LoadReport, console: Console) -> None:
    rate = f" ({r.loaded / r.seconds:,.0f} events/s)" if r.seconds and r.loaded else ""
    console.print(f"graph {r.graph}  store {r.store}")
    console.print(
        f"files: {r.files} seen, {r.loaded_files} loaded, {r.partial_files} partly loaded, "
        f"{r.already_loaded} already loaded, {r.skipped_files} skipped, {r.failed_files} failed"
    )
    console.print(
        f"records: {r.records:,} read, {r.loaded:,} loaded, {r.skipped:,} skipped, "
        f"{r.record_errors:,} rejected in {r.seconds:.1f}s{rate}"
    )
    if r.finding_groups is not None:
        fg = r.finding_groups
        console.print(f"finding groups: {fg['active']} active, {fg['changed']} created or updated")
    for reason, n in sorted(r.skipped_reasons.items()):
        console.print(f"  skipped {n} file(s): {reason}")
    for f in r.failed:
        console.print(f"[red]failed[/] {f.source}: {f.reason}")
    for message in r.errors:
        console.print(f"[yellow]rejected[/] {message}")
    if r.record_errors > len(r.errors):
        console.print(f"... and {r.record_errors - len(r.errors)} more rejected records")
