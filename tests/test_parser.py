"""The Clef parser: the shared examples, each construct's AST, literals, and the
exact rendering of its diagnostics."""

import enum
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest

from nanopass.diagnostics import DiagnosticError
from nanopass.frontend import ast
from nanopass.frontend.parser import MAX_NESTING_DEPTH, parse_program

EXAMPLES = Path("/work/shared/examples")
if not EXAMPLES.is_dir():  # a checkout without the shared folder
    EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def sx(value) -> str:
    """A compact s-expression of an AST, without spans: names and literals print
    bare (`x`, `1:int`), other nodes as `(Class field ...)`."""
    if isinstance(value, ast.Var):
        return value.name
    if isinstance(value, ast.Literal) and value.unit is None:
        return f"{value.value!r}:{value.kind.value}"
    if isinstance(value, ast.NamePattern):
        return value.name
    if isinstance(value, ast.TypeName) and not value.args:
        return value.name
    if isinstance(value, tuple):
        return "[" + " ".join(sx(item) for item in value) + "]"
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, ast.Node):
        fields = [sx(getattr(value, f.name)) for f in attrs.fields(type(value)) if f.name != "span"]
        return "(" + " ".join([type(value).__name__, *fields]) + ")"
    return "-" if value is None else str(value)


def parse(source: str) -> ast.Program:
    return parse_program(source, "t.clef")


def body(source: str) -> str:
    """The s-expression of the body of the last `let` in `source`."""
    return sx(parse(source).decls[-1].bindings[0].body)


def expr(text: str) -> str:
    return body(f"let it = {text}")


def error(source) -> str:
    with pytest.raises(DiagnosticError) as caught:
        parse_program(source, "t.clef")
    return str(caught.value.diagnostics[0])


def walk(node):
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        for f in attrs.fields(type(node)):
            value = getattr(node, f.name)
            items = value if isinstance(value, tuple) else (value,)
            stack.extend(item for item in items if isinstance(item, ast.Node))


# ------------------------------------------------------------ the examples

@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.clef")), ids=lambda p: p.name)
def test_every_example_parses_with_spans_inside_the_file(path):
    text = path.read_text()
    program = parse_program(text, str(path))
    lines = text.splitlines()
    assert program.decls
    for node in walk(program):
        span = node.span
        assert span.file == str(path)
        assert 1 <= span.line <= span.end_line <= len(lines)
        assert (span.line, span.col) <= (span.end_line, span.end_col)


def example(name: str) -> ast.Program:
    return parse_program((EXAMPLES / name).read_text(), name)


def test_process_is_three_externs_and_a_pipe_chain_of_three_maps():
    program = example("process.clef")
    kinds = [type(d).__name__ for d in program.decls]
    assert kinds == ["MeasureDecl", "ExternDecl", "ExternDecl", "ExternDecl", "LetDecl"]
    assert [d.name for d in program.decls[1:4]] == ["calibrate", "extractScore", "normalize"]
    assert all(sx(d.attributes) == "[(Attribute Pure [])]" for d in program.decls[1:4])
    assert sx(program.decls[1].type) == "(FunctionType (MeasuredType float (UnitName volt)) float)"
    process = program.decls[4].bindings[0]
    assert process.name == "process"
    assert sx(process.params) == "[(TypedPattern frame (ArrayType (MeasuredType float (UnitName volt)) 1))]"
    assert sx(process.return_type) == "(ArrayType float 1)"
    assert sx(process.body) == (
        "(BinOp |> (BinOp |> (BinOp |> frame (App Array.map [calibrate])) "
        "(App Array.map [extractScore])) (App Array.map [normalize]))")


def test_branchy_lambda_body_is_a_let_then_an_if():
    program = example("branchy.clef")
    assert sx(program.decls[2].attributes) == "[(Attribute Pure []) (Attribute Cost [38:int])]"
    assert sx(program.decls[4].bindings[0].body) == (
        "(BinOp |> frame (App Array.map [(Lambda [s] (Let [(Binding scored [] - (App extractScore [s]) False)] "
        "False (If (BinOp > scored gate) (App refine [scored]) scored)))]))")


