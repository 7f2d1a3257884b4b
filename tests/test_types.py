"""Type terms: F# printing and parsing, unification with the occurs check,
numeric constraints and their defaults, generalisation and instantiation."""

import re

import pytest

from nanopass.frontend.intrinsics import INTRINSIC_NAMES, INTRINSICS, OPERATORS
from nanopass.frontend.types import (
    FLOAT, INT, STRING, BaseVar, Constraint, Naming, TArray, TCon, TFun, TPrim, TTuple, TVar,
    TypeSyntaxError, Unifier, UnifyError, function, list_of, map_of, parse_scheme, parse_type, show)
from nanopass.frontend.units import Measure


@pytest.mark.parametrize("text", [
    "float<volt>",
    "float<m/s^2>",
    "int -> int",
    "'a list",
    "(string * string list) list",
    "Map<string,string list>",
    "Async<Map<string,string list>>",
    "Actor<int,int>",
    "(float * bool)[]",
    "float[,]",
    "'a[][]",
    "('a -> 'b) -> 'a[] -> 'b[]",
    "int * int -> int",
    "(int * int) * int",
    "(int -> int)[]",
    "int list[]",
    "'a option list",
    "float<volt>[] -> float[]",
    "string -> Async<Map<string,string list>>",
    "Counter * Leds",
])
def test_printing_round_trips_through_parsing(text):
    assert show(parse_type(text)) == text


def test_parse_builds_the_terms():
    assert parse_type("float<m/s>") == TPrim("float", Measure.base("m") / Measure.base("s"))
    assert parse_type("string list -> int") == TFun(list_of(STRING), INT)
    assert parse_type("(float * bool)[]") == TArray(TTuple((FLOAT, TPrim("bool"))))
    assert parse_type("float[,]") == TArray(FLOAT, 2)
    assert parse_type("Map<string,int>") == map_of(STRING, INT)
    assert parse_type("list<int>") == list_of(INT)


def test_one_variable_name_is_one_variable():
    t = parse_type("'a -> 'a list")
    assert isinstance(t, TFun) and t.result == list_of(t.arg)


@pytest.mark.parametrize("text, message", [
    ("string<m>", "does not take a unit of measure"),
    ("Map<int>", "expects 2 type argument"),
    ("int ->", "expected a type"),
    ("(int", "expected ')'"),
    ("float<m", "expected '>'"),
    ("float<m/>", "expected a unit of measure"),
    ("int $", "unexpected character"),
    ("^a -> ^a", "needs a constraint"),
])
def test_syntax_errors(text, message):
    with pytest.raises(TypeSyntaxError, match=re.escape(message)):
        parse_type(text)


def test_naming_is_in_order_of_appearance_and_shared():
    a, b = TVar(1001), TVar(1002)
    naming = Naming()
    assert show(function(b, a), naming) == "'a -> 'b"
    assert show(a, naming) == "'b"


def test_unify_binds_variables_inside_structures():
    unifier = Unifier()
    a, b = unifier.new_var(1), unifier.new_var(1)
    unifier.unify(function(a, list_of(b)), function(INT, list_of(FLOAT)))
    assert unifier.zonk(function(a, b)) == function(INT, FLOAT)


def test_unify_reports_a_mismatch_with_the_conflicting_pair():
    unifier = Unifier()
    with pytest.raises(UnifyError) as error:
        unifier.unify(function(INT, list_of(INT)), function(INT, list_of(STRING)))
    assert error.value.reason == "mismatch"
    assert (error.value.left, error.value.right) == (INT, STRING)


def test_occurs_check():
    unifier = Unifier()
    a = unifier.new_var(1)
    with pytest.raises(UnifyError) as error:
        unifier.unify(a, list_of(a))
    assert error.value.reason == "occurs"


def test_failed_unification_leaves_no_partial_binding():
    unifier = Unifier()
    a, b = unifier.new_var(1), unifier.new_var(1)
    with pytest.raises(UnifyError):
        unifier.unify(TTuple((a, b, INT)), TTuple((INT, FLOAT, STRING)))
    assert unifier.zonk(TTuple((a, b))) == TTuple((a, b))


def test_chain_compression_is_undone_with_a_failed_unification():
    unifier = Unifier()
    a, b, c = unifier.new_var(1), unifier.new_var(1), unifier.new_var(1)
    unifier.unify(a, b)
    unifier.unify(b, c)
    with pytest.raises(UnifyError):
        # binds c, then compresses a's chain onto int, then fails on the last pair
        unifier.unify(TTuple((c, a, INT)), TTuple((INT, INT, STRING)))
    assert unifier.zonk(a) == c
    unifier.unify(c, FLOAT)
    assert unifier.zonk(a) == FLOAT


def test_tuples_of_different_length_do_not_unify():
    unifier = Unifier()
    with pytest.raises(UnifyError):
        unifier.unify(TTuple((INT, INT)), TTuple((INT, INT, INT)))


def test_arrays_of_different_rank_do_not_unify():
    unifier = Unifier()
    with pytest.raises(UnifyError):
        unifier.unify(TArray(INT, 1), TArray(INT, 2))


def test_a_numeric_variable_accepts_only_its_primitives():
    unifier = Unifier()
    numeric = TPrim(unifier.new_base(Constraint(("int", "float"), "the operator '*'")))
    with pytest.raises(UnifyError) as error:
        unifier.unify(numeric, STRING)
    assert error.value.reason == "constraint"
    assert error.value.constraint.origin == "the operator '*'"
    unifier.unify(numeric, FLOAT)
    assert unifier.zonk(numeric) == FLOAT


