"""Type inference over Clef programs: the signatures of the shared examples, the
Typing API the lowering reads, F#'s defaults, and each kind of error with its
location and message."""

from pathlib import Path

import attrs
import pytest

from nanopass.diagnostics import DiagnosticError, Span
from nanopass.frontend import ast
from nanopass.frontend.parser import parse_program
from nanopass.frontend.typecheck import check_program
from nanopass.frontend.types import show

EXAMPLES = Path("/work/shared/examples")
if not EXAMPLES.is_dir():
    EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def typing_of(source: str, filename: str = "test.clef"):
    return check_program(parse_program(source, filename), source)


def errors_of(source: str, filename: str = "test.clef") -> list[tuple[int, int, str]]:
    with pytest.raises(DiagnosticError) as raised:
        typing_of(source, filename)
    return [(d.span.line, d.span.col, d.message) for d in raised.value.diagnostics]


def signatures(source: str) -> dict[str, str]:
    program = parse_program(source, "test.clef")
    typing = check_program(program, source)
    names = [name for d in program.decls if isinstance(d, ast.LetDecl) for b in d.bindings
             for name in ([b.name] if b.name else [p.name for p in find(b.pattern, ast.NamePattern)])]
    names += [d.name for d in program.decls if isinstance(d, ast.ExternDecl)]
    return {name: typing.signature(name) for name in names}


def nodes(root: object):
    """Every AST node under ``root``, in source order."""
    stack = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(reversed(item))
        elif isinstance(item, ast.Node):
            yield item
            stack.extend(reversed([getattr(item, f.name) for f in attrs.fields(type(item)) if f.name != "span"]))


def find(root: object, kind: type, predicate=lambda node: True) -> list:
    return [n for n in nodes(root) if isinstance(n, kind) and predicate(n)]


# -- the shared examples ------------------------------------------------------------

EXPECTED_SIGNATURES = {
    "process.clef": {
        "calibrate": "float<volt> -> float",
        "extractScore": "float -> float",
        "normalize": "float -> float",
        "process": "float<volt>[] -> float[]",
    },
    "branchy.clef": {
        "extractScore": "float<volt> -> float",
        "refine": "float -> float",
        "gate": "float",
        "process": "float<volt>[] -> float[]",
    },
    "resolver.clef": {
        "fetchAll": "string list -> Async<Manifest list>",
        "constraintsOf": "Manifest -> string list",
        "unseen": "Map<string,string list> -> string list -> string list",
        "nextFrontier": "Map<string,string list> -> (string * string list) list -> string list",
        "resolve": "string -> Async<Map<string,string list>>",
    },
    "dataset.clef": {
        "complexTransform": "float -> float",
        "threshold": "float",
        "processDataset": "float[] -> float",
    },
    "matmul.clef": {"matrixMultiply": "float[,] -> float[,] -> float[,]"},
    "timeseries.clef": {
        "mean": "float[] -> float",
        "variance": "float[] -> float",
        "analyzeTimeSeries": "float[] -> (float * bool)[]",
    },
    "montecarlo.clef": {
        "hash": "int64 -> int64",
        "uniform": "int64 -> int64 -> float",
        "simulate": "float -> int64 -> float",
        "monteCarlo": "float -> int -> float",
    },
    "actors.clef": {
        "catalog": "Actor<Msg,int>",
        "parser": "Actor<int,int>",
        "ingest": "Actor<int,int>",
        "dispatcher": "Actor<Actor<int,int> * int,int>",
    },
    "counter.clef": {"step": "Counter -> Buttons -> Counter * Leds"},
    "nappy.clef": {"scale": "float32[] -> float32[]", "main": "int -> float32"},
}


def test_every_shared_example_is_covered():
    assert sorted(EXPECTED_SIGNATURES) == sorted(p.name for p in EXAMPLES.glob("*.clef"))


