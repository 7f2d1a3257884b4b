"""Native types: which Clef types the LLVM backend represents, and how in LLVM, ctypes and numpy.

A native type is one of

* `Scalar` ``int`` (i32), ``int64`` (i64), ``uint8`` (i8), ``float``
  (double), ``float32`` (float), ``bool`` (i1 as a value, one byte in memory);
* `Unit` (the empty struct);
* `Struct`: a tuple or a record whose fields are native (a record keeps its
  type name and field names, in declaration order);
* `Array`: a 1-D or 2-D array of scalars or of structs of scalars, passed as
  ``{elem*, i64 extent[, i64 extent]}`` over a C-contiguous buffer (a numpy
  array's data, or a block of the run's arena).

Each type has a *value* form (what SSA values hold: bools are i1) and a
*memory* form (what buffers and argument blocks hold: bools are one byte),
a ctypes form of the memory form (the argument and result blocks the host
fills and reads), and a numpy dtype for array elements.  `native_type`
maps a frontend type (`nanopass.frontend.types`) to its native type, or
returns the reason it has none.
"""

from __future__ import annotations

import ctypes
from typing import Mapping, Union as TypingUnion

import attrs
import numpy as np
from llvmlite import ir

from nanopass.frontend import types as T

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
F32, F64 = ir.FloatType(), ir.DoubleType()
VOID = ir.VoidType()
BYTE_PTR = I8.as_pointer()


@attrs.frozen(slots=True)
class Scalar:
    name: str  # int int64 uint8 float float32 bool

    def __str__(self) -> str:
        return self.name


@attrs.frozen(slots=True)
class Unit:
    def __str__(self) -> str:
        return "unit"


@attrs.frozen(slots=True)
class Struct:
    fields: tuple  # tuple[tuple[str, NType], ...]
    record: str | None = None  # the record's type name; None for a tuple

    @property
    def types(self) -> tuple:
        return tuple(t for _, t in self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.fields)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def __str__(self) -> str:
        if self.record is not None:
            return self.record
        return "(" + " * ".join(str(t) for t in self.types) + ")"


@attrs.frozen(slots=True)
class Array:
    elem: "NType"
    rank: int = 1

    def __str__(self) -> str:
        return f"{self.elem}[{',' * (self.rank - 1)}]"


NType = TypingUnion[Scalar, Unit, Struct, Array]

INT, INT64, UINT8, FLOAT, FLOAT32, BOOL = (Scalar(n) for n in ("int", "int64", "uint8", "float", "float32", "bool"))
UNIT = Unit()
SCALARS = {s.name: s for s in (INT, INT64, UINT8, FLOAT, FLOAT32, BOOL)}
INTEGERS = frozenset({"int", "int64", "uint8"})
FLOATS = frozenset({"float", "float32"})

_VALUE_LLVM = {"int": I32, "int64": I64, "uint8": I8, "float": F64, "float32": F32, "bool": I1}
_MEMORY_LLVM = dict(_VALUE_LLVM, bool=I8)
_CTYPES = {"int": ctypes.c_int32, "int64": ctypes.c_int64, "uint8": ctypes.c_uint8, "float": ctypes.c_double,
           "float32": ctypes.c_float, "bool": ctypes.c_uint8}
_DTYPES = {"int": np.int32, "int64": np.int64, "uint8": np.uint8, "float": np.float64, "float32": np.float32,
           "bool": np.bool_}


def is_scalar(t: NType, *names: str) -> bool:
    return isinstance(t, Scalar) and (not names or t.name in names)


def is_flat(t: NType) -> bool:
    """A scalar, or a struct of scalars: what an array element may be."""
    return isinstance(t, Scalar) or (isinstance(t, Struct) and all(isinstance(f, Scalar) for f in t.types))


# -- from frontend types ------------------------------------------------------------------------------
Records = Mapping[str, tuple]  # record name -> ((field name, frontend type), ...)


