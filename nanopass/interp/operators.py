"""The scalar operators of ``prim`` nodes, one Python function per (operator, type).

Semantics follow F#: integer arithmetic wraps in its width; integer ``/``
truncates toward zero and ``%`` takes the dividend's sign; dividing an integer
by zero (and ``MinValue / -1``, which .NET traps) raises `Fault`; shift counts
are masked (31 for int, 63 for int64, 7 for uint8, as FSharp.Core does) and
``>>>`` is arithmetic on signed types; float division by zero gives an
infinity or NaN; float ``%`` is ``fmod``; float32 rounds every result to
binary32.  Comparisons are structural on every type.

`operator(op, type_name)` returns the function; `type_name` None (an
untyped graph) dispatches on the class of the first operand at run time.
"""

from __future__ import annotations

import operator as py
from typing import Any, Callable

from nanopass.interp.values import (
    INT64_MIN, INT_MIN, TYPE_OF_CLASS, Fault, float_div, float_mod, round_float32, wrap_int, wrap_int64,
    wrap_uint8)

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": py.eq, "<>": py.ne, "<": py.lt, "<=": py.le, ">": py.gt, ">=": py.ge,
}


def _truncating(wrap: Callable[[int], int], minimum: int | None) -> tuple[Callable, Callable]:
    def divide(a: int, b: int) -> int:
        if b == 0:
            raise Fault("integer division by zero")
        if b == -1 and a == minimum:
            raise Fault("arithmetic overflow: the minimum value divided by -1")
        q = a // b
        if q < 0 and q * b != a:
            q += 1
        return wrap(q)

    def remainder(a: int, b: int) -> int:
        if b == 0:
            raise Fault("integer remainder by zero")
        if b == -1 and a == minimum:
            raise Fault("arithmetic overflow: the minimum value modulo -1")
        q = a // b
        if q < 0 and q * b != a:
            q += 1
        return wrap(a - q * b)

    return divide, remainder


def _integer(wrap: Callable[[int], int], bits: int, minimum: int | None, shift_mask: int) -> dict[str, Callable]:
    divide, remainder = _truncating(wrap, minimum)
    mask = (1 << bits) - 1
    table = {
        "+": lambda a, b: wrap(a + b),
        "-": lambda a, b: wrap(a - b),
        "*": lambda a, b: wrap(a * b),
        "/": divide,
        "%": remainder,
        "&&&": lambda a, b: wrap(a & b),
        "|||": lambda a, b: wrap(a | b),
        "^^^": lambda a, b: wrap(a ^ b),
        "<<<": lambda a, n: wrap((a << (n & shift_mask)) & mask),
        ">>>": lambda a, n: wrap(a >> (n & shift_mask)),
        "neg": lambda a: wrap(-a),
    }
    if minimum is None:  # unsigned: a >> n is already logical
        table.pop("neg")
    return table


def _int32_plus(a: int, b: int) -> int:
    r = a + b
    return r if -2147483648 <= r <= 2147483647 else wrap_int(r)


def _int32_minus(a: int, b: int) -> int:
    r = a - b
    return r if -2147483648 <= r <= 2147483647 else wrap_int(r)


def _int32_times(a: int, b: int) -> int:
    r = a * b
    return r if -2147483648 <= r <= 2147483647 else wrap_int(r)


def _floating(round_: Callable[[float], float]) -> dict[str, Callable]:
    return {
        "+": lambda a, b: round_(a + b),
        "-": lambda a, b: round_(a - b),
        "*": lambda a, b: round_(a * b),
        "/": lambda a, b: round_(float_div(a, b)),
        "%": lambda a, b: round_(float_mod(a, b)),
        "neg": lambda a: round_(-a),
    }


OPERATORS: dict[str, dict[str, Callable]] = {
    "int": {**_integer(wrap_int, 32, INT_MIN, 31), "+": _int32_plus, "-": _int32_minus, "*": _int32_times},
    "int64": _integer(wrap_int64, 64, INT64_MIN, 63),
    "uint8": _integer(wrap_uint8, 8, None, 7),
    "float": {**_floating(float), "+": py.add, "-": py.sub, "*": py.mul, "/": float_div, "%": float_mod,
              "neg": py.neg},
    "float32": _floating(round_float32),
    "string": {"+": py.add},
    "bool": {"not": py.not_},
}
for _table in OPERATORS.values():
    _table.update(COMPARISONS)
OPERATORS["bool"]["not"] = py.not_

# Any other type (tuples, records, unions, lists): comparisons only.
STRUCTURAL = dict(COMPARISONS)


def operator(op: str, type_name: str | None) -> Callable:
    """The function computing ``op`` on operands of ``type_name`` (None: decided per call)."""
    if type_name is None:
        return _dynamic(op)
    table = OPERATORS.get(type_name, STRUCTURAL)
    fn = table.get(op)
    if fn is None:
        raise KeyError(f"operator '{op}' is not defined on {type_name}")
    return fn


def _dynamic(op: str) -> Callable:
    def apply(*operands: Any) -> Any:
        type_name = TYPE_OF_CLASS.get(type(operands[0]))
        fn = OPERATORS.get(type_name, STRUCTURAL).get(op) if type_name else STRUCTURAL.get(op)
        if fn is None:
            raise Fault(f"operator '{op}' is not defined on {type_name or type(operands[0]).__name__} values")
        return fn(*operands)

    return apply