@pytest.mark.parametrize("name", sorted(EXPECTED_SIGNATURES))
def test_example_signatures(name):
    source = (EXAMPLES / name).read_text()
    program = parse_program(source, name)
    typing = check_program(program, source)
    assert signatures(source) == EXPECTED_SIGNATURES[name]
    assert typing.diagnostics == []


def load(name: str):
    source = (EXAMPLES / name).read_text()
    program = parse_program(source, name)
    return program, check_program(program, source)


# -- the Typing API ----------------------------------------------------------------

def test_resolve_tells_what_each_name_is():
    program, typing = load("actors.clef")
    kinds = {(v.name, typing.resolve(v).kind) for v in find(program, ast.Var)}
    assert {("Actor.start", "actor"), ("catalog", "global"), ("parser", "global"), ("Commit", "case"),
            ("Discard", "case"), ("state", "local"), ("batch", "local"), ("target", "local")} <= kinds
    commit = typing.resolve(find(program, ast.Var, lambda v: v.name == "Commit")[0])
    assert commit.union == "Msg" and commit.node.name == "Commit" and commit.decl.name == "Msg"
    catalog = typing.resolve(find(program, ast.Var, lambda v: v.name == "catalog")[0])
    assert catalog.node is program.decls[1].bindings[0] and catalog.decl is program.decls[1]


def test_resolve_points_locals_at_their_binding_pattern():
    program, typing = load("process.clef")
    frame = find(program, ast.Var, lambda v: v.name == "frame")[0]
    binding = typing.resolve(frame)
    parameter = program.decls[-1].bindings[0].params[0]
    assert binding.kind == "local" and binding.node is parameter.pattern
    calibrate = typing.resolve(find(program, ast.Var, lambda v: v.name == "calibrate")[0])
    assert calibrate.kind == "extern" and calibrate.node is program.decls[1]
    array_map = typing.resolve(find(program, ast.Var, lambda v: v.name == "Array.map")[0])
    assert (array_map.kind, array_map.name) == ("intrinsic", "Array.map")


def test_resolve_mutables_loop_indices_and_operators():
    program, typing = load("matmul.clef")
    acc_uses = find(program, ast.Var, lambda v: v.name == "acc")
    acc = typing.resolve(acc_uses[0])
    assert acc.kind == "local" and acc.mutable and acc.binding.mutable
    assert all(typing.resolve(use) == acc for use in acc_uses)
    loop = find(program, ast.ForRange)[0]
    assert typing.resolve(find(program, ast.Var, lambda v: v.name == "p")[0]).node is loop
    program, typing = load("dataset.clef")
    plus = find(program, ast.Var, lambda v: v.name == "+")[0]
    assert (typing.resolve(plus).kind, show(typing.type_of(plus))) == ("operator", "float -> float -> float")


def test_record_of_field_accesses_and_record_expressions():
    program, typing = load("counter.clef")
    accesses = {(f.field, typing.record_of(f)) for f in find(program, ast.FieldAccess)}
    assert accesses == {("Count", "Counter"), ("Up", "Buttons"), ("Down", "Buttons")}
    assert [typing.record_of(r) for r in find(program, ast.RecordExpr)] == ["Counter", "Leds"]
    program, typing = load("resolver.clef")
    assert [typing.record_of(f) for f in find(program, ast.FieldAccess)] == ["Manifest"]


def test_type_of_expressions_patterns_and_declarations():
    program, typing = load("timeseries.clef")
    index = find(program, ast.Index)[0]
    assert show(typing.type_of(index)) == "float"
    window = find(program, ast.Lambda)[-1].params[0]
    assert show(typing.type_of(window)) == "float[]"
    assert show(typing.type_of(program.decls[0])) == "float[] -> float"
    assert show(typing.type_of(program.decls[0].bindings[0])) == "float[] -> float"
    program, typing = load("resolver.clef")
    let_bang = find(program, ast.LetBang)[0]
    assert show(typing.type_of(let_bang.pattern)) == "Manifest list"
    assert show(typing.type_of(let_bang.value)) == "Async<Manifest list>"
    query = find(program, ast.CompExpr, lambda c: c.builder == "query")[0]
    assert show(typing.type_of(query)) == "(string * string list) list"
    assert show(typing.type_of(program.decls[1])) == "string list -> Async<Manifest list>"