def test_actors_handlers_method_calls_and_typed_tuple_parameter():
    program = example("actors.clef")
    assert sx(program.decls[0]) == (
        "(UnionDecl Msg [] [(UnionCase Commit [int]) (UnionCase Discard [int])] [])")
    parser_actor = program.decls[2].bindings[0].body
    assert sx(parser_actor) == (
        "(App Actor.start [0:int (Lambda [state batch] (Let [(Binding total [] - "
        "(MethodCall catalog PostAndReply [(App Commit [batch])]) False)] False "
        "(Sequence [(MethodCall catalog Tell [(App Discard [batch])]) "
        "(Tuple [(BinOp + state 1:int) total])])))])")
    dispatcher = program.decls[4].bindings[0].body
    assert sx(dispatcher.args[1].params) == (
        "[state (TuplePattern [(TypedPattern target (TypeName Actor [int int])) (TypedPattern batch int)])]")


def test_counter_is_a_hardware_module_with_elif_chain():
    program = example("counter.clef")
    step = program.decls[3]
    assert sx(step.attributes) == "[(Attribute HardwareModule [])]"
    assert sx(step.bindings[0].return_type) == "(TupleType [Counter Leds])"
    next_value = step.bindings[0].body.bindings[0].body
    assert sx(next_value) == (
        "(If (BinOp && (FieldAccess i Up) (UnOp not (FieldAccess i Down))) "
        "(BinOp + (FieldAccess s Count) 1:uint8) "
        "(If (BinOp && (FieldAccess i Down) (UnOp not (FieldAccess i Up))) "
        "(BinOp - (FieldAccess s Count) 1:uint8) "
        "(FieldAccess s Count)))")


def test_resolver_async_loop_with_let_bang_query_and_assignments():
    program = example("resolver.clef")
    assert sx(program.decls[1].type) == (
        "(FunctionType (TypeName list [string]) (TypeName Async [(TypeName list [Manifest])]))")
    assert program.decls[3].rec is True
    resolve = program.decls[5].bindings[0].body
    assert isinstance(resolve, ast.CompExpr) and resolve.builder == "async"
    loop = resolve.body.body.body.exprs[0]
    assert isinstance(loop, ast.While)
    assert sx(loop.body.value) == "(App fetchAll [frontier])"
    solved = loop.body.body.bindings[0].body
    assert sx(solved) == (
        "(CompExpr query (ForEach m manifests (Select (Tuple [(FieldAccess m Id) (App constraintsOf [m])]))))")
    assert sx(resolve.body.body.body.exprs[1]) == "(Return resolved)"


def test_matmul_for_loop_with_2d_index_assignment():
    loop = example("matmul.clef").decls[0].bindings[0].body.body.body.body.args[2].body.body.exprs[0]
    assert sx(loop) == (
        "(ForRange p 0:int (BinOp - k 1:int) "
        "(Assign acc (BinOp + acc (BinOp * (Index a [i p]) (Index b [p j])))))")


def test_montecarlo_hex_int64_and_bitwise_operators():
    hash_body = example("montecarlo.clef").decls[0].bindings[0].body
    assert sx(hash_body.bindings[0].body) == (
        "(BinOp * (BinOp ^^^ x (BinOp >>> x 33:int)) 7109453100751455733:int64)")


def test_dataset_operator_section():
    assert sx(example("dataset.clef").decls[2].bindings[0].body.right) == "(App Array.reduce [+])"


def test_timeseries_parallel_map_and_index():
    program = example("timeseries.clef")
    chain = program.decls[2].bindings[0].body
    assert sx(chain.left.right) == "(App Array.windowed [100:int])"
    assert sx(chain.right.function) == "Array.Parallel.map"
    assert sx(program.decls[2].bindings[0].return_type) == "(ArrayType (TupleType [float bool]) 1)"


def test_nappy_kernel_attribute_with_string_argument():
    assert sx(example("nappy.clef").decls[0].attributes) == "[(Attribute Kernel ['npu':string])]"


# ------------------------------------------------------------- declarations

def test_declarations():
    program = parse(
        "[<Measure>] type m\n"
        "type P = { X: float; mutable Y: float<m> }\n"
        "type Box<'T> = { Value: 'T }\n"
        "type U = A | B of int * string | C of (int * int)\n"
        "extern e : float -> float\n"
        "let rec f x = g x\nand g x = f x\n"
        "let mutable counter = 0\n"
        "let (a, b) = (1, 2)\n")
    measure, point, box, union, extern, group, counter, pair = program.decls
    assert sx(measure) == "(MeasureDecl m [(Attribute Measure [])])"
    assert sx(point) == (
        "(RecordDecl P [] [(RecordField X float False) (RecordField Y (MeasuredType float (UnitName m)) True)] [])")
    assert box.type_params == ("T",)
    assert sx(union.cases) == (
        "[(UnionCase A []) (UnionCase B [int string]) (UnionCase C [(TupleType [int int])])]")
    assert sx(extern) == "(ExternDecl e (FunctionType float float) [])"
    assert group.rec and [b.name for b in group.bindings] == ["f", "g"]
    assert counter.bindings[0].mutable
    assert pair.bindings[0].name is None and sx(pair.bindings[0].pattern) == "(TuplePattern [a b])"


