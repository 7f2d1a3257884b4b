"""Flow-loss algebra: the numbers, intervals and closed forms the `flowloss` analysis computes with.

Its one concern is arithmetic on figures that may be symbolic in the sizes.
A figure is a Python ``int`` when it is known (the fast path: most of an
analysis at given sizes never leaves ints) or a sympy expression in the size
symbols (``3*n``), with ``INF`` (sympy's ``oo``) for an unbounded end.
`Range` is an interval ``[lo, hi]`` of figures.

Times are *max-plus* expressions: built from constants, ``max`` and ``+ c``
only (an operation finishes at the latest of its operands plus its cost), so a
time that depends on the times carried into a loop iteration is
``max(b, t_1 + c_1, ..., t_k + c_k)``.  `maxplus_terms` takes such an
expression apart and `chain_bound` gives the closed form of k iterations of
it, which is how loops and reductions are summed without unrolling them.

`plain_figure` writes a figure as plain data for an annotation table (so it
round-trips through the psg text form) and `figure_of` reads it back,
building only the few operators figures use, never evaluating text.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Mapping

import attrs
import sympy as sp
from sympy.printing.str import StrPrinter

from nanopass.annotation_codec import NotEncodable, register_encoding

INF = sp.oo
SMALL_COMPARISON = 24  # operations in a comparison sympy is asked to decide (beyond, it may take seconds)
Figure = Any  # int | sympy.Expr


class CeilLog2(sp.Function):
    """ceil(log2 k) for k >= 1 (0 for k <= 1): the levels of a balanced tree over k leaves."""

    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, k):
        if k.is_Integer:
            return sp.Integer(max(int(k) - 1, 0).bit_length())
        if k is INF:
            return INF
        return None


def norm(x: Figure) -> Figure:
    """An int when the figure is a known integer, else the sympy expression."""
    if type(x) is int:
        return x
    if isinstance(x, sp.Integer):
        return int(x)
    if isinstance(x, bool):
        return int(x)
    return x


def add(*xs: Figure) -> Figure:
    total: Figure = 0
    for x in xs:
        if type(total) is int and type(x) is int:
            total += x
        elif x is INF or total is INF:
            return INF
        else:
            total = norm(sp.Add(total, x))
    return total


def sub(a: Figure, b: Figure) -> Figure:
    if type(a) is int and type(b) is int:
        return a - b
    if a is INF:
        return INF
    return norm(sp.Add(a, sp.Mul(-1, b)))


def mul(a: Figure, b: Figure) -> Figure:
    """A product where nothing times anything is nothing (0 * INF = 0: no iterations do no work)."""
    if type(a) is int and type(b) is int:
        return a * b
    if (type(a) is int and a == 0) or (type(b) is int and b == 0):
        return 0
    if a is INF or b is INF:
        return INF
    return norm(sp.expand(sp.Mul(a, b)))


def _nonnegative(d: Any) -> bool:
    """Whether ``d`` is provably >= 0, cheaply: a number, or a polynomial with non-negative coefficients in
    symbols that are non-negative."""
    if type(d) is int:
        return d >= 0
    return _nonnegative_expression(d)


@functools.lru_cache(maxsize=1 << 16)
def _nonnegative_expression(d: Any) -> bool:
    if d.has(sp.Max, sp.Min):
        return False
    d = sp.expand(d)
    if d.is_Number:
        return bool(d >= 0)
    if d.has(INF):
        return bool(d == INF)
    symbols = d.free_symbols
    if not all(sym.is_nonnegative for sym in symbols):
        return False
    # a positive integer is 1 + a non-negative one: n - 1 >= 0
    shifted = {sym: _SHIFTED.setdefault(sym, sp.Symbol(f"{sym}_less_one", nonnegative=True)) + 1
               for sym in symbols if sym.is_positive and sym.is_integer}
    if shifted:
        d = sp.expand(d.xreplace(shifted))
    generators = sorted(d.atoms(sp.Symbol, CeilLog2), key=str)  # ceil(log2 n) >= 0 is a generator too
    if not generators:
        return bool(d >= 0)
    if not d.is_polynomial(*generators):
        return False
    return all(c >= 0 for c in sp.Poly(d, *generators).coeffs())


_SHIFTED: dict = {}


def _extremes(items: list, largest: bool) -> list:
    """The arguments of a max (min) with nested ones flattened and dominated ones dropped."""
    flat: list = []
    kind = sp.Max if largest else sp.Min
    for x in items:
        flat.extend(x.args if isinstance(x, kind) else [x])
    ints = [x for x in flat if type(x) is int or isinstance(x, sp.Integer)]
    rest = list(dict.fromkeys(x for x in flat if not (type(x) is int or isinstance(x, sp.Integer))))
    args = ([max(int(x) for x in ints) if largest else min(int(x) for x in ints)] if ints else []) + rest

    def beats(b: Any, a: Any) -> bool:  # b is at least as far out as a
        return _nonnegative(b - a if largest else a - b)

    # a dominated argument goes; of two equal ones the first stays
    return [a for k, a in enumerate(args)
            if not any(j != k and beats(b, a) and (j < k or not beats(a, b)) for j, b in enumerate(args))]


def smax(*xs: Figure) -> Figure:
    """The largest of the figures (symbolic when they cannot be compared)."""
    items = [x for x in xs if x is not None]
    if not items:
        return 0
    if all(type(x) is int for x in items):
        return max(items)
    if any(x is INF for x in items):
        return INF
    kept = _extremes(items, True)
    return norm(kept[0]) if len(kept) == 1 else sp.Max(*kept, evaluate=False)


def smin(*xs: Figure) -> Figure:
    items = [x for x in xs if x is not None]
    if not items:
        return 0
    if all(type(x) is int for x in items):
        return min(items)
    finite = [x for x in items if x is not INF]
    if not finite:
        return INF
    kept = _extremes(finite, False)
    return norm(kept[0]) if len(kept) == 1 else sp.Min(*kept, evaluate=False)


def ceil_log2(x: Figure) -> Figure:
    if type(x) is int:
        return max(x - 1, 0).bit_length()
    if x is INF:
        return INF
    return CeilLog2(x)


def provably(relation: Any) -> bool:
    """Whether a comparison of figures holds for every value of the symbols (False when unknown)."""
    if isinstance(relation, bool):
        return relation
    return relation is sp.true


def ge(a: Figure, b: Figure) -> bool:
    """a >= b provably (sympy decides small comparisons the cheap check leaves open)."""
    if type(a) is int and type(b) is int:
        return a >= b
    if a is INF:
        return True
    if b is INF:
        return False
    if _nonnegative(sub(a, b)):
        return True
    if sp.count_ops(a) + sp.count_ops(b) > SMALL_COMPARISON:
        return False
    return provably(sp.Ge(a, b))


def is_zero(x: Figure) -> bool:
    return type(x) is int and x == 0


def substitute(x: Figure, mapping: Mapping) -> Figure:
    """``x`` with symbols replaced; maxes and mins are rebuilt by `smax` / `smin` (sympy's own evaluation
    of a large max can take seconds)."""
    if type(x) is int or not mapping or not (x.free_symbols & mapping.keys()):
        return x
    return norm(_substituted(x, mapping))


def _substituted(x: Any, mapping: Mapping) -> Any:
    if x in mapping:
        value = mapping[x]
        return sp.Integer(value) if type(value) is int else value
    if not x.args or not (x.free_symbols & mapping.keys()):
        return x
    args = [_substituted(a, mapping) for a in x.args]
    if isinstance(x, sp.Max):
        return smax(*(norm(a) for a in args))
    if isinstance(x, sp.Min):
        return smin(*(norm(a) for a in args))
    return x.func(*args)


def free(x: Figure) -> frozenset:
    return frozenset() if type(x) is int else frozenset(x.free_symbols)


def depends(x: Figure, symbols: Iterable) -> bool:
    return type(x) is not int and bool(free(x) & set(symbols))


def number(x: Figure) -> int | None:
    """The int a figure is, when it is one."""
    x = norm(x)
    return x if type(x) is int else None


# -- intervals ---------------------------------------------------------------------------------

@attrs.frozen(slots=True)
class Range:
    """A closed interval of figures; ``hi`` may be ``INF``."""

    lo: Figure
    hi: Figure

    @property
    def exact(self) -> bool:
        return self.lo == self.hi and self.hi is not INF

    @property
    def bounded(self) -> bool:
        return self.hi is not INF


ZERO = Range(0, 0)
ANY_TIME = Range(0, INF)


def point(x: Figure) -> Range:
    return Range(x, x)


def r_max(*rs: Range) -> Range:
    return Range(smax(*(r.lo for r in rs)), smax(*(r.hi for r in rs)))


def r_hull(*rs: Range) -> Range:
    return Range(smin(*(r.lo for r in rs)), smax(*(r.hi for r in rs)))


def r_add(r: Range, c: Figure | Range) -> Range:
    if isinstance(c, Range):
        return Range(add(r.lo, c.lo), add(r.hi, c.hi))
    return Range(add(r.lo, c), add(r.hi, c))


# -- max-plus closed forms ------------------------------------------------------------------------

def _max_terms(expr: Any) -> list:
    """The arguments of a max, with ``+`` distributed over every max inside (``max(a, b) + c`` is
    ``max(a + c, b + c)``)."""
    if isinstance(expr, sp.Max):
        return [t for a in expr.args for t in _max_terms(a)]
    if isinstance(expr, sp.Add):
        for arg in expr.args:
            if isinstance(arg, sp.Max):
                rest = expr - arg
                return [t for a in arg.args for t in _max_terms(a + rest)]
    return [expr]


def maxplus_terms(expr: Figure, symbols: Iterable) -> tuple[Figure | None, dict] | None:
    """``expr`` as ``max(b, s_1 + c_1, ...)`` over ``symbols``: (b or None, {s: c}); None when it is not one."""
    wanted = set(symbols)
    if type(expr) is int or not (expr.free_symbols & wanted):
        return expr, {}
    constant: Figure | None = None
    offsets: dict = {}
    for arg in _max_terms(expr):
        independent, dependent = arg.as_independent(*wanted, as_Add=True)
        if dependent == 0:
            constant = smax(constant, norm(independent)) if constant is not None else norm(independent)
            continue
        if dependent not in wanted or (independent != 0 and independent.free_symbols & wanted):
            return None
        offsets[dependent] = smax(offsets[dependent], norm(independent)) if dependent in offsets else norm(independent)
    return constant, offsets


def chain_bound(start: Figure, constant: Figure | None, step: Figure | None, count: Figure) -> Figure:
    """The value after ``count`` >= 1 applications of ``x -> max(constant, x + step)`` from ``start``.

    ``max(start + count*step, constant + (count - 1)*step)``; a missing step
    means the value does not depend on the one before (it is ``constant``),
    a missing constant that it is only the chain.
    """
    if step is None:
        return constant if constant is not None else start
    chained = add(start, mul(count, step))
    if constant is None:
        return chained
    return smax(chained, add(constant, mul(sub(count, 1), step)))


def tidy(x: Figure) -> Figure:
    """A figure with ``+`` distributed over its maxes and dominated arguments dropped (``max(2, n)``)."""
    if type(x) is int or x is INF or not x.has(sp.Max):
        return x
    return smax(*_max_terms(x))


# -- printing -------------------------------------------------------------------------------------

class _FigurePrinter(StrPrinter):
    """``3n`` for a number times one symbol, ``ceil(log2(n))``, ``max(...)``; sympy's form otherwise."""

    def _print_Mul(self, expr):
        coefficient, rest = expr.as_coeff_Mul()
        if coefficient.is_Integer and coefficient > 1 and rest.is_Symbol:
            return f"{coefficient}{self._print(rest)}"
        return super()._print_Mul(expr)

    def _print_CeilLog2(self, expr):
        return f"ceil(log2({self._print(expr.args[0])}))"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in sorted(expr.args, key=str)) + ")"

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in sorted(expr.args, key=str)) + ")"

    def _print_Infinity(self, expr):
        return "unbounded"


