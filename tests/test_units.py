"""Units of measure: the abelian group, F# measure syntax, Kennedy unification, and
F#'s rules for operators on measured numbers."""

from math import gcd

import pytest
from hypothesis import given, strategies as st

from nanopass.frontend.intrinsics import INTRINSICS, OPERATORS
from nanopass.frontend.types import Unifier, UnifyError, function, parse_type, show
from nanopass.frontend.units import (
    ONE, Measure, MeasureSyntaxError, fresh_id, parse_measure, solve_one, unify_measures)

m, s, kg = Measure.base("m"), Measure.base("s"), Measure.base("kg")


def test_normal_form_cancels_and_sorts():
    assert (m * s) / s == m
    assert m * s == s * m
    assert (m / m).is_one
    assert (m ** 3) ** -1 == Measure.base("m") ** -3
    assert m ** 0 == ONE


@pytest.mark.parametrize("text, printed", [
    ("m/s^2", "m/s^2"),
    ("m s^-2", "m/s^2"),
    ("kg m/s^2", "kg m/s^2"),
    ("kg/m s^2", "kg/(m s^2)"),   # juxtaposition binds tighter than '/'
    ("kg/(m s^2)", "kg/(m s^2)"),
    ("(m/s)/s", "m/s^2"),
    ("m*s", "m s"),
    ("1/s", "1/s"),
    ("m^-1", "1/m"),
    ("1", "1"),
    ("volt", "volt"),
])
def test_parse_and_print(text, printed):
    assert parse_measure(text).show() == printed


def test_printing_reparses_to_the_same_measure():
    for text in ("m/s^2", "kg/(m s^2)", "1/s", "kg m^2/s^3"):
        measure = parse_measure(text)
        assert parse_measure(measure.show()) == measure


@pytest.mark.parametrize("text, offset", [("m/", 2), ("m^x", 2), ("2 m", 0), ("m $", 2), ("(m", 2)])
def test_syntax_errors_carry_their_offset(text, offset):
    with pytest.raises(MeasureSyntaxError) as error:
        parse_measure(text)
    assert error.value.offset == offset


def test_unit_variables_need_a_resolver():
    with pytest.raises(MeasureSyntaxError, match="unit variable 'u"):
        parse_measure("'u")
    u = Measure.var(fresh_id())
    assert parse_measure("'u^2 m", var=lambda name, offset: u) == u ** 2 * m


def test_base_resolver_sees_offsets():
    seen = []
    parse_measure("m / sec", base=lambda name, offset: seen.append((name, offset)) or Measure.base(name))
    assert seen == [("m", 0), ("sec", 4)]


def test_unify_constants():
    assert unify_measures(m / s, m * s ** -1) == {}
    assert unify_measures(m, s) is None
    assert unify_measures(m, ONE) is None


def test_unify_solves_a_variable():
    u = fresh_id()
    solution = unify_measures(Measure.var(u) * s, m)
    assert solution == {u: m / s}


def test_square_root_needs_an_even_exponent():
    u = fresh_id()
    assert unify_measures(Measure.var(u) ** 2, m ** 2) == {u: m}
    assert unify_measures(Measure.var(u) ** 2, m) is None
    assert unify_measures(Measure.var(u) ** 2, ONE) == {u: ONE}


def test_kennedy_introduces_a_fresh_variable_when_exponents_do_not_divide():
    a, b = fresh_id(), fresh_id()
    equation = Measure.var(a) ** 2 * Measure.var(b) ** 3
    solution = unify_measures(equation, m)
    assert solution is not None
    assert equation.substitute(solution) == m
    # most general: one free variable remains
    free = {v for measure in solution.values() for v in measure.var_ids()}
    assert len(free) == 1 and not free & {a, b}


exponents = st.integers(min_value=-4, max_value=4)


@given(st.lists(exponents, min_size=1, max_size=3), st.lists(exponents, min_size=0, max_size=3))
def test_a_solution_exists_exactly_when_the_gcd_divides(var_exponents, base_exponents):
    measure = ONE
    for e in var_exponents:
        measure = measure * Measure.var(fresh_id()) ** e
    for name, e in zip(("m", "s", "kg"), base_exponents):
        measure = measure * Measure.base(name) ** e
    divisor = 0
    for _, e in measure.vars:
        divisor = gcd(divisor, e)
    solvable = all(e % divisor == 0 for _, e in measure.bases) if divisor else not measure.bases
    solution = solve_one(measure)
    assert (solution is not None) == solvable
    if solution is not None:
        assert measure.substitute(solution).is_one


# -- F#'s rules, through the operator schemes ---------------------------------------

def apply_operator(op, left, right):
    unifier = Unifier()
    result = unifier.new_var(1)
    unifier.unify(unifier.instantiate(OPERATORS[op], 1), function(parse_type(left), parse_type(right), result))
    return show(unifier.zonk(result))


def test_division_and_multiplication_combine_units():
    assert apply_operator("/", "float<m>", "float<s>") == "float<m/s>"
    assert apply_operator("*", "float<m/s>", "float<s>") == "float<m>"
    assert apply_operator("*", "float<volt>", "float") == "float<volt>"
    assert apply_operator("/", "float<m>", "float<m>") == "float"
    assert apply_operator("/", "float", "float<s>") == "float<1/s>"


@pytest.mark.parametrize("op", ["+", "-", "%", "<", "="])
def test_addition_and_comparison_need_equal_units(op):
    with pytest.raises(UnifyError) as error:
        apply_operator(op, "float<m>", "float<s>")
    assert error.value.reason == "measure"
    assert (error.value.left.show(), error.value.right.show()) == ("m", "s")


def test_addition_keeps_the_unit():
    assert apply_operator("+", "float<m/s^2>", "float<m/s^2>") == "float<m/s^2>"


def test_a_literal_is_dimensionless():
    with pytest.raises(UnifyError):
        apply_operator("+", "float<volt>", "float")


def test_conversion_drops_the_unit():
    unifier = Unifier()
    result = unifier.new_var(1)
    unifier.unify(function(parse_type("float<volt>"), result), unifier.instantiate(INTRINSICS["float"], 1))
    assert show(unifier.zonk(result)) == "float"


def test_sqrt_halves_the_unit():
    unifier = Unifier()
    result = unifier.new_var(1)
    unifier.unify(function(parse_type("float<m^2/s^2>"), result), unifier.instantiate(INTRINSICS["sqrt"], 1))
    assert show(unifier.zonk(result)) == "float<m/s>"
    with pytest.raises(UnifyError):
        unifier.unify(function(parse_type("float<m>"), unifier.new_var(1)), unifier.instantiate(INTRINSICS["sqrt"], 1))


def test_sum_keeps_the_unit_of_the_elements():
    unifier = Unifier()
    result = unifier.new_var(1)
    unifier.unify(function(parse_type("float<volt>[]"), result), unifier.instantiate(INTRINSICS["Array.sum"], 1))
    assert show(unifier.zonk(result)) == "float<volt>"