def test_binding_with_unit_parameter_and_annotations():
    binding = parse("let main () : int = 0").decls[0].bindings[0]
    assert sx(binding.params) == "[(LiteralPattern None:unit)]"
    assert sx(binding.return_type) == "int"


@pytest.mark.parametrize("text, expected", [
    ("int64 -> uint8 -> float32", "(FunctionType int64 (FunctionType uint8 float32))"),
    ("'T list option", "(TypeName option [(TypeName list [(TypeVar T)])])"),
    ("'T[,]", "(ArrayType (TypeVar T) 2)"),
    ("Map<'K, 'V>", "(TypeName Map [(TypeVar K) (TypeVar V)])"),
    ("Actor<int, Async<int>>", "(TypeName Actor [int (TypeName Async [int])])"),
    ("(int -> int) * bool", "(TupleType [(FunctionType int int) bool])"),
    ("float<m/s^2>", "(MeasuredType float (UnitQuotient (UnitName m) (UnitPower (UnitName s) 2)))"),
    ("float<kg m s^-2>", "(MeasuredType float (UnitProduct (UnitProduct (UnitName kg) (UnitName m)) "
                         "(UnitPower (UnitName s) -2)))"),
    ("float32<1/s>", "(MeasuredType float32 (UnitQuotient (UnitOne) (UnitName s)))"),
    ("unit", "unit"),
])
def test_types(text, expected):
    assert sx(parse(f"extern e : {text}").decls[0].type) == expected


# --------------------------------------------------------------- expressions

@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3 - 4 % 5", "(BinOp - (BinOp + 1:int (BinOp * 2:int 3:int)) (BinOp % 4:int 5:int))"),
    ("2.0 ** 3.0 ** 2.0", "(BinOp ** 2.0:float (BinOp ** 3.0:float 2.0:float))"),
    ("a = b && c <> d || not e", "(BinOp || (BinOp && (BinOp = a b) (BinOp <> c d)) (UnOp not e))"),
    ("a &&& b ||| c ^^^ d <<< 1", "(BinOp <<< (BinOp ||| (BinOp &&& a b) (BinOp ^^^ c d)) 1:int)"),
    ("x :: y :: []", "(BinOp :: x (BinOp :: y (ListLit [])))"),
    ("f >> g << h", "(BinOp << (BinOp >> f g) h)"),
    ("g <| x", "(BinOp <| g x)"),
    ("-x * y", "(BinOp * (UnOp - x) y)"),
    ("- f x", "(UnOp - (App f [x]))"),
    ("f x -y", "(App f [x (UnOp - y)])"),
    ("f -1", "(App f [-1:int])"),
    ("a-1", "(BinOp - a 1:int)"),
    ("not (f x)", "(UnOp not (App f [x]))"),
    ("f (g x) y", "(App f [(App g [x]) y])"),
    ("f(x, y) z", "(App (App f [(Tuple [x y])]) [z])"),
    ("p.X.Y", "(FieldAccess (FieldAccess p X) Y)"),
    ("Config.defaults.Timeout", "(FieldAccess Config.defaults Timeout)"),
    ("a.M(x).N()", "(MethodCall (MethodCall a M [x]) N [])"),
    ("xs.[i].Length", "(FieldAccess (Index xs [i]) Length)"),
    ("(1, \"s\", true, ())", "(Tuple [1:int 's':string True:bool None:unit])"),
    ("[| |]", "(ArrayLit [])"),
    ("[a; b; c]", "(ListLit [a b c])"),
    ("{ r with X = 1; Y = 2 }", "(RecordUpdate r [(FieldInit X 1:int) (FieldInit Y 2:int)])"),
    ("fun (a, _) b -> a", "(Lambda [(TuplePattern [a (WildcardPattern)]) b] a)"),
    ("(>>)", ">>"),
    ("(-)", "-"),
    ("if a then b", "(If a b -)"),
    ("x <- x + 1", "(Assign x (BinOp + x 1:int))"),
    ("p.X <- 1", "(Assign (FieldAccess p X) 1:int)"),
    ("2.5<volt>", "(Literal float 2.5 (UnitName volt))"),
    ("(a; b)", "(Sequence [a b])"),
])
def test_expressions(text, expected):
    assert expr(text) == expected


