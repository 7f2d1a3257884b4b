"""Binding a program's ``extern`` declarations to Python, and converting values across.

`load_externs` takes a mapping (name -> callable) or the path of a ``.py``
file whose top-level functions (``def`` and ``async def`` written in it) are
taken by name.  An extern with no binding is a located diagnostic at its
declaration, raised when the program first uses it.

Values cross by the declared type (the ``types`` annotation table):

* to the host (`to_host`): lists become Python lists, ``Map`` a dict,
  ``Some x`` its converted payload and ``None`` Python's None, tuples
  tuples; records stay `Record` (a read-only mapping that also answers
  ``r.Field``) with converted fields; arrays are passed as they are (numpy,
  shared, as .NET passes arrays by reference); scalars are Python numbers.
* from the host (`from_host`): by the type, a dict or any object with the
  field names makes a record, any iterable a list, ``None`` or a value an
  option, an array-like a numpy array of the element's dtype.  Where the
  type is unknown (no ``types`` table, a type variable) the Python value
  decides: a list of numbers or lists becomes an array (1-D or 2-D), a
  numpy int64 array whose values fit becomes an ``int`` (int32) array, a
  Python int an ``int`` (an ``int64`` beyond 32 bits), a dict a ``Map``.

An extern whose type returns ``Async<T>`` yields an Async value; awaiting it
calls the host function and awaits what it returns when that is awaitable
(an ``async def``), on the interpreter's asyncio loop.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from typing import Any, Callable, Mapping

import numpy as np
from pyrsistent import PMap, pmap

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.frontend import types as T
from nanopass.graph import Node
from nanopass.interp.machine import FunctionValue, Machine, scalar_name
from nanopass.interp.values import (
    INT_MAX, INT_MIN, MAKE_SCALAR, NONE, TYPE_OF_CLASS, Cons, Fault, Int64, Record, Union, array_from, dtype_for,
    list_of, object_array, some)


def load_externs(externs: Mapping[str, Callable] | str | os.PathLike | None) -> dict[str, Callable]:
    """Name -> callable, from a mapping or from the top-level functions of a ``.py`` file."""
    if externs is None:
        return {}
    if isinstance(externs, Mapping):
        return dict(externs)
    path = os.fspath(externs)
    where = Span(path, 1, 1, 1, 1)
    if not os.path.isfile(path):
        raise DiagnosticError(Diagnostic(where, "cannot read the externs file; expected a .py file of functions"))
    module_name = "nanopass_externs_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the host file is user code: report, never a traceback
        raise DiagnosticError(Diagnostic(where, f"importing the externs file failed: {type(error).__name__}: "
                                                f"{error}")) from None
    return {name: fn for name, fn in vars(module).items()
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_")}


# -- the extern as a function value -----------------------------------------------------------------
class Extern(FunctionValue):
    """A bound extern: converts its arguments to the host, calls, converts the result back."""

    __slots__ = ("name", "arity", "fn", "params", "result", "is_async", "machine")

    def __init__(self, m: Machine, name: str, arity: int, fn: Callable, params: list, result: Any):
        self.machine = m
        self.name = name
        self.arity = arity
        self.fn = fn
        self.params = params
        self.is_async = isinstance(result, T.TCon) and result.name == "Async"
        self.result = result.args[0] if self.is_async and result.args else result

    def call(self, m: Machine, args: tuple) -> Any:
        host_args = [to_host(m, a, t) for a, t in zip(args, self.params)]
        if self.is_async:
            from nanopass.interp.asyncs import AsyncValue

            return AsyncValue(host=lambda: self._call(host_args), convert=self.convert)
        return self.convert(self._call(host_args))

    def _call(self, host_args: list) -> Any:
        try:
            return self.fn(*host_args)
        except DiagnosticError:
            raise
        except Exception as error:  # user code: a located report at the call site
            raise Fault(f"extern '{self.name}' raised {type(error).__name__}: {error}") from None

    def convert(self, value: Any) -> Any:
        try:
            return from_host(self.machine, value, self.result)
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise Fault(f"extern '{self.name}' returned {value!r}, which is not a {T.show(self.result)}: "
                        f"{error}") from None

    def __repr__(self) -> str:
        return f"<extern {self.name}>"


def extern_value(m: Machine, node_id: int, node: Node) -> Extern:
    name = node.attr("name")
    fn = m.bindings.get(name)
    if fn is None:
        raise m.error(node.span, f"the extern '{name}' has no binding; expected a Python "
                                                    f"callable named '{name}' in the externs given to the run")
    params, t = [], m.type_of(node_id)
    for _ in range(node.attr("arity")):
        params.append(t.arg if isinstance(t, T.TFun) else None)
        t = t.result if isinstance(t, T.TFun) else None
    return Extern(m, name, node.attr("arity"), fn, params, t)


# -- conversions -----------------------------------------------------------------------------------
def to_host(m: Machine | None, value: Any, t: Any = None) -> Any:
    """A runtime value as plain Python (see the module docstring)."""
    if isinstance(value, Cons):
        element = t.args[0] if isinstance(t, T.TCon) and t.args else None
        return [to_host(m, v, element) for v in value]
    if isinstance(value, Union) and value.type == "option":
        inner = t.args[0] if isinstance(t, T.TCon) and t.args else None
        return to_host(m, value.payload[0], inner) if value.case == "Some" else None
    if isinstance(value, tuple):
        items = t.items if isinstance(t, T.TTuple) else (None,) * len(value)
        return tuple(to_host(m, v, i) for v, i in zip(value, items))
    if isinstance(value, PMap):
        key, item = t.args if isinstance(t, T.TCon) and len(t.args) == 2 else (None, None)
        return {to_host(m, k, key): to_host(m, v, item) for k, v in sorted(value.items(), key=_order)}
    if isinstance(value, Record):
        return Record(value.type, value.names, tuple(to_host(m, v) for v in value.values))
    if isinstance(value, FunctionValue) and m is not None:
        return lambda *args: to_host(m, m.apply(value, tuple(from_host(m, a) for a in args)))
    return value


def _order(item: tuple) -> Any:
    key = item[0]
    return (0, key) if isinstance(key, (int, float, str, tuple)) else (1, repr(key))


def from_host(m: Machine | None, value: Any, t: Any = None) -> Any:
    """A Python value as the runtime value of type ``t`` (inferred when ``t`` is None or a variable)."""
    if isinstance(t, T.TPrim) and isinstance(t.base, str):
        if t.base == "unit":
            return None
        if isinstance(value, np.generic):
            value = value.item()
        return MAKE_SCALAR[t.base](value)
    if isinstance(t, T.TArray):
        return _array(m, value, t)
    if isinstance(t, T.TTuple):
        return tuple(from_host(m, v, i) for v, i in zip(value, t.items))
    if isinstance(t, T.TCon):
        args = t.args
        if t.name == "list":
            return list_of(from_host(m, v, args[0] if args else None) for v in value)
        if t.name == "option":
            if isinstance(value, Union):
                return value
            return NONE if value is None else some(from_host(m, value, args[0] if args else None))
        if t.name == "Map":
            key, item = args if len(args) == 2 else (None, None)
            return pmap({from_host(m, k, key): from_host(m, v, item) for k, v in dict(value).items()})
        if m is not None and t.name in m.record_types():
            return _record(m, value, t.name)
        return value
    return _inferred(m, value)


def _array(m: Machine | None, value: Any, t: T.TArray) -> np.ndarray:
    element = scalar_name(t.elem)
    dtype = dtype_for(element)
    if dtype is not object:
        return np.asarray(value, dtype=dtype) if not (isinstance(value, np.ndarray) and value.dtype == dtype) else value
    items = [from_host(m, v, t.elem) for v in (value.ravel() if isinstance(value, np.ndarray) else value)]
    out = object_array(items)
    return out.reshape(np.shape(value)[:t.rank]) if t.rank == 2 else out


def _record(m: Machine, value: Any, name: str) -> Record:
    if isinstance(value, Record):
        return value
    names, types = m.record_types()[name]
    get = value.__getitem__ if isinstance(value, Mapping) else (lambda f: getattr(value, f))
    return Record(name, names, tuple(from_host(m, get(f), types.get(f)) for f in names))


def _inferred(m: Machine | None, value: Any) -> Any:
    if isinstance(value, (bool, float, str)) or value is None:
        return value
    if isinstance(value, int):
        return value if INT_MIN <= value <= INT_MAX else Int64(value)
    if isinstance(value, np.generic):
        return _inferred(m, value.item())
    if isinstance(value, np.ndarray):
        if value.dtype == np.int64 and (value.size == 0 or (value.min() >= INT_MIN and value.max() <= INT_MAX)):
            return value.astype(np.int32)
        return value
    if isinstance(value, list):
        if value and all(isinstance(v, list) for v in value):  # rows of a 2-D array
            rows = [[_inferred(m, v) for v in row] for row in value]
            first = rows[0][0] if rows[0] else 0.0
            return np.array(rows, dtype=dtype_for(TYPE_OF_CLASS.get(type(first))))
        return array_from([_inferred(m, v) for v in value])
    if isinstance(value, tuple):
        return tuple(_inferred(m, v) for v in value)
    if isinstance(value, dict):
        return pmap({_inferred(m, k): _inferred(m, v) for k, v in value.items()})
    return value
