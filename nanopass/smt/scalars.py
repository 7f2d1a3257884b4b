"""Scalar semantics in z3: the operators of ``prim``, conversions and math, as the interpreter computes them.

The reference is `nanopass.interp.operators` and `nanopass.interp.intrinsics`:

* int / int64 / uint8 are bit-vectors of 32 / 64 / 8 bits and wrap.  ``/``
  truncates toward zero (``bvsdiv``) and ``%`` takes the dividend's sign
  (``bvsrem``); uint8 divides unsigned.  A zero divisor and ``MinValue / -1``
  fault.  Shift counts are masked to 31 / 63 / 7 and ``>>>`` is arithmetic on
  signed types, logical on uint8.
* float / float32 are IEEE binary64 / binary32, rounding to nearest even.
  ``%`` is C's ``fmod`` (built from IEEE ``remainder``: the two differ by one
  divisor when their signs differ).  float32 results equal the interpreter's
  "compute in double, round to single" for ``+ - * / sqrt`` (double rounding
  is innocuous for those), so they are computed in binary32 directly.
* Comparisons are IEEE on floats (``=`` is ``fpEQ``: NaN is not equal to
  itself, ``0.0 = -0.0``), signed on int / int64, unsigned on uint8, code-point
  order on strings, ``false < true`` on bools, lexicographic on tuples (the
  first items that differ decide, as Python's tuples do); records, unions and
  lists compare for equality only.
* A product is declined (`Unsupported`) when z3's rewriter would flatten it
  into more than `MAX_PRODUCT_FACTORS` factors: a value squared again and
  again (``m <- m * m`` in a loop) is a small term whose flattening doubles
  with each square, and z3 runs out of memory before any timeout applies.
* Conversions: a float that is NaN, infinite or out of range becomes the
  minimum int / int64; uint8 takes the low 8 bits of the int conversion; an
  int64 goes to float32 through float (two roundings, as the interpreter does).
* ``sqrt`` and ``floor`` are exact (``floor -0.0`` is ``0.0``, as Python's
  integer floor makes it); ``exp log sin cos`` are uninterpreted functions of
  their sort; ``min`` / ``max`` return their first operand when it is NaN.
"""

from __future__ import annotations

from typing import Any, Callable

import z3

from nanopass.smt.values import (
    BITS, FLOAT_SORTS, RNE, UNIT, Arr, Rec, Scalar, Tup, Uni, Unsupported, leaves)

Fault = Callable[[z3.BoolRef, str], None]
SHIFT_MASKS = {"int": 31, "int64": 63, "uint8": 7}
INTEGER_TYPES = ("int", "int64", "uint8")
FLOAT_TYPES = ("float", "float32")
COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
MAX_PRODUCT_FACTORS = 4096


def minimum(type_name: str) -> z3.BitVecNumRef:
    return z3.BitVecVal(-(1 << (BITS[type_name] - 1)), BITS[type_name])


def constant(value: Any, type_name: str) -> Any:
    """The symbolic value of a ``const`` node."""
    if type_name in ("unit", None) or value is None:
        return UNIT
    if type_name in BITS:
        return Scalar(type_name, z3.BitVecVal(int(value), BITS[type_name]))
    if type_name in FLOAT_SORTS:
        return Scalar(type_name, z3.FPVal(float(value), FLOAT_SORTS[type_name]))
    if type_name == "bool":
        return Scalar("bool", z3.BoolVal(bool(value)))
    if type_name == "string":
        return Scalar("string", z3.StringVal(str(value)))
    raise Unsupported(f"a constant of type {type_name}")


def _shift_count(count: Scalar, type_name: str) -> z3.BitVecRef:
    bits = BITS[type_name]
    n = count.term
    if n.size() < bits:
        n = z3.ZeroExt(bits - n.size(), n)
    elif n.size() > bits:
        n = z3.Extract(bits - 1, 0, n)
    return n & z3.BitVecVal(SHIFT_MASKS[type_name], bits)