def native_type(t: T.Type | None, records: Records) -> NType | str:
    """The native type of ``t``, or a phrase saying why there is none."""
    if t is None:
        return "its type is unknown"
    if isinstance(t, T.TPrim):
        if not isinstance(t.base, str):
            return "its numeric type is not resolved"
        if t.base == "unit":
            return UNIT
        if t.base in SCALARS:
            return SCALARS[t.base]
        return f"a {t.base} has no native form"
    if isinstance(t, T.TTuple):
        items = [native_type(i, records) for i in t.items]
        bad = next((i for i in items if isinstance(i, str)), None)
        return bad if bad is not None else Struct(tuple((f"Item{k + 1}", i) for k, i in enumerate(items)))
    if isinstance(t, T.TArray):
        elem = native_type(t.elem, records)
        if isinstance(elem, str):
            return elem
        if not is_flat(elem):
            return f"an array of {elem} has no native form (elements are scalars or tuples of scalars)"
        return Array(elem, t.rank)
    if isinstance(t, T.TCon):
        if t.name in records and not t.args:
            fields = [(name, native_type(ft, records)) for name, ft in records[t.name]]
            bad = next((ft for _, ft in fields if isinstance(ft, str)), None)
            return bad if bad is not None else Struct(tuple(fields), t.name)
        return f"a {T.show(t)} value lives on the host (lists, maps, options, unions, Async and actors do)"
    if isinstance(t, T.TFun):
        return "a function value has no native form"
    return "its type is polymorphic"


# -- LLVM forms ------------------------------------------------------------------------------------------
def value_type(t: NType) -> ir.Type:
    if isinstance(t, Scalar):
        return _VALUE_LLVM[t.name]
    if isinstance(t, Unit):
        return ir.LiteralStructType([])
    if isinstance(t, Struct):
        return ir.LiteralStructType([value_type(f) for f in t.types])
    return ir.LiteralStructType([memory_type(t.elem).as_pointer()] + [I64] * t.rank)


def memory_type(t: NType) -> ir.Type:
    if isinstance(t, Scalar):
        return _MEMORY_LLVM[t.name]
    if isinstance(t, Struct):
        return ir.LiteralStructType([memory_type(f) for f in t.types])
    return value_type(t)


def to_memory(b: ir.IRBuilder, t: NType, value: ir.Value) -> ir.Value:
    """A value in its memory form (bools widen to a byte, structs field by field)."""
    if isinstance(t, Scalar):
        return b.zext(value, I8) if t.name == "bool" else value
    if isinstance(t, Struct) and any(_has_bool(f) for f in t.types):
        out = ir.Constant(memory_type(t), ir.Undefined)
        for k, f in enumerate(t.types):
            out = b.insert_value(out, to_memory(b, f, b.extract_value(value, k)), k)
        return out
    return value


def from_memory(b: ir.IRBuilder, t: NType, value: ir.Value) -> ir.Value:
    if isinstance(t, Scalar):
        return b.icmp_unsigned("!=", value, ir.Constant(I8, 0)) if t.name == "bool" else value
    if isinstance(t, Struct) and any(_has_bool(f) for f in t.types):
        out = ir.Constant(value_type(t), ir.Undefined)
        for k, f in enumerate(t.types):
            out = b.insert_value(out, from_memory(b, f, b.extract_value(value, k)), k)
        return out
    return value


def _has_bool(t: NType) -> bool:
    if isinstance(t, Scalar):
        return t.name == "bool"
    return isinstance(t, Struct) and any(_has_bool(f) for f in t.types)


def size_of(t: NType) -> int:
    """Bytes of the memory form (natural alignment, as C and LLVM lay structs out)."""
    return ctypes.sizeof(ctypes_type(t))


# -- host forms ------------------------------------------------------------------------------------------
_CTYPE_CACHE: dict[NType, type] = {}


def ctypes_type(t: NType) -> type:
    """The ctypes type of the memory form."""
    found = _CTYPE_CACHE.get(t)
    if found is not None:
        return found
    if isinstance(t, Scalar):
        found = _CTYPES[t.name]
    elif isinstance(t, Unit):
        found = type("Unit", (ctypes.Structure,), {"_fields_": []})
    elif isinstance(t, Struct):
        found = type(str(t), (ctypes.Structure,), {"_fields_": [(f"f{k}", ctypes_type(f))
                                                                for k, f in enumerate(t.types)]})
    else:
        found = type(f"Array{t.rank}", (ctypes.Structure,),
                     {"_fields_": [("data", ctypes.c_void_p)] + [(f"n{k}", ctypes.c_int64) for k in range(t.rank)]})
    _CTYPE_CACHE[t] = found
    return found


def element_dtype(t: NType) -> np.dtype:
    """The numpy dtype of an array element of type ``t`` (a structured dtype with C layout for structs)."""
    if isinstance(t, Scalar):
        return np.dtype(_DTYPES[t.name])
    return np.dtype([(f"f{k}", element_dtype(f)) for k, f in enumerate(t.types)], align=True)