_PRINTER = _FigurePrinter()


def show(x: Figure) -> str:
    if type(x) is int:
        return str(x)
    return _PRINTER.doprint(x)


# -- plain form -------------------------------------------------------------------------------------
# A figure as plain data (int, str, None, tuples), for annotation tables the psg text holds: an int is
# itself, an unbounded end None, a formula a tree of (operator, operands...) over the few operators
# figures use.  Reading a tree back builds only these; it never evaluates text.
_OPERATORS = {"Add": sp.Add, "Mul": sp.Mul, "Pow": sp.Pow, "Max": sp.Max, "Min": sp.Min, "Mod": sp.Mod}
_FUNCTIONS = {"floor": sp.floor, "CeilLog2": CeilLog2}
_ASSUMPTIONS = ("integer", "nonnegative", "positive")


class NotAFigure(ValueError):
    """A plain tree that no figure prints as."""


def plain_figure(x: Figure) -> Any:
    """A figure as plain data (see `figure_of` for the way back)."""
    x = norm(x)
    if type(x) is int:
        return x
    if x is INF:
        return None
    if isinstance(x, sp.Rational):
        return ("Rational", int(x.p), int(x.q))
    if isinstance(x, sp.Symbol):
        return ("Symbol", x.name, tuple(a for a in _ASSUMPTIONS if x.assumptions0.get(a)))
    name = type(x).__name__
    if name in _OPERATORS or name in _FUNCTIONS:
        return (name, *(plain_figure(a) for a in x.args))
    raise NotAFigure(f"{x!r} is not a figure")


