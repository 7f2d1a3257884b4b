"""The offside rule: which layout tokens (VBEGIN `{`, VSEP `;`, VEND `}`) the
post-lexer puts into the token stream, and the layout errors it reports."""

import pytest

from nanopass.diagnostics import DiagnosticError
from nanopass.frontend.parser import layout_tokens

LAYOUT_MARKS = {"VBEGIN": "{", "VSEP": ";", "VEND": "}"}


def stream(source: str) -> str:
    """The token stream as text, layout tokens written as { ; }."""
    return " ".join(LAYOUT_MARKS.get(t.type, t.value) for t in layout_tokens(source))


def types(source: str) -> list[str]:
    return [t.type for t in layout_tokens(source)]


def layout_error(source: str) -> str:
    with pytest.raises(DiagnosticError) as caught:
        layout_tokens(source, "l.clef")
    return str(caught.value.diagnostics[0])


# ---------------------------------------------------------------- let bodies

def test_let_body_on_the_same_line_is_a_block():
    assert stream("let x = 1\nlet y = 2") == "let x = { 1 } ; let y = { 2 }"


def test_let_body_on_following_lines_is_separated_by_lines():
    source = "let f x =\n    let y = x\n    y + 1\n"
    assert stream(source) == "let f x = { let y = { x } ; y + 1 }"


def test_continuation_lines_deeper_than_the_block_add_nothing():
    source = "let f x =\n    g x\n      y\n    h\n"
    assert stream(source) == "let f x = { g x y ; h }"


def test_let_in_on_one_line_closes_the_binding_at_in():
    assert stream("let f = let y = 1 in y") == "let f = { let y = { 1 } in y }"


def test_rec_and_group_at_top_level_and_nested():
    assert stream("let rec f x = g x\nand g x = f x") == "let rec f x = { g x } and g x = { f x }"
    nested = "let h =\n    let rec f x = g x\n    and g x = f x\n    f 1\n"
    assert stream(nested) == "let h = { let rec f x = { g x } and g x = { f x } ; f 1 }"


def test_and_on_the_same_line_closes_the_previous_binding():
    assert stream("let rec f x = 1 and g y = 2") == "let rec f x = { 1 } and g y = { 2 }"


# -------------------------------------------------------------------- match

def test_match_arms_at_the_column_of_match():
    source = "let f x =\n    match x with\n    | 1 -> a\n    | _ -> b\n    c\n"
    assert stream(source) == "let f x = { match x with { | 1 -> { a } | _ -> { b } } ; c }"


def test_match_arms_on_one_line():
    assert stream("let f = match x with | A -> 1 | B -> 2") == \
        "let f = { match x with { | A -> { 1 } | B -> { 2 } } }"


def test_arm_bodies_on_their_own_lines_and_nested_match():
    source = ("let f x =\n"
              "    match x with\n"
              "    | [] -> []\n"
              "    | d :: rest ->\n"
              "        match d with\n"
              "        | Some _ -> rest\n"
              "        | None -> d :: rest\n")
    assert stream(source) == (
        "let f x = { match x with { | [ ] -> { [ ] } | d :: rest -> "
        "{ match d with { | Some _ -> { rest } | None -> { d :: rest } } } } }")


def test_when_guard_and_or_pattern_stay_in_the_arm_head():
    assert stream("let f = match x with\n        | 1 | 2 when ok -> a") == \
        "let f = { match x with { | 1 | 2 when ok -> { a } } }"


# ----------------------------------------------------------------------- if

def test_if_then_else_on_one_line():
    assert stream("let x = if a then b else c") == "let x = { if a then { b } else { c } }"


def test_elif_and_else_on_their_own_lines_at_the_if_column():
    source = "let x =\n    if a then b\n    elif c then d\n    else e\n"
    assert stream(source) == "let x = { if a then { b } elif c then { d } else { e } }"


def test_then_and_else_on_their_own_lines_with_indented_branches():
    source = "let x =\n    if a\n    then\n        b\n    else\n        c\n    d\n"
    assert stream(source) == "let x = { if a then { b } else { c } ; d }"


def test_if_without_else_ends_at_the_next_line_of_its_block():
    source = "let f x =\n    if a then\n        g x\n    h x\n"
    assert stream(source) == "let f x = { if a then { g x } ; h x }"


def test_dangling_else_binds_by_column():
    source = "let x =\n    if a then\n        if b then c\n    else d\n"
    assert stream(source) == "let x = { if a then { if b then { c } } else { d } }"


# ------------------------------------------------------------------- loops

def test_while_and_for_bodies():
    source = "let f x =\n    while a do\n        g x\n    for i in 0 .. n do g i\n    x\n"
    assert stream(source) == "let f x = { while a do { g x } ; for i in 0 .. n do { g i } ; x }"


# -------------------------------------------------- computation expressions

def test_async_block_closed_at_column_one():
    source = "let r = async {\n    let! x = f 1\n    do! g x\n    return x\n}\n"
    assert stream(source) == "let r = { async { let! x = { f 1 } ; do! g x ; return x } }"


def test_query_for_body_may_continue_at_the_column_of_for():
    source = "let s = query {\n            for m in xs do\n            select m }\n"
    assert stream(source) == "let s = { query { for m in xs do { select m } } }"
    assert types(source).count("CE_LBRACE") == 1


def test_for_body_outside_a_computation_expression_must_be_indented():
    # No block opens after `do`: the parser then reports "expected an expression after 'do'".
    assert stream("let f =\n    for m in xs do\n    g m\n") == "let f = { for m in xs do ; g m }"