@pytest.mark.parametrize("pattern, expected", [
    ("_", "(WildcardPattern)"),
    ("x", "x"),
    ("None", "(UnionCasePattern None [])"),
    ("Some x", "(UnionCasePattern Some [x])"),
    ("Some(x)", "(UnionCasePattern Some [x])"),
    ("Msg.Commit b", "(UnionCasePattern Msg.Commit [b])"),
    ("Pair (a, b)", "(UnionCasePattern Pair [a b])"),
    ("x :: y :: rest", "(ConsPattern x (ConsPattern y rest))"),
    ("[]", "(ListPattern [])"),
    ("[a; b]", "(ListPattern [a b])"),
    ("(a, (b, c))", "(TuplePattern [a (TuplePattern [b c])])"),
    ("a, b", "(TuplePattern [a b])"),
    ("-1", "(LiteralPattern -1:int)"),
    ("\"s\"", "(LiteralPattern 's':string)"),
    ("true", "(LiteralPattern True:bool)"),
    ("()", "(LiteralPattern None:unit)"),
    ("1 | 2", "(OrPattern (LiteralPattern 1:int) (LiteralPattern 2:int))"),
    ("(x: int)", "(TypedPattern x int)"),
])
def test_patterns(pattern, expected):
    match = parse(f"let f v =\n    match v with\n    | {pattern} -> 0\n").decls[0].bindings[0].body
    assert sx(match.arms[0].pattern) == expected


def test_match_guard_and_arm_without_leading_bar():
    assert expr("match x with n when n > 0 -> n | _ -> 0") == (
        "(Match x [(MatchArm n (BinOp > n 0:int) n) (MatchArm (WildcardPattern) - 0:int)])")


def test_loops_and_sequences():
    assert body("let f xs =\n    for x in xs do\n        g x\n    for i in 1 .. 10 do\n        h i\n"
                "    while c do\n        step ()\n    done ()\n") == (
        "(Sequence [(ForEach x xs (App g [x])) (ForRange i 1:int 10:int (App h [i])) "
        "(While c (App step [None:unit])) (App done [None:unit])])")


def test_let_mutable_and_explicit_in():
    assert body("let f =\n    let mutable a = 0\n    a <- 1\n    a\n") == (
        "(Let [(Binding a [] - 0:int True)] False (Sequence [(Assign a 1:int) a]))")
    assert expr("let y = 1 in y + 1") == "(Let [(Binding y [] - 1:int False)] False (BinOp + y 1:int))"


def test_computation_expressions():
    assert body("let r = async {\n    let! x = f ()\n    do! g x\n    return x\n}\n") == (
        "(CompExpr async (LetBang x (App f [None:unit]) (Sequence [(DoBang (App g [x])) (Return x)])))")
    assert expr("seq { return 1 }") == "(CompExpr seq (Return 1:int))"


def test_application_is_flat_per_juxtaposition():
    app = parse("let it = f a b c").decls[0].bindings[0].body
    assert isinstance(app, ast.App) and len(app.args) == 3


# ------------------------------------------------------------------ literals

@pytest.mark.parametrize("text, kind, value", [
    ("42", ast.LiteralKind.INT, 42),
    ("2147483647", ast.LiteralKind.INT, 2147483647),
    ("-2147483648", ast.LiteralKind.INT, -2147483648),
    ("0xFF", ast.LiteralKind.INT, 255),
    ("0xFFFFFFFF", ast.LiteralKind.INT, -1),
    ("42L", ast.LiteralKind.INT64, 42),
    ("0xFFFFFFFFFFFFFFFFL", ast.LiteralKind.INT64, -1),
    ("7uy", ast.LiteralKind.UINT8, 7),
    ("0xFFuy", ast.LiteralKind.UINT8, 255),
    ("1_000", ast.LiteralKind.INT, 1000),
    ("3.5", ast.LiteralKind.FLOAT, 3.5),
    ("1e-3", ast.LiteralKind.FLOAT, 0.001),
    ("1.", ast.LiteralKind.FLOAT, 1.0),
    ("2.5f", ast.LiteralKind.FLOAT32, 2.5),
    ("0.1f", ast.LiteralKind.FLOAT32, 0.10000000149011612),
    ("true", ast.LiteralKind.BOOL, True),
    ("()", ast.LiteralKind.UNIT, None),
    ('"a\\tb\\n\\"q\\" \\065\\u0042\\x43 \\d"', ast.LiteralKind.STRING, 'a\tb\n"q" ABC \\d'),
    ('"multi\nline"', ast.LiteralKind.STRING, "multi\nline"),
])
def test_literal_kinds_and_values(text, kind, value):
    literal = parse(f"let it = {text}").decls[0].bindings[0].body
    assert (literal.kind, literal.value) == (kind, value)