def _fmod(x: z3.FPRef, y: z3.FPRef) -> z3.FPRef:
    r = z3.fpRem(x, y)
    toward_x = z3.If(z3.fpIsNegative(x), z3.fpNeg(z3.fpAbs(y)), z3.fpAbs(y))
    keep = z3.Or(z3.fpIsZero(r), z3.fpIsNaN(r), z3.fpIsNegative(r) == z3.fpIsNegative(x))
    return z3.If(keep, r, z3.fpAdd(RNE, r, toward_x))


def flattened_factors(term: z3.ExprRef) -> int:
    """How many factors z3's rewriter makes of ``term`` when it flattens nested bit-vector products (1 for
    anything else)."""
    counts: dict[int, int] = {}
    held = [term]  # keeps the ids in `counts` from being reused by z3 while we walk
    stack = [term]
    while stack:
        node = stack[-1]
        if node.get_id() in counts:
            stack.pop()
            continue
        products = [c for c in node.children() if z3.is_app_of(c, z3.Z3_OP_BMUL)] if z3.is_app_of(
            node, z3.Z3_OP_BMUL) else []
        pending = [c for c in products if c.get_id() not in counts]
        if pending:
            held.extend(pending)
            stack.extend(pending)
            continue
        stack.pop()
        counts[node.get_id()] = 1 if not z3.is_app_of(node, z3.Z3_OP_BMUL) else sum(
            counts[c.get_id()] if z3.is_app_of(c, z3.Z3_OP_BMUL) else 1 for c in node.children())
    return counts[term.get_id()]


def arithmetic(op: str, type_name: str, a: Scalar, b: Scalar, fault: Fault) -> Scalar:
    """A binary operator on two scalars of ``type_name`` (comparisons are `compare`)."""
    x, y = a.term, b.term
    if type_name in BITS:
        signed = type_name != "uint8"
        if op == "+":
            return Scalar(type_name, x + y)
        if op == "-":
            return Scalar(type_name, x - y)
        if op == "*":
            factors = flattened_factors(x) + flattened_factors(y)
            if factors > MAX_PRODUCT_FACTORS:
                raise Unsupported(f"a product of {factors} factors (a value squared again and again), more than "
                                  f"z3's rewriter can flatten", kind="prim")
            return Scalar(type_name, x * y)
        if op in ("/", "%"):
            zero = y == 0
            fault(zero, f"integer {'division' if op == '/' else 'remainder'} by zero")
            if signed:
                fault(z3.And(x == minimum(type_name), y == -1), "arithmetic overflow: the minimum value divided by -1")
                return Scalar(type_name, x / y if op == "/" else z3.SRem(x, y))
            return Scalar(type_name, z3.UDiv(x, y) if op == "/" else z3.URem(x, y))
        if op == "&&&":
            return Scalar(type_name, x & y)
        if op == "|||":
            return Scalar(type_name, x | y)
        if op == "^^^":
            return Scalar(type_name, x ^ y)
        if op == "<<<":
            return Scalar(type_name, x << _shift_count(b, type_name))
        if op == ">>>":
            n = _shift_count(b, type_name)
            return Scalar(type_name, x >> n if signed else z3.LShR(x, n))
    elif type_name in FLOAT_SORTS:
        if op == "+":
            return Scalar(type_name, z3.fpAdd(RNE, x, y))
        if op == "-":
            return Scalar(type_name, z3.fpSub(RNE, x, y))
        if op == "*":
            return Scalar(type_name, z3.fpMul(RNE, x, y))
        if op == "/":
            return Scalar(type_name, z3.fpDiv(RNE, x, y))
        if op == "%":
            return Scalar(type_name, _fmod(x, y))
    elif type_name == "string" and op == "+":
        return Scalar("string", z3.Concat(x, y))
    raise Unsupported(f"the operator '{op}' on {type_name}", kind="prim")


def unary(op: str, type_name: str, a: Scalar) -> Scalar:
    if op == "not" and type_name == "bool":
        return Scalar("bool", z3.Not(a.term))
    if op == "neg":
        if type_name in ("int", "int64"):
            return Scalar(type_name, -a.term)
        if type_name in FLOAT_SORTS:
            return Scalar(type_name, z3.fpNeg(a.term))
    raise Unsupported(f"the operator '{op}' on {type_name}", kind="prim")