def test_every_node_of_an_example_has_a_type():
    program, typing = load("resolver.clef")
    for node in nodes(program):
        if isinstance(node, (ast.Expr, ast.Pattern, ast.Binding)):
            typing.type_of(node)
    with pytest.raises(KeyError, match="no type was inferred"):
        typing.type_of(ast.Var("x", span=Span()))


# -- inference --------------------------------------------------------------------

def test_units_combine_through_user_functions():
    assert signatures(
        "[<Measure>] type m\n[<Measure>] type s\n"
        "let speed (d: float<m>) (t: float<s>) = d / t\n"
        "let accel = speed 1.0<m> 2.0<s> / 3.0<s>\n"
        "let half (a: float<m^2>) = sqrt a\n"
        "let drop (v: float<m/s>) = float v\n") == {
        "speed": "float<m> -> float<s> -> float<m/s>",
        "accel": "float<m/s^2>",
        "half": "float<m^2> -> float<m>",
        "drop": "float<m/s> -> float",
    }


def test_let_polymorphism_and_mutual_recursion():
    assert signatures(
        "let id x = x\n"
        "let pair = (id 1, id \"a\")\n"
        "let rec even n = if n = 0 then true else odd (n - 1)\n"
        "and odd n = if n = 0 then false else even (n - 1)\n"
        "let firstOr xs d =\n"
        "    match xs with\n"
        "    | [] -> d\n"
        "    | x :: _ -> x\n") == {
        "id": "'a -> 'a",
        "pair": "int * string",
        "even": "int -> bool",
        "odd": "int -> bool",
        "firstOr": "'a list -> 'a -> 'a",
    }


def test_unresolved_operators_default_to_int_per_declaration():
    assert signatures("let double x = x + x\nlet scale x = x * 2.5\nlet join a b = a + b + \"!\"\n") == {
        "double": "int -> int", "scale": "float -> float", "join": "string -> string -> string"}
    # inside a declaration the operator stays open until the declaration ends
    assert signatures("let h () =\n    let twice x = x + x\n    twice 1.5\n") == {"h": "unit -> float"}
    assert errors_of("let double x = x + x\nlet y = double 1.5\n") == [
        (2, 16, "this expression was expected to have type 'int' but here has type 'float'")]


def test_records_unions_options_and_generics():
    assert signatures(
        "type Point = { X: float; Y: float }\n"
        "type Shape =\n    | Circle of float\n    | Rect of float * float\n    | Empty\n"
        "type Box<'T> = { Value: 'T }\n"
        "let area shape =\n    match shape with\n    | Circle r -> 3.0 * r * r\n"
        "    | Rect (w, h) -> w * h\n    | Empty -> 0.0\n"
        "let moved (p: Point) = { p with X = p.X + 1.0 }\n"
        "let origin = { X = 0.0; Y = 0.0 }\n"
        "let boxed = { Value = \"s\" }\n"
        "let positive x = if x > 0 then Some x else None\n"
        "let rect = Rect (1.0, 2.0)\n") == {
        "area": "Shape -> float",
        "moved": "Point -> Point",
        "origin": "Point",
        "boxed": "Box<string>",
        "positive": "int -> int option",
        "rect": "Shape",
    }


def test_the_latest_record_with_a_field_wins_unless_the_type_is_known():
    source = ("type A = { Name: string }\ntype B = { Name: string }\n"
              "let latest x = x.Name\nlet annotated (a: A) = a.Name\nlet made = { Name = \"n\" }\n")
    assert signatures(source) == {"latest": "B -> string", "annotated": "A -> string", "made": "B"}


def test_pattern_lets_bind_each_name():
    assert signatures("let (x, y) = (1, \"s\")\nlet z = x + 1\n"
                      "let second (p: int * string) =\n    let (a, b) = p\n    let _ = a + 1\n    b\n") == {
        "x": "int", "y": "string", "z": "int", "second": "int * string -> string"}


