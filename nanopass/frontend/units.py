"""Units of measure: an abelian group over base units and unit variables.

A `Measure` is in normal form: a product of base units (``volt``, ``m``, ``s``)
and unit variables, each raised to a nonzero integer exponent, kept as sorted
tuples so that equal measures are equal values.  ``ONE`` is the dimensionless
measure (F# writes it ``1``).

Unification solves an equation ``a = b`` over exponents the way F# does
(Kennedy, *Types for Units-of-Measure*, 1996): rewrite it as ``a / b = 1`` and
eliminate the variable with the smallest exponent, introducing a fresh variable
when that exponent does not divide the others.  The solution is the most
general one; an equation without an integer solution (``'u^2 = m``) has none.

`parse_measure` reads F#'s measure syntax: ``m/s^2``, ``kg m/s^2``,
``1/s``, ``m^-1``, ``'u^2``, with juxtaposition binding tighter than ``*``
and ``/`` and ``^`` tightest, as in F#.
"""

from __future__ import annotations

import itertools
import re
from typing import Callable, Iterable, Mapping

import attrs

# One counter for every kind of inference variable (types, measures, numeric
# bases) so that ids never clash between schemes and the unifier.
fresh_ids = itertools.count(1)


def fresh_id() -> int:
    return next(fresh_ids)


def _normal(pairs: Iterable[tuple[object, int]]) -> tuple:
    total: dict = {}
    for key, exponent in pairs:
        total[key] = total.get(key, 0) + exponent
    return tuple(sorted((k, e) for k, e in total.items() if e != 0))


@attrs.frozen(slots=True)
class Measure:
    """Π base^e × Π var^e with nonzero integer exponents, sorted by name / id."""

    bases: tuple[tuple[str, int], ...] = ()
    vars: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def base(name: str) -> "Measure":
        return Measure(((name, 1),), ())

    @staticmethod
    def var(var_id: int) -> "Measure":
        return Measure((), ((var_id, 1),))

    @property
    def is_one(self) -> bool:
        return not self.bases and not self.vars

    def __mul__(self, other: "Measure") -> "Measure":
        if other.is_one:
            return self
        if self.is_one:
            return other
        return Measure(_normal(self.bases + other.bases), _normal(self.vars + other.vars))

    def __pow__(self, power: int) -> "Measure":
        if power == 1:
            return self
        return Measure(
            tuple((k, e * power) for k, e in self.bases) if power else (),
            tuple((k, e * power) for k, e in self.vars) if power else (),
        )

    def inverse(self) -> "Measure":
        return self ** -1

    def __truediv__(self, other: "Measure") -> "Measure":
        return self * other.inverse()

    def var_ids(self) -> tuple[int, ...]:
        return tuple(v for v, _ in self.vars)

    def substitute(self, solution: Mapping[int, "Measure"]) -> "Measure":
        """Replace each solved variable by its measure (one level; see `Unifier.zonk`)."""
        if not any(v in solution for v, _ in self.vars):
            return self
        result = Measure(self.bases, tuple((v, e) for v, e in self.vars if v not in solution))
        for v, e in self.vars:
            if v in solution:
                result = result * solution[v] ** e
        return result

    def show(self, var_name: Callable[[int], str] | None = None) -> str:
        """F# notation: ``m/s^2``, ``kg/(m s^2)``, ``1/s``, ``'u^2``; ``1`` when dimensionless."""
        name = var_name or (lambda v: f"'u{v}")
        factors = [(b, e) for b, e in self.bases] + [(name(v), e) for v, e in self.vars]
        numerator = [_power(n, e) for n, e in factors if e > 0]
        denominator = [_power(n, -e) for n, e in factors if e < 0]
        top = " ".join(numerator) if numerator else "1"
        if not denominator:
            return top
        bottom = denominator[0] if len(denominator) == 1 else "(" + " ".join(denominator) + ")"
        return f"{top}/{bottom}"

    def __str__(self) -> str:
        return self.show()


def _power(name: str, exponent: int) -> str:
    return name if exponent == 1 else f"{name}^{exponent}"


ONE = Measure()


# -- unification -----------------------------------------------------------------