# -- comparisons ------------------------------------------------------------------------------------

def _scalar_compare(op: str, a: Scalar, b: Scalar) -> z3.BoolRef:
    x, y, t = a.term, b.term, a.type
    if t in FLOAT_SORTS:
        return {"=": z3.fpEQ, "<": z3.fpLT, "<=": z3.fpLEQ, ">": z3.fpGT, ">=": z3.fpGEQ}[op](x, y) if op != "<>" \
            else z3.Not(z3.fpEQ(x, y))
    if op == "=":
        return x == y
    if op == "<>":
        return z3.Not(x == y)
    if t == "bool":
        less, less_eq = z3.And(z3.Not(x), y), z3.Or(z3.Not(x), y)
        return {"<": less, "<=": less_eq, ">": z3.And(x, z3.Not(y)), ">=": z3.Or(x, z3.Not(y))}[op]
    if t == "uint8":
        return {"<": z3.ULT, "<=": z3.ULE, ">": z3.UGT, ">=": z3.UGE}[op](x, y)
    if t in BITS or t == "string":
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    raise Unsupported(f"ordering values of type {t}", kind="prim")


def compare(op: str, a: Any, b: Any, sequences_equal: Callable[[Arr, Arr], z3.BoolRef]) -> z3.BoolRef:
    """``a op b`` for any two values of one type, as the interpreter's Python comparison decides it.

    ``sequences_equal`` decides the equality of two lists (a bounded walk the
    encoder owns).
    """
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        if a.type != b.type:
            raise Unsupported(f"comparing a {a.type} with a {b.type}", kind="prim")
        return _scalar_compare(op, a, b)
    if a is UNIT and b is UNIT:
        return z3.BoolVal(op in ("=", "<=", ">="))
    if isinstance(a, Tup) and isinstance(b, Tup) and len(a.items) == len(b.items):
        if op in ("=", "<>"):
            same = z3.And([compare("=", x, y, sequences_equal) for x, y in zip(a.items, b.items)])
            return same if op == "=" else z3.Not(same)
        result = z3.BoolVal(op in ("<=", ">="))  # equal tuples
        for x, y in reversed(list(zip(a.items, b.items))):
            result = z3.If(compare("=", x, y, sequences_equal), result, compare(op, x, y, sequences_equal))
        return result
    if op not in ("=", "<>"):
        raise Unsupported(f"ordering {type(a).__name__} values", kind="prim")
    same = _equal(a, b, sequences_equal)
    return same if op == "=" else z3.Not(same)


def _equal(a: Any, b: Any, sequences_equal: Callable[[Arr, Arr], z3.BoolRef]) -> z3.BoolRef:
    if isinstance(a, Rec) and isinstance(b, Rec):
        if a.type != b.type or sorted(a.names) != sorted(b.names):
            return z3.BoolVal(False)
        return z3.And([compare("=", a.get(n), b.get(n), sequences_equal) for n in a.names])
    if isinstance(a, Uni) and isinstance(b, Uni) and a.type == b.type:
        from nanopass.smt.values import tag_sort_of

        _, constants = tag_sort_of(a)
        cases = [z3.BoolVal(False)]
        for case, payload in a.cases:
            other = b.payload(case)
            if other is None:
                continue
            fields = [compare("=", x, y, sequences_equal) for x, y in zip(payload, other)]
            cases.append(z3.And(a.tag == constants[case], b.tag == constants[case], *fields))
        return z3.Or(cases)
    if isinstance(a, Arr) and isinstance(b, Arr) and a.container == b.container == "list":
        return sequences_equal(a, b)
    if isinstance(a, Arr) or isinstance(b, Arr):
        raise Unsupported("comparing arrays (numpy compares them element by element)", kind="prim")
    list(leaves(a)), list(leaves(b))  # raises Unsupported for function values
    raise Unsupported(f"comparing values of different shapes ({type(a).__name__}, {type(b).__name__})", kind="prim")


# -- conversions and math -------------------------------------------------------------------------------