def test_arrays_loops_and_mutation():
    assert signatures(
        "let fill (m: float[,]) =\n    m.[0, 1] <- 2.0\n    m\n"
        "let total (xs: int list) =\n    let mutable acc = 0\n    for x in xs do\n        acc <- acc + x\n    acc\n"
        "let count n =\n    let mutable i = 0\n    while i < n do\n        i <- i + 1\n    i\n"
        "let squares n = Array.init n (fun i -> i * i)\n"
        "let zipped = Array.zip [| 1 |] [| \"a\" |]\n") == {
        "fill": "float[,] -> float[,]",
        "total": "int list -> int",
        "count": "int -> int",
        "squares": "int -> int[]",
        "zipped": "(int * string)[]",
    }


def test_pipes_composition_and_operator_values():
    assert signatures(
        "let inc = (fun x -> x + 1) >> (fun y -> y * 2)\n"
        "let total (xs: int[]) = Array.reduce (+) xs\n"
        "let names (xs: (string * int) list) = xs |> List.map fst |> List.rev\n"
        "let back = List.length <| [ 1; 2 ]\n") == {
        "inc": "int -> int",
        "total": "int[] -> int",
        "names": "(string * int) list -> string list",
        "back": "int",
    }


def test_async_and_query():
    assert signatures(
        "let step (n: int) = async {\n    do! async { return () }\n    return n + 1 }\n"
        "let twice (xs: int[]) = query {\n    for x in xs do\n    select (x * 2) }\n"
        "let chain (n: int) = async {\n    let! a = step n\n    let! b = step a\n    return (a, b) }\n") == {
        "step": "int -> Async<int>",
        "twice": "int[] -> int[]",
        "chain": "int -> Async<int * int>",
    }


def test_a_discarded_value_is_a_warning():
    typing = typing_of("let f (x: int) =\n    x + 1\n    x\n")
    [warning] = typing.diagnostics
    assert (warning.severity, warning.span.line, warning.span.col) == ("warning", 2, 5)
    assert warning.message.startswith("the result of this expression has type 'int' and is implicitly ignored")


def test_a_loop_body_that_yields_a_value_is_a_warning():
    typing = typing_of("let f (n: int) =\n    for i in 0 .. n do\n        i\n")
    assert [(w.span.line, w.span.col) for w in typing.diagnostics] == [(3, 9)]
    assert typing.signature("f") == "int -> unit"


def test_guards_ranges_and_actor_tells():
    assert signatures(
        "let sign (x: int option) =\n    match x with\n    | Some v when v > 0 -> v\n"
        "    | Some _ -> 0\n    | None -> -1\n"
        "let total (n: int64) =\n    let mutable s = 0L\n    for i in 0L .. n do\n        s <- s + i\n    s\n"
        "let counter = Actor.start 0 (fun s (m: int) -> (s + m, s))\n"
        "let bump () = counter.Tell(3)\n") == {
        "sign": "int option -> int",
        "total": "int64 -> int64",
        "counter": "Actor<int,int>",
        "bump": "unit -> unit",
    }


def test_deep_nesting_does_not_exhaust_the_stack():
    # Deeper than the parser accepts: the checker must not be the limit.
    span = Span("deep.clef", 1, 1, 1, 2)
    expr: ast.Expr = ast.Literal(ast.LiteralKind.INT, 0, span=span)
    for _ in range(10000):
        expr = ast.BinOp("+", expr, ast.Literal(ast.LiteralKind.INT, 1, span=span), span=span)
    binding = ast.Binding(ast.NamePattern("total", span=span), (), None, expr, False, span=span)
    program = ast.Program((ast.LetDecl((binding,), False, (), span=span),), span=span)
    assert check_program(program).signature("total") == "int"


# -- errors: kind, location and message -------------------------------------------