def figure_of(data: Any) -> Figure:
    """The figure a plain tree of `plain_figure` stands for."""
    if data is None:
        return INF
    if type(data) is int:
        return data
    if not isinstance(data, tuple) or not data or not isinstance(data[0], str):
        raise NotAFigure(f"{data!r} is not the plain form of a figure")
    head, args = data[0], data[1:]
    if head == "Rational" and len(args) == 2 and all(type(a) is int for a in args):
        return sp.Rational(*args)
    if head == "Symbol" and len(args) == 2 and isinstance(args[0], str):
        return sp.Symbol(args[0], **{a: True for a in args[1] if a in _ASSUMPTIONS})
    operands = [sp.sympify(figure_of(a)) for a in args]
    if head in _OPERATORS:
        return norm(_OPERATORS[head](*operands, evaluate=False))
    if head in _FUNCTIONS:
        return norm(_FUNCTIONS[head](*operands))
    raise NotAFigure(f"{head!r} is not an operator of figures")


def _encoded_figure(x: sp.Basic) -> Any:
    try:
        return plain_figure(x)
    except NotAFigure as reason:
        raise NotEncodable(str(reason)) from None


# Facts that hold figures (the flowloss table) go through the psg text as their plain trees.
register_encoding(sp.Basic, _encoded_figure, f"{__name__}:figure_of")
