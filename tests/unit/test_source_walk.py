"""Directory inputs are walked depth first, each directory's entries in name order, hidden names
skipped, archives expanded where they stand: the order the ledger and the load report follow."""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.sources import iter_objects

# A tree: a directory maps names to subtrees; a leaf is a file's bytes.
_names = st.sampled_from(["a", "b", "B", "c.gz", "d.json", "e.log", "f", ".hidden", "z", "01"])
_trees = st.recursive(
    st.binary(max_size=8),
    lambda children: st.dictionaries(_names, children, max_size=5),
    max_leaves=25,
)


def _make(root: Path, tree: dict[str, object]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, sub in tree.items():
        if isinstance(sub, dict):
            _make(root / name, sub)
        else:
            assert isinstance(sub, bytes)
            (root / name).write_bytes(sub)


def _expected(directory: Path) -> list[str]:
    """The reference order, written the obvious recursive way."""
    out: list[str] = []
    for name in sorted(os.listdir(directory)):
        path = directory / name
        if name.startswith("."):
            continue
        if path.is_dir():
            out.extend(_expected(path))
        else:
            out.append(str(path))
    return out


@settings(max_examples=60, deadline=None)
@given(tree=st.dictionaries(_names, _trees, max_size=6))
def test_walk_order_is_depth_first_by_name(
    tmp_path_factory: pytest.TempPathFactory, tree: dict[str, object]
) -> None:
    root = tmp_path_factory.mktemp("walk").resolve()
    _make(root, tree)
    objects = list(iter_objects([str(root)]))
    assert [o.uri for o in objects] == _expected(root)
    for o in objects:
        stat = os.stat(o.uri)
        assert (o.size, o.hint, o.version) == (
            stat.st_size,
            f"{stat.st_size}:{stat.st_mtime_ns}",
            None,
        )
        with contextlib.closing(o.opener()) as f:
            assert f.read() == Path(o.uri).read_bytes()


def test_archives_symlinked_directories_and_empty_ones(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "a" / "empty").mkdir(parents=True)
    (root / "a" / "x.json").write_bytes(b"{}")
    with zipfile.ZipFile(root / "a" / "bundle", "w") as zf:  # no log suffix: sniffed as a zip
        zf.writestr("2.json", b"[2]")
        zf.writestr("1.json", b"[1]")
        zf.writestr(".skip.json", b"[]")
    (root / "b").write_bytes(b"plain")
    outside = tmp_path / "elsewhere"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "y.gz").write_bytes(b"\x1f\x8b")
    (root / "c").symlink_to(outside, target_is_directory=True)
    (root / "d.log").write_bytes(b"last")
    got = [o.uri for o in iter_objects([str(root)])]
    r = str(root.resolve())
    assert got == [
        f"{r}/a/bundle!1.json",
        f"{r}/a/bundle!2.json",
        f"{r}/a/x.json",
        f"{r}/b",
        f"{r}/c/deep/y.gz",
        f"{r}/d.log",
    ]