# ------------------------------------------------------ lambdas in brackets

def test_parenthesised_multi_line_lambda_with_match():
    source = ("let c = Actor.start 0 (fun state msg ->\n"
              "    match msg with\n"
              "    | A b -> (state + b, b)\n"
              "    | B _ -> (state, state))\n")
    assert stream(source) == (
        "let c = { Actor.start 0 ( fun state msg -> { match msg with { | A b -> { ( state + b , b ) } "
        "| B _ -> { ( state , state ) } } } ) }")


def test_pipeline_into_multi_line_lambda_with_else_on_its_own_line():
    source = ("let p xs =\n"
              "    xs\n"
              "    |> Array.map (fun s ->\n"
              "        let v = f s\n"
              "        if v > 0 then g v\n"
              "        else v)\n")
    assert stream(source) == (
        "let p xs = { xs |> Array.map ( fun s -> { let v = { f s } ; "
        "if v > 0 then { g v } else { v } } ) }")


# ---------------------------------------------------------- infix operators

def test_infix_operator_starting_a_line_continues_the_expression():
    assert stream("let x =\n    a\n    |> f\n    |> g\n") == "let x = { a |> f |> g }"
    assert stream("let x =\n    a &&\n    b\n") == "let x = { a && b }"


def test_infix_operator_may_be_undented_by_its_width_plus_one():
    assert stream("let x = a\n      |> f\n") == "let x = { a |> f }"
    assert stream("let x = a\n       + b\n") == "let x = { a + b }"


def test_minus_starting_a_line_with_a_space_is_infix_and_glued_is_a_new_line():
    assert stream("let f =\n    a\n    - b\n") == "let f = { a - b }"
    assert stream("let f =\n    a\n    -b\n") == "let f = { a ; - b }"


# ----------------------------------------------------------- brackets

def test_records_and_lists_with_one_item_per_line():
    assert stream("let p = { X = 1\n          Y = 2 }") == "let p = { { X = 1 ; Y = 2 } }"
    assert stream("let l = [\n    a\n    b\n]") == "let l = { [ a ; b ] }"


def test_semicolon_at_line_end_suppresses_the_separator():
    assert stream("let l = [ a;\n          b ]") == "let l = { [ a ; b ] }"
    assert types("let l = [ a;\n          b ]").count("VSEP") == 0


def test_brackets_close_the_blocks_inside_them():
    assert stream("let x = (if a then b else c)") == "let x = { ( if a then { b } else { c } ) }"


# ---------------------------------------------------------------- retyping

@pytest.mark.parametrize("source, expected", [
    ("let x = f(y)", "HP_LPAR"),
    ("let x = f (y)", "LPAR"),
    ("let x = f -1", "NUMBER"),
    ("let x = f -y", "MINUS_PREFIX"),
    ("let x = a-b", "MINUS"),
    ("let x = a - b", "MINUS"),
])
def test_spacing_decides_the_token(source, expected):
    assert expected in types(source)[3:]


def test_angle_brackets_after_a_name_are_type_arguments_and_split_double_closers():
    kinds = types("extern f : Map<string, Async<int>> -> int")
    assert kinds.count("TYAPP_LT") == 2 and kinds.count("RANGLE") == 2
    assert "COMPOSE_RIGHT" not in kinds


def test_units_of_measure_after_numeric_types_and_literals():
    kinds = types("let x : float<m/s^2> = 2.0<m>")
    assert kinds.count("UNIT_LT") == 2


def test_comparison_glued_to_a_name_is_still_a_comparison():
    assert "TYAPP_LT" not in types("let x = if n<2 then a else b")


# ------------------------------------------------------------------- errors

@pytest.mark.parametrize("source, rendered", [
    ("let x =\tf", "l.clef:1:8: error: tab character: Clef indents with spaces only\n"
                   "let x = f\n"
                   "       ^"),
    ("let f x =\n    let y = 1\n      z\n",
     "l.clef:3:7: error: this line is offside: indent it to column 13 to continue the block above, "
     "or to column 5 to end it\n"
     "      z\n"
     "      ^"),
    ("let x = (1 + 2\nlet y = 3\n",
     "l.clef:2:1: error: expected ')' to close the '(' at 1:9 before this line\n"
     "let y = 3\n"
     "^"),
    ("let x = [1; 2)", "l.clef:1:14: error: expected ']' to close the '[' at 1:9, found ')'\n"
                       "let x = [1; 2)\n"
                       "             ^"),
    ("let x = 1)", "l.clef:1:10: error: unexpected ')': there is no open bracket to close\n"
                   "let x = 1)\n"
                   "         ^"),
    ("let x = f (y", "l.clef:1:11: error: unclosed '(': expected a matching ')' before the end of the input\n"
                     "let x = f (y\n"
                     "          ^"),
    ("  let x = 1\nlet y = 2", "l.clef:2:1: error: this line is indented less than the first declaration "
                               "(column 3)\n"
                               "let y = 2\n"
                               "^"),
    ("let x = [\n1 ]", "l.clef:2:1: error: the contents of this '[' must be indented more than column 1\n"
                       "1 ]\n"
                       "^"),
])
def test_layout_errors_are_located(source, rendered):
    assert layout_error(source) == rendered


def test_tabs_inside_strings_and_comments_are_allowed():
    assert stream('let s = "a\tb" // c\td') == 'let s = { "a\tb" }'
