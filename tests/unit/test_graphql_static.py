"""The vendored GraphiQL files are exactly npm's, and the page names nothing off-host."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from api.graphql.view import CSP, STATIC, ide_html

VENDORED = STATIC / "VENDORED.md"
IDE_HTML = ide_html() or ""
ROW = re.compile(r"^\| `(?P<file>[\w.-]+)` \| .* \| `(?P<sri>sha384-[A-Za-z0-9+/=]+)` \|", re.M)


def _sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def _table() -> dict[str, str]:
    rows = {m["file"]: m["sri"] for m in ROW.finditer(VENDORED.read_text(encoding="utf-8"))}
    assert len(rows) == 6, rows
    return rows


@pytest.mark.parametrize("name", sorted(_table()))
def test_vendored_file_matches_its_recorded_hash(name: str) -> None:
    path = STATIC / name
    assert _sri(path) == _table()[name]
    # the page pins the same hash (Subresource Integrity)
    assert f'src="/static/graphiql/{name}"' in IDE_HTML or f'href="/static/graphiql/{name}"' in (
        IDE_HTML
    )
    assert f'integrity="{_table()[name]}"' in IDE_HTML


def test_page_and_script_load_nothing_off_host() -> None:
    script = (STATIC / "gumshoe-graphiql.js").read_text(encoding="utf-8")
    for text in (IDE_HTML, script, (STATIC / "gumshoe-graphiql.css").read_text()):
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text.replace("\\/", "/")), (
            "the GraphiQL page must not reference another host"
        )
    assert not re.search(r"<script>", IDE_HTML), "inline scripts would need 'unsafe-inline'"
    assert "script-src 'self'" in CSP and "default-src 'none'" in CSP