@pytest.mark.parametrize("text, message", [
    ("300uy", "uint8 literal '300uy' is out of range (0 to 255)"),
    ("2147483648",
     "int literal '2147483648' is out of range (-2147483648 to 2147483647); add 'L' for an int64"),
    ("0x1FFFFFFFF", "int literal '0x1FFFFFFFF' is out of range"),
    ("1.2.3", "malformed number '1.2.3'"),
    ("12abc", "malformed number '12abc'"),
    ("1e400", "float literal '1e400' is out of range"),
    ("1e50f", "float32 literal '1e50f' is out of range"),
    ('"\\U00110000"', "invalid character escape '\\U00110000'"),
])
def test_bad_literals(text, message):
    first_line = error(f"let it = {text}").splitlines()[0]
    assert first_line == f"t.clef:1:10: error: {message}"


# --------------------------------------------------------------- diagnostics

@pytest.mark.parametrize("source, rendered", [
    ("let x =", "t.clef:1:8: error: expected an expression after '=' at the end of the input\n"
                "let x =\n"
                "       ^"),
    ("let x =\nlet y = 2", "t.clef:2:1: error: expected an expression after '=', found 'let'\n"
                           "let y = 2\n"
                           "^~~"),
    ("let x = 1 +\n", "t.clef:1:12: error: expected an expression after '+' at the end of the input\n"
                      "let x = 1 +\n"
                      "           ^"),
    ("let x = if a 1 else 2", "t.clef:1:16: error: expected 'then', an expression or an operator after "
                              "a number '1', found 'else'\n"
                              "let x = if a 1 else 2\n"
                              "               ^~~~"),
    ("let f x =\n    let y = 1\n", "t.clef:2:14: error: a block cannot end with a 'let': expected an "
                                   "expression on a new line after it\n"
                                   "    let y = 1\n"
                                   "             ^"),
    ("let f = match x with", "t.clef:1:21: error: expected a match arm ('| pattern -> expression') after "
                             "'with' at the end of the input\n"
                             "let f = match x with\n"
                             "                    ^"),
    ("let f = fun -> 1", "t.clef:1:13: error: expected a pattern after 'fun', found '->'\n"
                         "let f = fun -> 1\n"
                         "            ^~"),
    ("extern f : int ->", "t.clef:1:18: error: expected a type after '->' at the end of the input\n"
                          "extern f : int ->\n"
                          "                 ^"),
    ("type T =", "t.clef:1:9: error: expected a type definition after '=' at the end of the input\n"
                 "type T =\n"
                 "        ^"),
    ("foo", "t.clef:1:1: error: expected the end of the input or a declaration ('let', 'type', 'extern' or "
            "an attribute), found a name 'foo'\n"
            "foo\n"
            "^~~"),
    ("let f =\n    for m in xs do\n    g m\n", "t.clef:2:19: error: expected an expression after 'do'\n"
                                              "    for m in xs do\n"
                                              "                  ^"),
    ("let x = \"abc", "t.clef:1:9: error: unterminated string literal: expected a closing '\"'\n"
                      "let x = \"abc\n"
                      "        ^"),
    ("(* a (* nested *) comment", "t.clef:1:1: error: unterminated comment: expected '*)' to close this '(*'\n"
                                  "(* a (* nested *) comment\n"
                                  "^~"),
    ("let x = 1 $ 2", "t.clef:1:11: error: unexpected character '$'\n"
                      "let x = 1 $ 2\n"
                      "          ^"),
    ("let x = 1\x0c", "t.clef:1:10: error: unexpected control character U+000C\n"
                      "let x = 1\n"
                      "         ^"),
    ("let x = a\rb", "t.clef:1:10: error: carriage return without a line feed\n"
                     "let x = a\n"
                     "         ^"),
    ("type volt", "t.clef:1:1: error: type 'volt' has no definition: write '= ...', or mark it [<Measure>] "
                  "to declare a unit of measure\n"
                  "type volt\n"
                  "^~~~~~~~~"),
    ("let y = 1 <- 2", "t.clef:1:9: error: cannot assign to this expression: '<-' needs a mutable variable, "
                       "an array element 'a.[i]' or a field\n"
                       "let y = 1 <- 2\n"
                       "        ^"),
    ("let f = for (a, b) in 1 .. 2 do a",
     "t.clef:1:13: error: the variable of 'for ... in a .. b' must be a name\n"
     "let f = for (a, b) in 1 .. 2 do a\n"
     "            ^~~~~~"),
    ("let mutable f x = 1", "t.clef:1:13: error: a function cannot be 'mutable'\n"
                            "let mutable f x = 1\n"
                            "            ^~~~~~~"),
])
def test_diagnostics_render_with_source_line_and_caret(source, rendered):
    assert error(source) == rendered


