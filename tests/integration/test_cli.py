"""The `gumshoe` command line: exit codes, the --json report, export and graphs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from graph.batch import WriteBatch
from graph.sqlite import SqliteStore
from graph.store import GraphStore
from loaders.graphs import graph_arn
from tests.conftest import DATA, GRAPH, OTHER_GRAPH
from tests.integration.helpers import DATASETS, GUMSHOE, delivery, event, write

FLOSELL = DATASETS / "flosell-trailscraper"  # 3 files, 7 events, all good
FLOSELL_GRAPH = graph_arn("111111111111", "eu-central-1")
OTHER = OTHER_GRAPH


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def squash(text: str) -> str:
    return "".join(text.split())  # rich wraps (and folds) long messages at 80 columns


def says(output: str, message: str) -> bool:
    return squash(message) in squash(output)


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'g.db'}"


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A good file, a 0-byte file and a file with one bad record."""
    root = tmp_path / "mixed"
    write(root / "a-good.json", delivery([event("ListBuckets", "2023-07-10T11:00:00Z")]))
    write(root / "b-empty.json", b"")
    bad = [event("GetObject", "2023-07-10T11:01:00Z"), event("PutObject", "not a time")]
    write(root / "c-partial.json", delivery(bad))
    return root


def test_end_to_end_in_a_subprocess(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    load = subprocess.run(
        [GUMSHOE, "load", "--store", f"sqlite://{db}", "--json", str(FLOSELL)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert load.returncode == 0, load.stderr
    report = json.loads(load.stdout)
    assert (report["graph"], report["loaded_files"], report["loaded"]) == (FLOSELL_GRAPH, 3, 7)
    graphs = subprocess.run(
        [GUMSHOE, "graphs", "--store", f"sqlite://{db}"], capture_output=True, text=True, timeout=60
    )
    assert graphs.stdout == f"{FLOSELL_GRAPH}\tadmin=111111111111\n"
    stdout = subprocess.run(
        [GUMSHOE, "export", "--store", f"sqlite://{db}"], capture_output=True, timeout=60
    ).stdout
    out = tmp_path / "export.jsonl"
    subprocess.run(
        [GUMSHOE, "export", "--store", f"sqlite://{db}", "-o", str(out)], check=True, timeout=60
    )
    assert out.read_bytes() == stdout
    lines = [json.loads(x) for x in stdout.decode().splitlines()]
    assert {r["graph"] for r in lines} == {FLOSELL_GRAPH}
    assert sum(1 for r in lines if r["type"] == "vertex") > 0
    assert [r["type"] for r in lines] == sorted(
        (r["type"] for r in lines), key=["vertex", "edge"].index
    )


def test_exit_0_when_everything_loads(store_uri: str) -> None:
    result = run("load", "--store", store_uri, str(FLOSELL))
    assert result.exit_code == 0, result.output
    assert says(result.stderr, "files: 3 seen, 3 loaded, 0 partly loaded, 0 already loaded")


def test_exit_1_when_some_input_fails(store_uri: str, mixed: Path) -> None:
    result = run("load", "--store", store_uri, str(mixed))
    assert result.exit_code == 1
    assert says(result.stderr, f"failed {mixed / 'b-empty.json'}: empty file (0 bytes)")
    partial = mixed / "c-partial.json"
    assert says(result.stderr, f"rejected {partial}: record 1: not an ISO 8601 timestamp")


def test_json_report(store_uri: str, mixed: Path) -> None:
    result = run("load", "--store", store_uri, "--json", str(mixed))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == {
        "graph",
        "store",
        "files",
        "loaded_files",
        "partial_files",
        "already_loaded",
        "skipped_files",
        "failed",
        "failed_files",
        "skipped_reasons",
        "records",
        "loaded",
        "skipped",
        "record_errors",
        "errors",
        "bytes_read",
        "seconds",
        "events_per_second",
        "finding_groups",
    }
    partial = mixed / "c-partial.json"
    assert report["graph"] == graph_arn("111122223333", "us-east-1")
    assert report["store"] == store_uri
    assert (report["files"], report["loaded_files"], report["partial_files"]) == (3, 1, 1)
    assert (report["already_loaded"], report["skipped_files"], report["failed_files"]) == (0, 0, 1)
    assert report["failed"] == [
        {"source": str(mixed / "b-empty.json"), "reason": "empty file (0 bytes)"}
    ]
    assert (report["records"], report["loaded"], report["skipped"], report["record_errors"]) == (
        3,
        2,
        0,
        1,
    )
    assert report["errors"] == [f"{partial}: record 1: not an ISO 8601 timestamp: 'not a time'"]
    assert report["skipped_reasons"] == {}
    assert report["bytes_read"] == sum(p.stat().st_size for p in mixed.iterdir())
    assert report["seconds"] > 0 and report["events_per_second"] > 0
    again = json.loads(run("load", "--store", store_uri, "--json", str(mixed)).stdout)
    assert (again["already_loaded"], again["loaded"], again["failed_files"]) == (2, 0, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--graph", "arn:aws:detective:us-east-1:111122223333:graph:nothex"],
            "not a behavior graph ARN: 'arn:aws:detective:us-east-1:111122223333:graph:nothex'",
        ),
        (["--graph", "my-graph"], "not a behavior graph ARN: 'my-graph'"),
        (
            ["--source", "bogus"],
            "unsupported --source 'bogus' (supported: cloudtrail, vpcflow, guardduty)",
        ),
        (
            ["--admin-account", "12345"],
            "--admin-account must be a 12-digit account id, not '12345'",
        ),
    ],
)
def test_exit_2_for_bad_options(store_uri: str, args: list[str], message: str) -> None:
    result = run("load", "--store", store_uri, *args, str(FLOSELL))
    assert result.exit_code == 2
    assert says(result.stderr, f"error: {message}")


def test_exit_2_for_a_nonexistent_path(store_uri: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "trail.json"
    result = run("load", "--store", store_uri, str(FLOSELL), str(missing))
    assert result.exit_code == 2
    assert says(result.stderr, f"error: {missing}: no such file or directory")
    # the usage error stops the load before anything is written
    assert run("export", "--store", store_uri).stdout == ""


def test_exit_2_for_an_unsupported_store(tmp_path: Path) -> None:
    result = run("load", "--store", "postgres://db/x", str(FLOSELL))
    assert result.exit_code == 2
    assert says(result.stderr, "unsupported store URI 'postgres://db/x'")


def test_exit_2_when_the_store_holds_two_graphs(store: GraphStore) -> None:
    """The shared `store` fixture holds two empty graphs, GRAPH and OTHER_GRAPH."""
    result = run("load", "--store", store.uri, str(FLOSELL))
    assert result.exit_code == 2
    listed = ", ".join(sorted([GRAPH, OTHER_GRAPH]))
    message = f"the store holds 2 graphs; choose one with --graph ({listed})"
    assert says(result.stderr, message)
    export = run("export", "--store", store.uri)
    assert export.exit_code == 2
    assert says(export.stderr, "the store holds 2 graphs; choose one with --graph")
    # with --graph it loads into that graph only
    assert run("load", "--store", store.uri, "--graph", OTHER_GRAPH, str(FLOSELL)).exit_code == 0
    assert run("export", "--store", store.uri, "--graph", GRAPH).stdout == ""
    other = run("export", "--store", store.uri, "--graph", OTHER_GRAPH).stdout
    assert {json.loads(x)["graph"] for x in other.splitlines()} == {OTHER_GRAPH}
    assert next(iter(store.export(OTHER_GRAPH)))["graph"] == OTHER_GRAPH  # seen by an open store


def test_graph_option_creates_the_graph_and_graphs_lists_it(store_uri: str) -> None:
    assert run("load", "--store", store_uri, "--graph", OTHER, str(FLOSELL)).exit_code == 0
    assert run("graphs", "--store", store_uri).stdout == f"{OTHER}\tadmin=444455556666\n"


def test_admin_account_of_a_new_graph(store_uri: str) -> None:
    result = run("load", "--store", store_uri, "--admin-account", "999988887777", str(FLOSELL))
    assert result.exit_code == 0
    expected = graph_arn("999988887777", "eu-central-1")
    assert run("graphs", "--store", store_uri).stdout == f"{expected}\tadmin=999988887777\n"


def test_export_to_a_file_equals_stdout(store_uri: str, tmp_path: Path) -> None:
    assert run("load", "--store", store_uri, str(DATASETS / "ccbrown-cloud-snitch")).exit_code == 0
    stdout = run("export", "--store", store_uri)
    assert stdout.exit_code == 0
    out = tmp_path / "graph.jsonl"
    to_file = run("export", "--store", store_uri, "--output", str(out))
    assert (to_file.exit_code, to_file.stdout) == (0, "")
    assert out.read_text(encoding="utf-8") == stdout.stdout
    assert len(stdout.stdout.splitlines()) > 20


def test_export_of_an_unknown_graph(store_uri: str) -> None:
    run("load", "--store", store_uri, str(FLOSELL))
    result = run("export", "--store", store_uri, "--graph", OTHER)
    assert result.exit_code == 2
    assert says(result.stderr, f"no graph {OTHER}")


def test_store_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUMSHOE_STORE", f"sqlite://{tmp_path / 'env.db'}")
    assert run("load", str(FLOSELL)).exit_code == 0
    assert run("graphs").stdout == f"{FLOSELL_GRAPH}\tadmin=111111111111\n"


def test_source_option_forces_cloudtrail(store_uri: str, tmp_path: Path) -> None:
    """Detection looks at the first 64 KiB of content only; --source cloudtrail skips it."""
    record = {
        "additionalEventData": {"blob": "x" * (70 << 10)},
        **event("X", "2023-07-10T11:00:00Z"),
    }
    padded = write(tmp_path / "in" / "padded.json", delivery([record]))
    detected = run("load", "--store", store_uri, str(padded))
    assert detected.exit_code == 1
    assert says(detected.stderr, "unrecognized content")
    forced = run("load", "--store", store_uri, "--source", "cloudtrail", "--json", str(padded))
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["loaded"] == 1


def test_no_arguments_prints_help() -> None:
    result = run()
    assert result.exit_code in (0, 2)
    assert "load" in result.output and "export" in result.output
    assert shutil.which(GUMSHOE) is not None


def test_batch_flows_bounds_each_write_and_changes_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--batch-flows (for a JanusGraph server with a small heap): more, smaller transactions,
    the same graph."""
    # the sample flow file under four names: four objects, each its own batch when small
    sample = next((DATA / "vpcflow" / "AWSLogs").rglob("*.log.gz"))
    flows = tmp_path / "flows"
    for i in range(4):
        write(flows / f"{i}-{sample.name}", sample.read_bytes())
    writes: list[int] = []  # hourly flow rows of each write
    original = SqliteStore.write

    def counted(self: SqliteStore, batch: WriteBatch) -> None:
        writes.append(sum(len(rows) for rows in batch.rows))
        original(self, batch)

    monkeypatch.setattr(SqliteStore, "write", counted)
    exports = []
    for name, extra in (("default", []), ("small", ["--batch-flows", "1"])):
        uri = f"sqlite://{tmp_path / name}.db"
        assert run("load", "--store", uri, *extra, str(flows)).exit_code == 0
        exports.append(run("export", "--store", uri).stdout)
    # (a write's rows are its flows summed per edge and hour: 4 identical files fold into one)
    assert len(writes) == 5 and writes[0] == writes[1] > 0
    assert exports[0] == exports[1] and exports[0].count("\n") > 10
    bad = run("load", "--store", f"sqlite://{tmp_path / 'x.db'}", "--batch-flows", "0", str(flows))
    assert bad.exit_code == 2
