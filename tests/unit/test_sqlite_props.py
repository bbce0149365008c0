"""SQLite vertex properties: the JSON text the store writes parses back to the same values
(msgspec encodes it; values it cannot write as JSON numbers go through json)."""

from __future__ import annotations

import json
import math

from graph.batch import repeats
from graph.sqlite import _props_json


def test_properties_parse_back_to_what_was_written() -> None:
    props = {"z": 1, "a": "é\u2028", "none": None, "big": 2**70, "f": 0.1, "t": True}
    text = _props_json(props)
    assert json.loads(text) == {k: v for k, v in props.items() if v is not None}
    assert list(json.loads(text)) == sorted(k for k, v in props.items() if v is not None)


def test_nan_and_infinities_are_kept_not_nulled() -> None:
    back = json.loads(_props_json({"a": math.inf, "b": -math.inf, "c": math.nan, "d": "x"}))
    assert back["a"] == math.inf and back["b"] == -math.inf and math.isnan(back["c"])
    assert back["d"] == "x"


def test_repeats_is_true_only_when_every_value_is_known() -> None:
    stored = {"a": 1, "b": "x"}
    assert repeats(stored, {}) and repeats(stored, {"a": 1, "c": None})
    assert not repeats(stored, {"a": 2}) and not repeats(stored, {"c": 0})