def solve_one(measure: Measure, fresh: Callable[[], int] = fresh_id) -> dict[int, Measure] | None:
    """The most general substitution making ``measure`` dimensionless, or None.

    Kennedy's algorithm: take the variable with the smallest exponent x; if x
    divides every other exponent, solve for it; otherwise substitute it by a
    fresh variable times the integer parts of the other factors' quotients,
    which leaves remainders smaller than x, and repeat.
    """
    solution: dict[int, Measure] = {}
    current = measure
    while True:
        if not current.vars:
            return solution if not current.bases else None
        var, exponent = min(current.vars, key=lambda pair: (abs(pair[1]), pair[0]))
        others = Measure(current.bases, tuple(p for p in current.vars if p[0] != var))
        exponents = [e for _, e in others.bases] + [e for _, e in others.vars]
        if all(e % exponent == 0 for e in exponents):
            step = {var: Measure(
                tuple((b, -e // exponent) for b, e in others.bases),
                tuple((v, -e // exponent) for v, e in others.vars))}
            return _compose(solution, step)
        if not others.vars:
            return None  # a lone variable whose exponent does not divide the base units
        replacement = Measure.var(fresh()) * Measure(
            tuple((b, -(e // exponent)) for b, e in others.bases),
            tuple((v, -(e // exponent)) for v, e in others.vars))
        step = {var: replacement}
        solution = _compose(solution, step)
        current = current.substitute(step)


def _compose(first: dict[int, Measure], then: dict[int, Measure]) -> dict[int, Measure]:
    """The substitution that applies ``first`` and then ``then``."""
    composed = {v: m.substitute(then) for v, m in first.items()}
    for v, m in then.items():
        composed.setdefault(v, m)
    return composed


def unify_measures(a: Measure, b: Measure, fresh: Callable[[], int] = fresh_id) -> dict[int, Measure] | None:
    """The most general substitution making ``a`` equal to ``b``, or None when there is none."""
    return solve_one(a / b, fresh)


# -- F# measure syntax -----------------------------------------------------------

class MeasureSyntaxError(ValueError):
    """A malformed measure; ``offset`` is the character offset of the problem."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


_TOKEN = re.compile(r"\s*(?:(?P<int>-?\d+)|(?P<var>'[A-Za-z_]\w*)|(?P<name>[A-Za-z_]\w*)|(?P<op>[*/^()]))")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            offset = len(text) - len(text[position:].lstrip())
            raise MeasureSyntaxError(f"unexpected character {text[offset]!r} in a unit of measure", offset)
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


def parse_measure(
    text: str,
    base: Callable[[str, int], Measure] = lambda name, offset: Measure.base(name),
    var: Callable[[str, int], Measure] | None = None,
) -> Measure:
    """Read a measure in F# syntax.

    ``base(name, offset)`` resolves a base unit name (and may raise for an
    undeclared one); ``var(name, offset)`` resolves a unit variable such as
    ``'u``.  Offsets are character offsets into ``text``.
    """
    tokens = _tokenize(text)
    position = 0

    def peek() -> tuple[str, str, int]:
        return tokens[position]

    def take() -> tuple[str, str, int]:
        nonlocal position
        token = tokens[position]
        position += 1
        return token

    def quotient() -> Measure:
        # product and quotient at one level, left-associative: a / b * c = (a / b) c
        result = juxtaposition()
        while peek()[1] in ("*", "/"):
            op = take()[1]
            rhs = juxtaposition()
            result = result * rhs if op == "*" else result / rhs
        return result

    def juxtaposition() -> Measure:
        result = power()
        while peek()[0] in ("name", "var", "int") or peek()[1] == "(":
            result = result * power()
        return result

    def power() -> Measure:
        result = atom()
        if peek()[1] == "^":
            take()
            kind, value, offset = take()
            if kind != "int":
                raise MeasureSyntaxError("expected an integer exponent after '^'", offset)
            result = result ** int(value)
        return result

    def atom() -> Measure:
        kind, value, offset = take()
        if kind == "name":
            return base(value, offset)
        if kind == "var":
            if var is None:
                raise MeasureSyntaxError(f"unit variable {value} is not allowed here", offset)
            return var(value, offset)
        if kind == "int":
            if value != "1":
                raise MeasureSyntaxError(f"expected a unit of measure, found the number {value}", offset)
            return ONE
        if value == "(":
            inner = quotient()
            closing = take()
            if closing[1] != ")":
                raise MeasureSyntaxError("expected ')' in a unit of measure", closing[2])
            return inner
        raise MeasureSyntaxError("expected a unit of measure", offset)

    result = quotient()
    kind, value, offset = peek()
    if kind != "end":
        raise MeasureSyntaxError(f"unexpected {value!r} in a unit of measure", offset)
    return result