@pytest.mark.parametrize("source, expected", [
    pytest.param("let process (frame: float[]) : float[] =\n    frmae |> Array.map (fun x -> x)\n",
                 [(2, 5, "'frmae' is not defined; did you mean 'frame'?")], id="name"),
    pytest.param("let f (xs: int[]) = Array.foo xs\n",
                 [(1, 21, "unknown intrinsic 'Array.foo'; did you mean 'Array.fold'?")], id="intrinsic"),
    pytest.param("let add (a: int) (b: int) : int = a + b\nlet r = add 1 2 3\n",
                 [(2, 9, "this function takes 2 arguments but is given 3")], id="arity"),
    pytest.param("let x = 1\nlet y = x 2\n",
                 [(2, 9, "this value is not a function and cannot be applied")], id="not-a-function"),
    pytest.param("[<Measure>] type volt\n[<Measure>] type m\n[<Measure>] type s\n"
                 "let f (v: float<volt>) (w: float<m/s>) = v + w\n",
                 [(4, 46, "the unit 'volt' does not match the unit 'm/s'")], id="units-add"),
    pytest.param("[<Measure>] type m\nlet f (x: float<m>) : float<m> = x * x\n",
                 [(2, 34, "the unit 'm' does not match the unit 'm^2'")], id="units-multiply"),
    pytest.param("[<Measure>] type volt\nlet f (x: float<volt>) = x + 1.0\n",
                 [(2, 30, "the unit 'volt' does not match the unit '1'")], id="units-literal"),
    pytest.param("[<Measure>] type m\nlet f (x: float<m>) = sqrt x\n",
                 [(2, 28, "expected a unit of the form ''u^2' but here has the unit 'm'")], id="units-sqrt"),
    pytest.param("let f (x: float<vlt>) = x\n",
                 [(1, 17, "the unit of measure 'vlt' is not defined")], id="unit-undefined"),
    pytest.param("let f (x: int) : string = x + 1\n",
                 [(1, 27, "this expression was expected to have type 'string' but here has type 'int'")],
                 id="mismatch"),
    pytest.param("let g (x: int) = sqrt x\nlet h (s: string) = s * s\n",
                 [(1, 23, "the type 'int' does not support 'sqrt'"),
                  (2, 21, "the type 'string' does not support the operator '*'")], id="constraint"),
    pytest.param("let f x = x x\n",
                 [(1, 13, "this expression would have an infinite type: ''a' occurs in ''a -> 'b'")],
                 id="occurs"),
    pytest.param("let f (x: int) =\n    if x > 0 then 1\n    x\n",
                 [(2, 19, "this 'if' has no 'else' branch, so its 'then' branch must have type 'unit' "
                          "but here has type 'int'")], id="if-without-else"),
    pytest.param("type Counter = { Count: uint8 }\n[<HardwareModule>]\nlet step (s: Counter) i = s\n",
                 [(3, 5, "a [<HardwareModule>] function needs a return type annotation"),
                  (3, 23, "a [<HardwareModule>] function needs a type annotation on every parameter")],
                 id="hardware-annotations"),
    pytest.param("type Point = { X: float; Y: float }\nlet p = { X = 1.0; Z = 2.0 }\nlet q (a: Point) = a.Z\n",
                 [(2, 20, "the record 'Point' has no field 'Z'"), (3, 20, "the record 'Point' has no field 'Z'")],
                 id="record-field"),
    pytest.param("type P = { X: float; Y: float }\nlet p = { X = 1.0 }\n",
                 [(2, 9, "the field 'Y' of record 'P' is not given a value")], id="record-missing"),
    pytest.param("let f () =\n    let x = 1\n    x <- 2\n    x\n",
                 [(3, 5, "'x' is not mutable; declare it with 'let mutable'")], id="not-mutable"),
    pytest.param("let f (x: int) =\n    let! y = x\n    y\n",
                 [(2, 5, "'let!' may only be used inside 'async { }'")], id="let-bang-outside-async"),
    pytest.param("let xs = List.rev []\n",
                 [(1, 5, "the type of 'xs' is not fully known, ''a list'; add a type annotation")],
                 id="value-restriction"),
    pytest.param("type Counter = { Count: int }\nlet g (x: Countr) = x\n",
                 [(2, 11, "the type 'Countr' is not defined; did you mean 'Counter'?")], id="type-undefined"),
    pytest.param("type Msg =\n    | Commit of int\n    | Stop\nlet f (m: Msg) =\n    match m with\n"
                 "    | Commit (a, b) -> a\n    | Stop -> 0\n",
                 [(6, 7, "the union case 'Commit' takes 1 argument but is given 2")], id="case-arity"),
    pytest.param("let f (x: int) = x.[0]\nlet g (m: float[,]) = m.[0]\n",
                 [(1, 18, "this value of type 'int' cannot be indexed; only arrays can"),
                  (2, 23, "this array has 2 dimensions but is indexed with 1")], id="index"),
    pytest.param("let f (x: int) = x.PostAndReply(1)\nlet g (a: Actor<int,int>) = a.Post(1)\n",
                 [(1, 18, "'PostAndReply' needs an actor, but this value has type 'int'"),
                  (2, 29, "the method 'Post' is not defined; actors have PostAndReply and Tell")], id="actor-methods"),
    pytest.param("let f (x: int) = query { for m in x do select m }\n",
                 [(1, 35, "expected a list or an array here but this has type 'int'")], id="query-source"),
    pytest.param("let f () = seq { return 1 }\n",
                 [(1, 12, "'seq { }' is not in the Clef subset; use 'async' or 'query'")], id="seq"),
    pytest.param("let f (a, a) = a\n", [(1, 11, "'a' is bound twice in this pattern")], id="duplicate-name"),
    pytest.param("let f (p: int * int) =\n    let (a, a) = p\n    a\n",
                 [(2, 13, "'a' is bound twice in this pattern")], id="duplicate-name-in-let"),
    pytest.param("let rec (a, b) = (1, 2)\n", [(1, 9, "'let rec' binds names, not patterns")], id="rec-pattern"),
    pytest.param("let f (x: int * int) =\n    match x with\n    | (0, y) | (z, 0) -> 1\n    | _ -> 2\n",
                 [(3, 7, "the two sides of an 'or' pattern must bind the same names, not 'y' and 'z'")],
                 id="or-pattern"),
    pytest.param('[<Cost("x")>]\nextern f : int -> int\n',
                 [(1, 3, "[<Cost(...)>] takes one int argument")], id="attribute-argument"),
    pytest.param("let a = undefined1\nlet b = undefined2 + 1\nlet c : int = \"s\"\n",
                 [(1, 9, "'undefined1' is not defined"), (2, 9, "'undefined2' is not defined"),
                  (3, 15, "this expression was expected to have type 'int' but here has type 'string'")],
                 id="several-errors"),
])
def test_errors(source, expected):
    assert errors_of(source) == expected


def test_errors_render_with_a_caret():
    source = "[<Measure>] type volt\n[<Measure>] type m\nlet f (v: float<volt>) (w: float<m>) = v + w\n"
    with pytest.raises(DiagnosticError) as raised:
        typing_of(source, "units.clef")
    assert str(raised.value) == (
        "units.clef:3:44: error: the unit 'volt' does not match the unit 'm'\n"
        "let f (v: float<volt>) (w: float<m>) = v + w\n"
        "                                           ^")


def test_parse_hands_its_warnings_to_a_list_or_to_python_warnings():
    import warnings as python_warnings

    from nanopass.frontend import ClefWarning, parse

    source = "let f (x: int) =\n    x + 1\n    x\n"
    found: list = []
    parse(source, filename="w.clef", warnings=found)
    assert [(w.severity, w.span.file, w.span.line, w.span.col) for w in found] == [("warning", "w.clef", 2, 5)]
    with python_warnings.catch_warnings(record=True) as caught:
        python_warnings.simplefilter("always")
        parse(source, filename="w.clef")
    assert [w.category for w in caught] == [ClefWarning]
    assert str(caught[0].message).startswith("w.clef:2:5: warning: the result of this expression")
