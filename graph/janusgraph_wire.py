"""GraphBinary for the batched writer's rows, encoded once, fast, and off the request path.

gremlinpython serializes an `inject(rows)` argument twice over in pure Python: `Bytecode` walks
every nested list and map looking for child traversals, then `GraphBinaryWriter` dispatches on the
type of every key and value. For the writer's rows — maps of strings, ints, floats, booleans and
the `T`/`Direction` tokens — that was about a third of a batched write's time. `encode` produces the
same bytes as `GraphBinaryWriter` (ints that do not fit 32 bits go out as longs, where
gremlinpython raises), with the encodings of repeated strings (property names, the graph ARN,
vertex ids of busy vertices) cached. `Encoded` carries them through `Bytecode` untouched: the
store's connection uses `serializer()`, whose writer copies an `Encoded` verbatim.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from gremlin_python.driver.serializer import GraphBinarySerializersV1
from gremlin_python.process.traversal import Direction, T
from gremlin_python.structure.io.graphbinaryV1 import DataType, GraphBinaryWriter

_I32 = struct.Struct(">i").pack
_I64 = struct.Struct(">q").pack
_F64 = struct.Struct(">d").pack
_INT = bytes((DataType.int.value, 0))
_LONG = bytes((DataType.long.value, 0))
_DOUBLE = bytes((DataType.double.value, 0))
_STRING = bytes((DataType.string.value, 0))
_LIST = bytes((DataType.list.value, 0))
_MAP = bytes((DataType.map.value, 0))
_TRUE = bytes((DataType.boolean.value, 0, 1))
_FALSE = bytes((DataType.boolean.value, 0, 0))
_NULL = bytes((DataType.null.value, 1))


def _token(code: int, name: str) -> bytes:
    raw = name.encode()
    return bytes((code, 0)) + _STRING + _I32(len(raw)) + raw


# gremlinpython writes T.id as "id", Direction.OUT as "OUT" (see graphbinaryV1._EnumIO)
_TOKENS: dict[Any, bytes] = {
    **{t: _token(DataType.t.value, t.name) for t in (T.id, T.label, T.key, T.value)},
    **{d: _token(DataType.direction.value, d.name) for d in (Direction.OUT, Direction.IN)},
}


class Encoded:
    """A value already in GraphBinary (fully qualified: type code, null flag, value)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)


class _EncodedIO:
    @classmethod
    def dictify(
        cls,
        obj: Encoded,
        writer: GraphBinaryWriter,
        to_extend: bytearray,
        as_value: bool = False,
        nullable: bool = True,
    ) -> bytearray:
        to_extend += obj.data
        return to_extend


def serializer() -> GraphBinarySerializersV1:
    """gremlinpython's GraphBinary message serializer, which also writes `Encoded` values."""
    return GraphBinarySerializersV1(writer=GraphBinaryWriter({Encoded: _EncodedIO}))


class Encoder:
    """Encodes rows; remembers the encodings of up to `cache` distinct strings."""

    def __init__(self, cache: int = 200_000) -> None:
        self._strings: dict[str, bytes] = {}
        self._cache = cache
        self._put: dict[type, Callable[[Any, list[bytes]], None]] = {
            str: self._str,
            int: self._int,
            bool: self._bool,
            float: self._float,
            dict: self._dict,
            list: self._list,
            tuple: self._list,
            type(None): self._none,
            T: self._token,
            Direction: self._token,
        }

    def encode(self, value: Any) -> Encoded:
        out: list[bytes] = []
        self._value(value, out)
        return Encoded(b"".join(out))

    def _value(self, value: Any, out: list[bytes]) -> None:
        put = self._put.get(type(value))
        if put is None:
            raise TypeError(f"cannot encode {type(value).__name__} for JanusGraph: {value!r}")
        put(value, out)

    def _str(self, s: str, out: list[bytes]) -> None:
        b = self._strings.get(s)
        if b is None:
            raw = s.encode("utf-8")
            b = _STRING + _I32(len(raw)) + raw
            if len(self._strings) < self._cache:
                self._strings[s] = b
        out.append(b)

    @staticmethod
    def _int(i: int, out: list[bytes]) -> None:
        if -2147483648 <= i <= 2147483647:
            out.append(_INT + _I32(i))
        elif -9223372036854775808 <= i <= 9223372036854775807:
            out.append(_LONG + _I64(i))
        else:
            raise ValueError(f"integer out of the 64-bit range: {i}")

    @staticmethod
    def _bool(b: bool, out: list[bytes]) -> None:
        out.append(_TRUE if b else _FALSE)

    @staticmethod
    def _float(f: float, out: list[bytes]) -> None:
        if math.isnan(f) or math.isinf(f):
            raise ValueError(f"cannot store {f} in JanusGraph")
        out.append(_DOUBLE + _F64(f))

    @staticmethod
    def _none(_: None, out: list[bytes]) -> None:
        out.append(_NULL)

    @staticmethod
    def _token(t: Any, out: list[bytes]) -> None:
        out.append(_TOKENS[t])

    def _dict(self, d: dict[Any, Any], out: list[bytes]) -> None:
        out.append(_MAP + _I32(len(d)))
        value = self._value
        for k, v in d.items():
            value(k, out)
            value(v, out)

    def _list(self, items: list[Any] | tuple[Any, ...], out: list[bytes]) -> None:
        out.append(_LIST + _I32(len(items)))
        value = self._value
        for v in items:
            value(v, out)