def test_an_earlier_syntax_error_wins_over_a_later_lexical_one():
    assert error("let x = )\nlet y = \"open").splitlines()[0] == \
        "t.clef:1:9: error: unexpected ')': there is no open bracket to close"
    assert error("let x = 1 +\n\nlet y = \"open").splitlines()[0] == \
        "t.clef:1:12: error: expected an expression after '+'"


# ------------------------------------------------------------ bytes & text

def test_bytes_input_utf8_bom_and_crlf():
    program = parse_program(b"\xef\xbb\xbflet s = \"\xc3\xa9\"\r\nlet t = 2\r\n", "b.clef")
    assert [sx(d.bindings[0].body) for d in program.decls] == ["'\u00e9':string", "2:int"]
    assert program.decls[1].span.line == 2


def test_invalid_utf8_is_located_at_the_byte():
    with pytest.raises(DiagnosticError) as caught:
        parse_program(b"let a = 1\nlet s = \"x\xff\"\n", "b.clef")
    assert str(caught.value).splitlines()[0] == \
        "b.clef:2:11: error: invalid UTF-8 byte 0xff: Clef source must be UTF-8"


def test_empty_and_comment_only_sources_are_empty_programs():
    assert parse("").decls == ()
    assert parse("// nothing\n(* here *)\n").decls == ()


def test_spans_cover_the_construct():
    decl = parse("let x =\n    f a\n      b\n").decls[0]
    call = decl.bindings[0].body
    assert (call.span.line, call.span.col, call.span.end_line, call.span.end_col) == (2, 5, 3, 8)
    assert str(call.span) == "t.clef:2:5"


# ----------------------------------------------------------------- nesting

@pytest.mark.parametrize("depth", [10_000])
def test_deep_parentheses_parse_without_recursion(depth):
    literal = parse("let x = " + "(" * depth + "1" + ")" * depth).decls[0].bindings[0].body
    assert literal.value == 1


def test_nesting_beyond_the_limit_is_a_located_diagnostic():
    depth = MAX_NESTING_DEPTH + 100
    nested_ifs = "let x = " + "if a then " * depth + "1"
    first = error(nested_ifs).splitlines()[0]
    assert first.startswith("t.clef:1:")
    assert first.endswith(f"nesting too deep: more than {MAX_NESTING_DEPTH} levels")
    long_sum = "let x = " + " + ".join(["1"] * (MAX_NESTING_DEPTH + 10))
    assert error(long_sum).splitlines()[0].endswith(f"nesting too deep: more than {MAX_NESTING_DEPTH} levels")


def test_nesting_up_to_a_few_thousand_levels_parses():
    nested_ifs = "let x = " + "if a then " * 3000 + "1"
    node = parse(nested_ifs).decls[0].bindings[0].body
    assert sum(1 for n in walk(node) if isinstance(n, ast.If)) == 3000


def test_long_sequences_are_one_flat_node():
    source = "let f x =\n" + "".join(f"    g {i}\n" for i in range(10_000)) + "    x\n"
    sequence = parse(source).decls[0].bindings[0].body
    assert isinstance(sequence, ast.Sequence) and len(sequence.exprs) == 10_001


def test_concurrent_parses_in_threads_do_not_interfere():
    # One lark parser is shared; per-parse state lives in a context variable.
    sources = [path.read_text() for path in sorted(EXAMPLES.glob("*.clef"))] * 4
    expected = [sx(parse_program(source, "t.clef")) for source in sources]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda source: sx(parse_program(source, "t.clef")), sources)) == expected