def test_two_numeric_variables_intersect_their_constraints():
    unifier = Unifier()
    first = unifier.new_numeric(Constraint(("int", "float", "string"), "+"))
    second = unifier.new_numeric(Constraint(("float", "float32"), "sqrt"))
    unifier.unify(first, second)
    with pytest.raises(UnifyError):
        unifier.unify(first, INT)
    unifier.default_numeric()
    assert unifier.zonk(second) == FLOAT


def test_defaulting_makes_a_numeric_variable_int_and_dimensionless():
    unifier = Unifier()
    add = unifier.instantiate(OPERATORS["+"], 1)
    unifier.default_numeric()
    assert show(unifier.zonk(add)) == "int -> int -> int"


def test_defaulting_makes_unknown_units_dimensionless_and_keeps_known_ones():
    unifier = Unifier()
    times = unifier.instantiate(OPERATORS["*"], 2)
    unknown = TPrim("float", unifier.new_measure(2))
    result = unifier.new_var(2)
    unifier.unify(times, function(parse_type("float<m>"), unknown, result))
    assert show(unifier.zonk(result)) == "float<m 'u>"
    unifier.default_numeric()
    assert show(unifier.zonk(result)) == "float<m>"


def test_zonk_returns_the_same_term_when_nothing_is_solved():
    unifier = Unifier()
    t = function(list_of(unifier.new_var(1)), TArray(INT))
    assert unifier.zonk(t) is t


def test_generalize_quantifies_only_deeper_variables():
    unifier = Unifier()
    outer = unifier.new_var(1)
    inner = unifier.new_var(2)
    scheme = unifier.generalize(function(outer, inner), 1)
    assert scheme.type_vars == (inner.id,)
    first, second = unifier.instantiate(scheme, 1), unifier.instantiate(scheme, 1)
    assert first.arg == second.arg == outer
    assert first.result != second.result and isinstance(first.result, TVar)


def test_binding_lowers_the_level_of_the_bound_type():
    unifier = Unifier()
    outer = unifier.new_var(1)
    inner = unifier.new_var(2)
    unifier.unify(outer, list_of(inner))  # inner is now reachable from the outer scope
    assert unifier.generalize(inner, 1).type_vars == ()


def test_let_polymorphism_instantiates_fresh_each_time():
    unifier = Unifier()
    identity = parse_scheme("'a -> 'a")
    on_int, on_string = unifier.instantiate(identity, 1), unifier.instantiate(identity, 1)
    unifier.unify(on_int, function(INT, unifier.new_var(1)))
    unifier.unify(on_string, function(STRING, unifier.new_var(1)))
    assert show(unifier.zonk(on_int)) == "int -> int"
    assert show(unifier.zonk(on_string)) == "string -> string"


def test_measure_variables_generalise():
    unifier = Unifier()
    square = unifier.instantiate(OPERATORS["*"], 2)
    x = TPrim("float", unifier.new_measure(2))
    result = unifier.new_var(2)
    unifier.unify(square, function(x, x, result))
    scheme = unifier.generalize(function(x, result), 1)
    assert show(scheme.body) == "float<'u> -> float<'u^2>"
    assert len(scheme.measure_vars) == 1


def test_a_statically_resolved_primitive_is_not_generalised():
    unifier = Unifier()
    add = unifier.instantiate(OPERATORS["+"], 2)
    scheme = unifier.generalize(add, 1)
    assert scheme.type_vars == scheme.measure_vars == scheme.base_vars == ()
    assert unifier.unresolved(add)


def test_parse_scheme_quantifies_everything_and_needs_constraints():
    scheme = parse_scheme("('a -> 'b) -> 'a list -> 'b list")
    assert len(scheme.type_vars) == 2
    with pytest.raises(TypeSyntaxError, match="needs a constraint"):
        parse_scheme("^a -> ^a")
    constrained = parse_scheme("^a<'u> -> ^a<'u>", {"^a": Constraint(("float",), "abs")})
    assert len(constrained.base_vars) == 1 and len(constrained.measure_vars) == 1
    assert isinstance(constrained.body.arg.base, BaseVar)


def test_every_intrinsic_of_the_subset_has_a_scheme():
    listed = """Array.map Array.mapi Array.map2 Array.filter Array.reduce Array.fold Array.sum Array.init
    Array.zeroCreate Array.length Array.copy Array.windowed Array.zip Array.Parallel.map Array2D.init
    Array2D.zeroCreate Array2D.length1 Array2D.length2 List.map List.filter List.fold List.collect
    List.distinct List.isEmpty List.length List.rev fst snd Map.empty Map.add Map.find Map.tryFind
    Map.merge Seq.windowed Seq.map Seq.sum sqrt exp log sin cos abs min max floor
    float float32 int int64 uint8""".split()
    assert sorted(INTRINSIC_NAMES) == sorted(listed)
    assert show(INTRINSICS["Array.map"].body) == "('a -> 'b) -> 'a[] -> 'b[]"
    assert show(INTRINSICS["Map.tryFind"].body) == "'a -> Map<'a,'b> -> 'b option"
    assert isinstance(INTRINSICS["Map.empty"].body, TCon)