def _to_double(a: Scalar) -> z3.FPRef:
    return a.term if a.type == "float" else z3.fpToFP(RNE, a.term, z3.Float64())


def _float_to_integer(a: Scalar, bits: int) -> z3.BitVecRef:
    """Truncation toward zero; NaN, infinities and values out of range give the minimum."""
    x = _to_double(a)
    low = float(-(1 << (bits - 1)))
    high = float(1 << (bits - 1))
    if bits == 32:
        fits = z3.And(z3.fpGT(x, z3.FPVal(low - 1.0, z3.Float64())), z3.fpLT(x, z3.FPVal(high, z3.Float64())))
    else:
        fits = z3.And(z3.fpGEQ(x, z3.FPVal(low, z3.Float64())), z3.fpLT(x, z3.FPVal(high, z3.Float64())))
    return z3.If(fits, z3.fpToSBV(z3.RTZ(), x, z3.BitVecSort(bits)), z3.BitVecVal(-(1 << (bits - 1)), bits))


def _resize(term: z3.BitVecRef, source: str, bits: int) -> z3.BitVecRef:
    size = term.size()
    if size == bits:
        return term
    if size > bits:
        return z3.Extract(bits - 1, 0, term)
    return z3.ZeroExt(bits - size, term) if source == "uint8" else z3.SignExt(bits - size, term)


def convert(target: str, a: Scalar) -> Scalar:
    """``float``, ``float32``, ``int``, ``int64``, ``uint8`` of a numeric scalar."""
    source = a.type
    if source not in BITS and source not in FLOAT_SORTS:
        raise Unsupported(f"converting a {source} to {target}", kind="native")
    if target in FLOAT_SORTS:
        if source == target:
            return a
        if source in FLOAT_SORTS:
            return Scalar(target, z3.fpToFP(RNE, a.term, FLOAT_SORTS[target]))
        to_double = (z3.fpUnsignedToFP if source == "uint8" else z3.fpSignedToFP)(RNE, a.term, z3.Float64())
        if target == "float":
            return Scalar("float", to_double)
        return Scalar("float32", z3.fpToFP(RNE, to_double, z3.Float32()))
    if target in ("int", "int64"):
        bits = BITS[target]
        if source in FLOAT_SORTS:
            return Scalar(target, _float_to_integer(a, bits))
        return Scalar(target, _resize(a.term, source, bits))
    if target == "uint8":
        if source in FLOAT_SORTS:
            return Scalar("uint8", z3.Extract(7, 0, _float_to_integer(a, 32)))
        return Scalar("uint8", z3.Extract(7, 0, a.term))
    raise Unsupported(f"the conversion {target}", kind="native")


def square_root(a: Scalar) -> Scalar:
    _require_float(a, "sqrt")
    return Scalar(a.type, z3.fpSqrt(RNE, a.term))


def floor(a: Scalar) -> Scalar:
    _require_float(a, "floor")
    rounded = z3.fpRoundToIntegral(z3.RTN(), a.term)
    positive_zero = z3.FPVal(0.0, FLOAT_SORTS[a.type])
    return Scalar(a.type, z3.If(z3.fpIsZero(rounded), positive_zero, rounded))


def absolute(a: Scalar, fault: Fault) -> Scalar:
    if a.type in FLOAT_SORTS:
        return Scalar(a.type, z3.fpAbs(a.term))
    if a.type in ("int", "int64"):
        fault(a.term == minimum(a.type), "arithmetic overflow: 'abs' of the minimum value")
        return Scalar(a.type, z3.If(a.term < 0, -a.term, a.term))
    raise Unsupported(f"abs of a {a.type}", kind="native")


def is_nan(a: Any) -> z3.BoolRef:
    """Whether ``a != a`` holds (a NaN float; nothing else in the interpreter's values)."""
    if isinstance(a, Scalar) and a.type in FLOAT_SORTS:
        return z3.fpIsNaN(a.term)
    return z3.BoolVal(False)


def _require_float(a: Scalar, name: str) -> None:
    if not isinstance(a, Scalar) or a.type not in FLOAT_SORTS:
        raise Unsupported(f"{name} of a non-float value", kind="native")
