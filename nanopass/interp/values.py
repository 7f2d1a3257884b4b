"""Runtime values of the reference interpreter and how they carry their type.

Scalars are Python objects whose class is their Clef type, so that a value
alone says how to compute with it:

=========  ==========================  =========================================
Clef       Python class                 arithmetic
=========  ==========================  =========================================
int        ``int``                      32-bit two's complement, wraps
int64      `Int64` (an ``int``)          64-bit two's complement, wraps
uint8      `UInt8` (an ``int``)          8-bit unsigned, wraps
float      ``float``                    IEEE binary64
float32    `Float32` (a ``float``)       IEEE binary32: every result is rounded
bool       ``bool``
unit       ``None``
string     ``str``
=========  ==========================  =========================================

Structured values: tuples are Python tuples; records are `Record` (a read-only
mapping that also answers attribute access, ``r.X`` and ``r["X"]``); unions
are `Union` (options are unions of type ``option`` with cases ``Some`` /
``None``); lists are immutable cons cells (`Cons`, ending in `NIL`); ``Map``
is a pyrsistent ``PMap``; arrays are numpy arrays (1-D or 2-D, mutable) whose
dtype follows the element type (`dtype_for`), ``object`` for elements that
are not numeric or bool.  Functions are `Callable` subclasses defined by the
machine; ``Async`` values are `AsyncValue`; actors are `ActorRef`.

`Fault` is what a runtime check raises deep inside an operation; the step
that ran the operation turns it into a located `DiagnosticError`.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Iterable, Iterator, Mapping

import attrs
import numpy as np

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class Fault(Exception):
    """A runtime error without a location yet (division by zero, empty reduce, ...)."""


def negative_count(origin: str, n: int) -> str:
    """The message of a count below 0, the same at every level and in every backend."""
    return f"'{origin}' of a negative count {n}; expected 0 or more"


class Int64(int):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}L"


class UInt8(int):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}uy"


class Float32(float):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"{float(self)!r}f"


def wrap_int(x: int) -> int:
    if INT_MIN <= x <= INT_MAX:
        return x
    return ((x - INT_MIN) & 0xFFFFFFFF) + INT_MIN


def wrap_int64(x: int) -> Int64:
    if not INT64_MIN <= x <= INT64_MAX:
        x = ((x - INT64_MIN) & 0xFFFFFFFFFFFFFFFF) + INT64_MIN
    return Int64(x)


def wrap_uint8(x: int) -> UInt8:
    return UInt8(x & 0xFF)


_pack_f32 = struct.Struct("f")


def round_float32(x: float) -> Float32:
    """``x`` rounded to the nearest binary32 (overflow to infinity, as IEEE does)."""
    try:
        return Float32(_pack_f32.unpack(_pack_f32.pack(x))[0])
    except OverflowError:  # beyond FLT_MAX: numpy rounds (to FLT_MAX or infinity) as the hardware does
        with np.errstate(over="ignore"):
            return Float32(float(np.float32(x)))


# The Clef type name of a scalar, by its Python class.
TYPE_OF_CLASS: dict[type, str] = {
    int: "int", Int64: "int64", UInt8: "uint8", float: "float", Float32: "float32",
    bool: "bool", str: "string", type(None): "unit",
}

# Converting a Python number to the Clef type (used by conversions and host values).
MAKE_SCALAR = {
    "int": wrap_int, "int64": wrap_int64, "uint8": wrap_uint8,
    "float": float, "float32": round_float32, "bool": bool, "string": str,
}

_DTYPES = {
    "int": np.int32, "int64": np.int64, "uint8": np.uint8, "float": np.float64,
    "float32": np.float32, "bool": np.bool_,
}
# Reading an element back: ``ndarray.item`` gives plain Python scalars; these restore the class.
READ_ELEMENT = {
    np.dtype(np.int32): None, np.dtype(np.float64): None, np.dtype(np.bool_): None, np.dtype(object): None,
    np.dtype(np.int64): Int64, np.dtype(np.uint8): UInt8, np.dtype(np.float32): Float32,
}

DTYPE_NAME = {np.dtype(dtype): name for name, dtype in _DTYPES.items()}


def dtype_for(type_name: str | None) -> Any:
    """The numpy dtype of an array whose elements have this scalar type name (else object)."""
    return _DTYPES.get(type_name, object) if type_name is not None else object


def zero_of(type_name: str | None) -> Any:
    return {"int": 0, "int64": Int64(0), "uint8": UInt8(0), "float": 0.0, "float32": Float32(0.0),
            "bool": False, "unit": None}.get(type_name)


def object_array(values: Iterable[Any]) -> np.ndarray:
    values = list(values)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def array_from(values: list, element_type: str | None = None) -> np.ndarray:
    """A 1-D array of ``values``; the dtype comes from ``element_type``, else the first value's class."""
    if element_type is None and values:
        element_type = TYPE_OF_CLASS.get(type(values[0]))
    dtype = dtype_for(element_type)
    if dtype is object:
        return object_array(values)
    return np.array(values, dtype=dtype)


