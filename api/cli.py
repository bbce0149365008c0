"""The `gumshoe` command: load sources into a store, export a graph, serve the API.

Exit codes: 0 everything worked; 1 some input failed (the report says which); 2 usage errors
(bad options, unknown store, ambiguous graph); 3 the store is unreachable.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from graph.export import write_jsonl
from graph.open import open_store
from graph.store import GraphNotFound, GraphStore, StoreUnavailable
from loaders import DEFAULT_BATCH_EVENTS
from loaders.report import LoadReport

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="gumshoe: a self-hosted behavior graph for AWS security investigations.",
)
err = Console(stderr=True)
SOURCES = ("cloudtrail", "vpcflow", "guardduty")

StoreOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional at runtime on 3.11
    typer.Option(
        "--store",
        help="sqlite:///path/file.db or janusgraph://host:port (default: $GUMSHOE_STORE, "
        "else a file in the user data directory)",
    ),
]
GraphOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--graph", help="behavior graph ARN (default: the store's only graph)"),
]


def _store(uri: str | None) -> GraphStore:
    try:
        return open_store(uri)
    except ValueError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    except StoreUnavailable as e:
        err.print(f"[red]error:[/] store unreachable: {e}")
        raise typer.Exit(3) from None


@app.command()
def load(
    paths: Annotated[list[str], typer.Argument(help="files, directories or s3://bucket/prefix")],
    store: StoreOpt = None,
    graph: GraphOpt = None,
    admin_account: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="administrator account of a new graph (default: first record's)"),
    ] = None,
    source: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="force the source type instead of detecting it: cloudtrail, vpcflow, guardduty"
        ),
    ] = None,
    flow_format: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="VPC flow log fields, space separated, for files without a header line "
            "(default: the version-2 format)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the load report as JSON")] = False,
    batch_events: Annotated[
        int,
        typer.Option(
            min=1,
            help="CloudTrail events and findings per store transaction (memory grows with "
            "it; VPC flows are batched as suits the store)",
        ),
    ] = DEFAULT_BATCH_EVENTS,
    batch_flows: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            min=1,
            help="staged VPC flow rows per store transaction (default: as suits the store, "
            "480,000 for SQLite and 240,000 for JanusGraph; lower it for a JanusGraph server "
            "with a small heap)",
        ),
    ] = None,
) -> None:
    """Load CloudTrail, VPC Flow Logs and GuardDuty findings (local or S3) into the behavior
    graph, exactly once."""
    from loaders.graphs import UsageError
    from loaders.pipeline import Loader, LoadOptions
    from loaders.progress import progress_bar
    from loaders.sources import SourceError

    if source is not None and source not in SOURCES:
        supported = ", ".join(SOURCES)
        err.print(f"[red]error:[/] unsupported --source {source!r} (supported: {supported})")
        raise typer.Exit(2)
    if flow_format is not None:
        from loaders.vpcflow import FlowFormatError, parse_format

        try:
            parse_format(flow_format)
        except FlowFormatError as e:
            err.print(f"[red]error:[/] --flow-format: {e}")
            raise typer.Exit(2) from None
    s = _store(store)
    options = LoadOptions(
        graph=graph,
        admin_account=admin_account,
        source=source,
        flow_format=flow_format,
        batch_events=batch_events,
        batch_flows=batch_flows,
    )
    try:
        with progress_bar(enabled=not as_json and err.is_terminal, console=err) as progress:
            report = Loader(s, options, progress=progress).load(paths)
        if report.graph is not None and report.loaded:
            _regroup(s, report)
    except (UsageError, SourceError) as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    except StoreUnavailable as e:
        err.print(f"[red]error:[/] store unreachable, stopped: {e}")
        raise typer.Exit(3) from None
    finally:
        s.close()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        from loaders.progress import print_summary

        print_summary(report, err)
    raise typer.Exit(report.exit_code)


def _regroup(store: GraphStore, report: LoadReport) -> None:
    """Fold newly loaded findings into the finding groups (incremental; cheap without findings)."""
    from baselines.finding_group_store import regroup

    active = changed = 0
    # a load routed by membership writes to several graphs: each groups its own findings
    for graph in dict.fromkeys([g for g in (report.graph, *report.graphs) if g is not None]):
        result = regroup(store, graph)
        active += len(result.active)
        changed += len(result.changed)
    if active or changed:
        report.finding_groups = {"active": active, "changed": changed}


@app.command()
def export(
    store: StoreOpt = None,
    graph: GraphOpt = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--output", "-o", help="write here instead of standard output"),
    ] = None,
) -> None:
    """Write the whole graph as JSON lines, deterministically sorted."""
    s = _store(store)
    try:
        graphs = s.list_graphs()
        if graph is None:
            if len(graphs) != 1:
                err.print(
                    f"[red]error:[/] the store holds {len(graphs)} graphs; choose one with --graph"
                )
                raise typer.Exit(2)
            graph = graphs[0].arn
        if output is None:
            write_jsonl(s.export(graph), sys.stdout)
        else:
            with open(output, "w", encoding="utf-8") as out:
                write_jsonl(s.export(graph), out)
    except GraphNotFound as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    finally:
        s.close()


@app.command()
def graphs(store: StoreOpt = None) -> None:
    """List the behavior graphs in a store."""
    s = _store(store)
    try:
        for g in s.list_graphs():
            typer.echo(f"{g.arn}\tadmin={g.admin_account}")
    finally:
        s.close()


@app.command()
def serve(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    credentials: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--credentials",
            envvar="GUMSHOE_CREDENTIALS",
            help="INI file of API identities: one [section] per caller with aws_access_key_id, "
            "aws_secret_access_key, account_id and optional api_token "
            "(default: $GUMSHOE_CREDENTIALS)",
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="serve every graph without authentication (loopback only)"),
    ] = False,
    fit_processes: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--fit-processes",
            envvar="GUMSHOE_FIT_PROCESSES",
            min=0,
            help="worker processes fitting API call baselines beside the server's own "
            "(default: one per usable CPU up to 4 when there are two or more, else 0: "
            "in-process)",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API with uvicorn: GraphQL at /graphql (GraphiQL for browsers), health at
    /healthz."""
    import uvicorn

    from api.app import create_app
    from api.auth import Authenticator, Credentials, CredentialsError, check_no_auth
    from api.auth import load_credentials as read_credentials
    from api.gc_schedule import CollectBetweenRequests, configure

    if no_auth and credentials is not None:
        err.print("[red]error:[/] give --credentials or --no-auth, not both")
        raise typer.Exit(2)
    try:
        if no_auth:
            check_no_auth(host)
            auth = Authenticator(None)
        elif credentials is not None:
            auth = Authenticator(read_credentials(credentials))
        else:
            err.print(
                "[yellow]warning:[/] no --credentials: every API request will be refused "
                "(give --credentials FILE, or --no-auth on a loopback address)"
            )
            auth = Authenticator(Credentials(()))
    except (CredentialsError, ValueError) as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    _store(store).close()  # fail fast, with the CLI's exit codes, on a bad or unreachable store
    if fit_processes is None:
        # the CPUs this process may run on (a container's cpuset), not the host's
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        cpus = cpus or os.cpu_count() or 1
        fit_processes = min(cpus, 4) if cpus >= 2 else 0
    application = CollectBetweenRequests(
        create_app(lambda: open_store(store), authenticator=auth, fit_processes=fit_processes)
    )
    # The schema and the modules are loaded now and live as long as the process: keeping them
    # out of the collector's generations spares every request a walk over them (p99 latency).
    gc.freeze()
    configure()
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        # SDK clients (urllib3 in botocore) reuse idle connections without an expiry of their
        # own; with uvicorn's 5 s default a request races the server closing the connection
        timeout_keep_alive=75,
    )


@app.command()
def retention(
    store: StoreOpt = None,
    days: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="keep this many days (default: $GUMSHOE_RETENTION_DAYS, 365)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print what was removed as JSON")] = False,
) -> None:
    """Remove behavior data older than the retention period from every graph (`gumshoe serve`
    runs this on a schedule); age counts back from each graph's newest data."""
    import dataclasses
    import time

    from api.services.membership_retention import run_retention
    from api.services.membership_settings import MembershipSettings, SettingsError

    try:
        keep = days if days is not None else MembershipSettings.from_env().retention_days
    except SettingsError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from None
    s = _store(store)
    try:
        removed = run_retention(store=s, days=keep, now=time.time())
    except StoreUnavailable as e:
        err.print(f"[red]error:[/] store unreachable, stopped: {e}")
        raise typer.Exit(3) from None
    finally:
        s.close()
    if as_json:
        out = {arn: dataclasses.asdict(e) for arn, e in removed.items()}
        typer.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    for arn, gone in removed.items():
        typer.echo(
            f"{arn}\tremoved {gone.hours} hourly counts, {gone.edges} edges,"
            f" {gone.vertices} vertices, {gone.volume} volume days (older than {keep} days)"
        )


def main() -> None:
    app()