# -- lists --------------------------------------------------------------------------------
class Cons:
    """An immutable list cell; ``length`` is kept so that ``List.length`` is O(1)."""

    __slots__ = ("head", "tail", "length")

    def __init__(self, head: Any, tail: "Cons | _Nil"):
        self.head = head
        self.tail = tail
        self.length = tail.length + 1

    def __iter__(self) -> Iterator[Any]:
        cell = self
        while cell is not NIL:
            yield cell.head
            cell = cell.tail

    def __len__(self) -> int:
        return self.length

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Cons, _Nil)) or other.length != self.length:
            return False
        return all(a == b for a, b in zip(self, other))

    def __lt__(self, other: "Cons | _Nil") -> bool:
        return list(self) < list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return "[" + "; ".join(map(repr, self)) + "]"


class _Nil(Cons):
    __slots__ = ()

    def __init__(self) -> None:
        self.length = 0

    def __iter__(self) -> Iterator[Any]:
        return iter(())


NIL = _Nil()


def list_of(values: Iterable[Any]) -> Cons:
    out: Cons = NIL
    for value in reversed(list(values)):
        out = Cons(value, out)
    return out


# -- records and unions ---------------------------------------------------------------------
class Record(Mapping):
    """A record value: its type name and its fields in declaration (or construction) order."""

    __slots__ = ("type", "names", "values")

    def __init__(self, type_name: str, names: tuple[str, ...], values: tuple[Any, ...]):
        object.__setattr__(self, "type", type_name)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "values", values)

    def get_field(self, name: str) -> Any:
        return self.values[self.names.index(name)]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[self.names.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("records are immutable")

    def __getitem__(self, name: str) -> Any:
        try:
            return self.values[self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def _key(self) -> tuple:
        return tuple(sorted(zip(self.names, self.values), key=lambda kv: kv[0]))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self.type == other.type and self._key() == other._key()
        return isinstance(other, Mapping) and dict(zip(self.names, self.values)) == dict(other)

    def __lt__(self, other: "Record") -> bool:
        return self.values < other.values

    def __hash__(self) -> int:
        return hash((self.type, self._key()))

    def __repr__(self) -> str:
        return "{ " + "; ".join(f"{n} = {v!r}" for n, v in zip(self.names, self.values)) + " }"


class Union:
    """A union value: type name, case name, payload tuple.  Options are type ``option``."""

    __slots__ = ("type", "case", "payload")

    def __init__(self, type_name: str, case: str, payload: tuple[Any, ...] = ()):
        self.type = type_name
        self.case = case
        self.payload = payload

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Union) and (self.case, self.payload) == (other.case, other.payload)

    def __lt__(self, other: "Union") -> bool:
        return (self.case, self.payload) < (other.case, other.payload)

    def __hash__(self) -> int:
        return hash((self.case, self.payload))

    def __repr__(self) -> str:
        if not self.payload:
            return self.case
        return f"{self.case} {self.payload[0]!r}" if len(self.payload) == 1 else f"{self.case} {self.payload!r}"


NONE = Union("option", "None")


def some(value: Any) -> Union:
    return Union("option", "Some", (value,))


class Cell:
    """A ``let mutable`` cell (Clef level); ``ready`` is its ready time under the profiler."""

    __slots__ = ("value", "ready")

    def __init__(self, value: Any, ready: Any = 0):
        self.value = value
        self.ready = ready


def float_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def float_mod(a: float, b: float) -> float:
    try:
        return math.fmod(a, b)
    except ValueError:  # fmod(x, 0) and fmod(inf, y): NaN, as .NET gives
        return math.nan


def to_python(value: Any) -> Any:
    """Plain JSON-able Python for an interpreter value.

    Lists and arrays become lists, records and maps dicts, ``Some x`` is ``x``
    and ``None`` is ``None``, and other union values are
    ``{"case": name, "fields": [...]}`` (just the name when there are none).
    """
    if isinstance(value, Union):
        if value.type == "option":
            return to_python(value.payload[0]) if value.payload else None
        if not value.payload:
            return value.case
        return {"case": value.case, "fields": [to_python(v) for v in value.payload]}
    if isinstance(value, Cons):
        return [to_python(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, Mapping):
        return {str(to_python(k)): to_python(v) for k, v in value.items()}
    if attrs.has(type(value)):
        return {k: to_python(v) for k, v in attrs.asdict(value, recurse=False).items()}
    return value
