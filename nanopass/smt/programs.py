"""Random well-typed Clef programs, for exercising translation validation end to end.

`program(seed, functions=3, statements=4)` writes the source of a program
that the front end accepts: a union, a record, a pure and an effectful
extern, then functions whose parameters are drawn from a fixed set of
types and whose bodies are ``let`` bindings, mutable accumulators in
``for`` and ``while`` loops, and a final expression.  Expressions are built
type-directed (so every program type-checks) from integer, float, bool and
conversion operators, ``if``, ``match`` on options, lists, unions and
tuples, records and their fields, array and list intrinsics (maps, filters,
folds, sums, ``init``, indexing), calls of earlier functions, of the externs
and of a recursive function.  Loop counts are masked small (``&&& 7``) so
that bounded unrolling covers them.  Every binding flows into the result
(through an int digest of all of it), so no statement is dead code that
reachability would remove before the passes after it see it.  Programs may fail at run time (a zero
divisor, an index out of range): refinement allows that.
"""

from __future__ import annotations

import random

INT, INT64, UINT8, FLOAT, FLOAT32, BOOL = "int", "int64", "uint8", "float", "float32", "bool"
FLOATS, INTS, INT_LIST, INT_OPTION, PAIR, SHAPE, POINT = (
    "float[]", "int[]", "int list", "int option", "int * float", "Shape", "Point")
SCALARS = (INT, INT64, UINT8, FLOAT, FLOAT32, BOOL)
PARAMETER_TYPES = SCALARS + (FLOATS, INTS, INT_LIST, INT_OPTION, PAIR, SHAPE, POINT)
RESULT_TYPES = (INT, INT, FLOAT, FLOAT, BOOL, INT64, UINT8, FLOAT32, FLOATS, INT_LIST, PAIR, INT_OPTION)

PRELUDE = """type Shape =
    | Circle of float
    | Square of int
    | Rect of int * float
    | Empty
type Point = { X: int; Y: float }
[<Pure>]
extern weight : float -> float
extern emit : int -> int

let rec countdown (n: int) : int = if n <= 0 then 0 else n + countdown (n - 1)
"""


class _Writer:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.functions: list[tuple[str, tuple[str, ...], str]] = []
        self.counter = 0
        self.mutable: set[str] = set()

    def closed(self, env: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """What a closure may read: F# forbids capturing mutable locals."""
        return [(n, t) for n, t in env if n not in self.mutable]

    def fresh(self, stem: str = "v") -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def pick(self, items):
        return items[self.rng.randrange(len(items))]

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent

    # -- expressions ---------------------------------------------------------------------------------------
    def expr(self, t: str, env: list[tuple[str, str]], depth: int) -> str:
        names = [n for n, nt in env if nt == t]
        if depth <= 0 or self.chance(25):
            if names and self.chance(70):
                return self.pick(names)
            return self.leaf(t, env)
        builder = getattr(self, "_" + {"int[]": "ints", "float[]": "floats", "int list": "int_list",
                                       "int option": "int_option", "int * float": "pair"}.get(t, t.lower()))
        return builder(env, depth - 1)

    def leaf(self, t: str, env: list[tuple[str, str]]) -> str:
        r = self.rng
        if t == INT:
            return str(self.pick([r.randint(-3, 9), r.randint(-3, 9), 2147483647, -2147483648 + 1, 0]))
        if t == INT64:
            return f"{self.pick([r.randint(-3, 9), 1 << 40, -(1 << 62)])}L"
        if t == UINT8:
            return f"{r.randint(0, 255)}uy"
        if t == FLOAT:
            return self.pick(["0.0", "1.5", "-2.25", "0.1", "3.0", "1e10", "-0.0"])
        if t == FLOAT32:
            return self.pick(["0.0f", "1.5f", "-2.5f", "0.25f"])
        if t == BOOL:
            return self.pick(["true", "false"])
        if t == FLOATS:
            return "[| " + "; ".join(self.leaf(FLOAT, env) for _ in range(r.randint(0, 3))) + " |]"
        if t == INTS:
            return "[| " + "; ".join(self.leaf(INT, env) for _ in range(r.randint(0, 3))) + " |]"
        if t == INT_LIST:
            return "[ " + "; ".join(self.leaf(INT, env) for _ in range(r.randint(0, 3))) + " ]"
        if t == INT_OPTION:
            return self.pick(["None", f"(Some {r.randint(-3, 9)})"])
        if t == PAIR:
            return f"({self.leaf(INT, env)}, {self.leaf(FLOAT, env)})"
        if t == SHAPE:
            return self.pick(["Empty", f"(Circle {self.leaf(FLOAT, env)})", f"(Square {self.leaf(INT, env)})",
                              f"(Rect ({self.leaf(INT, env)}, {self.leaf(FLOAT, env)}))"])
        if t == POINT:
            return f"{{ X = {self.leaf(INT, env)}; Y = {self.leaf(FLOAT, env)} }}"
        raise ValueError(t)

    def _call(self, t: str, env: list, depth: int) -> str | None:
        callable_ = [(name, params) for name, params, result in self.functions if result == t]
        if not callable_:
            return None
        name, params = self.pick(callable_)
        return f"({name} " + " ".join(self._arg(p, env, depth) for p in params) + ")"

    def _arg(self, t: str, env: list, depth: int) -> str:
        text = self.expr(t, env, depth)
        return text if text.startswith(("(", "[")) or " " not in text else f"({text})"

    def _branch(self, t: str, env: list, depth: int) -> str:
        kind = self.rng.randrange(7)
        if kind == 0:
            return f"(if {self.expr(BOOL, env, depth)} then {self.expr(t, env, depth)} else {self.expr(t, env, depth)})"
        if kind == 1:
            v = self.fresh()
            some, none = f"Some {v} -> {self.expr(t, env + [(v, INT)], depth)}", f"None -> {self.expr(t, env, depth)}"
            first, second = (some, none) if self.chance(70) else (none, some)
            return f"(match {self.expr(INT_OPTION, env, depth)} with | {first} | {second})"
        if kind == 2:
            h, rest = self.fresh("h"), self.fresh("rest")
            return (f"(match {self.expr(INT_LIST, env, depth)} with | [] -> {self.expr(t, env, depth)} "
                    f"| {h} :: {rest} -> {self.expr(t, env + [(h, INT), (rest, INT_LIST)], depth)})")
        if kind == 3:
            r, n = self.fresh("r"), self.fresh("n")
            return (f"(match {self.expr(SHAPE, env, depth)} with | Circle {r} -> {self.expr(t, env + [(r, FLOAT)], depth)}"
                    f" | Square {n} when {n} > 0 -> {self.expr(t, env + [(n, INT)], depth)}"
                    f" | _ -> {self.expr(t, env, depth)})")
        if kind == 4:
            w, h = self.fresh("w"), self.fresh("h")
            return (f"(match {self.expr(SHAPE, env, depth)} with | Rect ({w}, {h}) -> "
                    f"{self.expr(t, env + [(w, INT), (h, FLOAT)], depth)} | Empty -> {self.expr(t, env, depth)}"
                    f" | _ -> {self.expr(t, env, depth)})")
        if kind == 5:
            first, second = self.rng.randint(-1, 3), self.rng.randint(4, 6)
            return (f"(match {self.expr(INT, env, depth)} with | {first} -> {self.expr(t, env, depth)} "
                    f"| {second} -> {self.expr(t, env, depth)} | _ -> {self.expr(t, env, depth)})")
        a, b = self.fresh("a"), self.fresh("b")
        return (f"(match {self.expr(PAIR, env, depth)} with | ({a}, {b}) -> "
                f"{self.expr(t, env + [(a, INT), (b, FLOAT)], depth)})")

    def _int(self, env: list, d: int) -> str:
        kind = self.rng.randrange(16)
        e = lambda t=INT: self.expr(t, env, d)  # noqa: E731
        if kind <= 3:
            return f"({e()} {self.pick(['+', '-', '*', '/', '%', '&&&', '|||', '^^^'])} {e()})"
        if kind == 4:
            return f"({e()} {self.pick(['<<<', '>>>'])} {e()})"
        if kind == 5:
            if self.chance(30):  # a narrowing conversion of a value wider than int but not of every int64
                return f"(int ({self.expr(INT64, env, d)} &&& {self.pick(['68719476735L', '4294967295L'])}))"
            return f"(int {self._arg(self.pick([FLOAT, INT64, UINT8, FLOAT32]), env, d)})"
        if kind == 6:
            return f"(Array.length {self._arg(self.pick([FLOATS, INTS]), env, d)})"
        if kind == 7:
            if self.chance(30):
                return f"(abs {self._arg(INT, env, d)})"
            return f"({self.pick(['min', 'max'])} {self._arg(INT, env, d)} {self._arg(INT, env, d)})"
        if kind == 8:
            x, acc = self.fresh("x"), self.fresh("acc")
            if self.chance(50):  # an operator: a reduction baker can name, whose init may be its identity
                op, xs = self.pick(["+", "*", "-", "&&&", "|||", "^^^"]), self._arg(INTS, env, d)
                if self.chance(60):
                    return f"(Array.fold (fun {acc} {x} -> {acc} {op} {x}) {self.pick(['0', '1', '-1', '3'])} {xs})"
                return f"(Array.reduce (fun {acc} {x} -> {acc} {op} {x}) {xs})"
            return (f"(Array.fold (fun {acc} {x} -> {self.expr(INT, self.closed(env) + [(acc, INT), (x, INT)], d)}) "
                    f"{self._arg(INT, env, d)} {self._arg(INTS, env, d)})")
        if kind == 9:
            return f"(Array.sum {self._arg(INTS, env, d)})"
        if kind == 10:
            return f"({self._arg(INTS, env, d)}.[{e()}])"
        if kind == 11:
            return f"(List.length {self._arg(INT_LIST, env, d)})"
        if kind == 12:
            return f"(emit {self._arg(INT, env, d)})"
        if kind == 13:
            point = self._arg(POINT, env, d)
            return f"({point}.X)" if point.startswith("(") or " " not in point else f"(({point}).X)"
        if kind == 14:
            return f"(countdown ({e()} &&& 7))"
        return self._call(INT, env, d) or self._branch(INT, env, d)

    def _int64(self, env: list, d: int) -> str:
        kind = self.rng.randrange(4)
        if kind <= 1:
            op = self.pick(["+", "-", "*", "&&&", "^^^", "/"])
            return f"({self.expr(INT64, env, d)} {op} {self.expr(INT64, env, d)})"
        if kind == 2:
            return f"(int64 {self._arg(self.pick([INT, FLOAT]), env, d)})"
        return f"({self.expr(INT64, env, d)} >>> ({self.expr(INT, env, d)} &&& 63))"

    def _uint8(self, env: list, d: int) -> str:
        if self.chance(60):
            op = self.pick(["+", "-", "*", "&&&", "|||", "/", "%"])
            return f"({self.expr(UINT8, env, d)} {op} {self.expr(UINT8, env, d)})"
        return f"(uint8 {self._arg(self.pick([INT, FLOAT]), env, d)})"

    def _float(self, env: list, d: int) -> str:
        kind = self.rng.randrange(12)
        e = lambda: self.expr(FLOAT, env, d)  # noqa: E731
        if kind <= 2:
            return f"({e()} {self.pick(['+', '-', '*', '/', '%'])} {e()})"
        if kind == 3:
            return f"(float {self._arg(self.pick([INT, INT64, UINT8, FLOAT32]), env, d)})"
        if kind == 4:
            return f"({self.pick(['sqrt', 'abs', 'floor', 'weight'])} {self._arg(FLOAT, env, d)})"
        if kind == 5:
            return f"({self.pick(['min', 'max'])} {self._arg(FLOAT, env, d)} {self._arg(FLOAT, env, d)})"
        if kind == 6:
            return f"(Array.sum {self._arg(FLOATS, env, d)})"
        if kind == 7:
            x, acc = self.fresh("x"), self.fresh("acc")
            if self.chance(50):
                op = self.pick(["+", "*", "-"])
                return (f"(Array.fold (fun {acc} {x} -> {acc} {op} {x}) {self.pick(['0.0', '1.0', '2.5'])} "
                        f"{self._arg(FLOATS, env, d)})")
            return (f"(Array.fold (fun {acc} {x} -> {self.expr(FLOAT, self.closed(env) + [(acc, FLOAT), (x, FLOAT)], d)}) "
                    f"{self._arg(FLOAT, env, d)} {self._arg(FLOATS, env, d)})")
        if kind == 8:
            return f"({self._arg(FLOATS, env, d)}.[{self.expr(INT, env, d)}])"
        if kind == 9:
            x, y = self.fresh("x"), self.fresh("y")
            if self.chance(50):
                body = self.pick([f"{x} - {y}", f"{x} + {y}", f"{x} * {y}", f"max {x} {y}", f"min {x} {y}"])
                return f"(Array.reduce (fun {x} {y} -> {body}) {self._arg(FLOATS, env, d)})"
            return (f"(Array.reduce (fun {x} {y} -> {self.expr(FLOAT, self.closed(env) + [(x, FLOAT), (y, FLOAT)], d)}) "
                    f"{self._arg(FLOATS, env, d)})")
        if kind == 10:
            return f"(snd {self._arg(PAIR, env, d)})"
        return self._call(FLOAT, env, d) or self._branch(FLOAT, env, d)

    def _float32(self, env: list, d: int) -> str:
        if self.chance(60):
            op = self.pick(["+", "-", "*", "/"])
            return f"({self.expr(FLOAT32, env, d)} {op} {self.expr(FLOAT32, env, d)})"
        return f"(float32 {self._arg(self.pick([INT, FLOAT]), env, d)})"

    def _bool(self, env: list, d: int) -> str:
        kind = self.rng.randrange(6)
        if kind <= 1:
            op = self.pick(["<", "<=", ">", ">=", "=", "<>"])
            if self.chance(30):  # a masked value against a bound it may reach
                return f"(({self.expr(INT, env, d)} &&& 7) {op} {self.rng.randint(0, 8)})"
            t = self.pick([INT, FLOAT, INT64, UINT8, FLOAT32])
            return f"({self.expr(t, env, d)} {op} {self.expr(t, env, d)})"
        if kind == 2:
            return f"({self.expr(BOOL, env, d)} {self.pick(['&&', '||'])} {self.expr(BOOL, env, d)})"
        if kind == 3:
            return f"(not {self._arg(BOOL, env, d)})"
        if kind == 4:
            return f"(List.isEmpty {self._arg(INT_LIST, env, d)})"
        return self._call(BOOL, env, d) or self._branch(BOOL, env, d)

    def _floats(self, env: list, d: int) -> str:
        kind = self.rng.randrange(6)
        x, i = self.fresh("x"), self.fresh("i")
        if kind == 0:
            return f"(Array.map (fun {x} -> {self.expr(FLOAT, self.closed(env) + [(x, FLOAT)], d)}) {self._arg(FLOATS, env, d)})"
        if kind == 1:
            return f"(Array.filter (fun {x} -> {self.expr(BOOL, self.closed(env) + [(x, FLOAT)], d)}) {self._arg(FLOATS, env, d)})"
        if kind == 2:
            return f"(Array.init ({self.expr(INT, env, d)} &&& 7) (fun {i} -> {self.expr(FLOAT, self.closed(env) + [(i, INT)], d)}))"
        if kind == 3:
            return (f"(Array.mapi (fun {i} {x} -> {self.expr(FLOAT, self.closed(env) + [(i, INT), (x, FLOAT)], d)}) "
                    f"{self._arg(FLOATS, env, d)})")
        if kind == 4:
            y = self.fresh("y")
            body = self.expr(FLOAT, self.closed(env) + [(x, FLOAT), (y, FLOAT)], d)
            first, j, z = self._arg(FLOATS, env, d), self.fresh("j"), self.fresh("z")
            # The second array: as long as the first (no failure), but not equal to it.
            second = self.pick([self._arg(FLOATS, env, d), f"(Array.mapi (fun {j} {z} -> {z} + float {j}) {first})"])
            return f"(Array.map2 (fun {x} {y} -> {x} - {y} * {self.pick(['2.0', '0.5'])} + {body}) {first} {second})"
        return f"(Array.map (fun {x} -> float {x}) {self._arg(INTS, env, d)})"

    def _ints(self, env: list, d: int) -> str:
        x, i = self.fresh("x"), self.fresh("i")
        if self.chance(50):
            return f"(Array.map (fun {x} -> {self.expr(INT, self.closed(env) + [(x, INT)], d)}) {self._arg(INTS, env, d)})"
        return f"(Array.init ({self.expr(INT, env, d)} &&& 7) (fun {i} -> {self.expr(INT, self.closed(env) + [(i, INT)], d)}))"

    def _int_list(self, env: list, d: int) -> str:
        kind = self.rng.randrange(5)
        x = self.fresh("x")
        if kind == 0:
            return f"(List.map (fun {x} -> {self.expr(INT, self.closed(env) + [(x, INT)], d)}) {self._arg(INT_LIST, env, d)})"
        if kind == 1:
            return f"(List.filter (fun {x} -> {self.expr(BOOL, self.closed(env) + [(x, INT)], d)}) {self._arg(INT_LIST, env, d)})"
        if kind == 2:
            return f"({self._arg(INT, env, d)} :: {self._arg(INT_LIST, env, d)})"
        if kind == 3:
            return f"(List.distinct {self._arg(INT_LIST, env, d)})"
        return f"(List.rev {self._arg(INT_LIST, env, d)})"

    def _int_option(self, env: list, d: int) -> str:
        if self.chance(70):
            return f"(Some {self._arg(INT, env, d)})"
        return "None"

    def _pair(self, env: list, d: int) -> str:
        return f"({self.expr(INT, env, d)}, {self.expr(FLOAT, env, d)})"

    def _shape(self, env: list, d: int) -> str:
        return self.pick([f"(Circle {self._arg(FLOAT, env, d)})", f"(Square {self._arg(INT, env, d)})", "Empty"])

    def _point(self, env: list, d: int) -> str:
        points = [n for n, t in env if t == POINT]
        if points and self.chance(50):
            return f"{{ {self.pick(points)} with X = {self.expr(INT, env, d)} }}"
        return f"{{ X = {self.expr(INT, env, d)}; Y = {self.expr(FLOAT, env, d)} }}"

    # -- statements and functions ----------------------------------------------------------------------------
    def statements(self, env: list, count: int, depth: int) -> list[str]:
        lines: list[str] = []
        for _ in range(count):
            kind = self.rng.randrange(10)
            if kind <= 2:
                t = self.pick(PARAMETER_TYPES + (INT, FLOAT))
                name = self.fresh()
                lines.append(f"let {name} = {self.expr(t, env, depth)}")
                env.append((name, t))
            elif kind == 3:
                acc, i = self.fresh("acc"), self.fresh("i")
                self.mutable.add(acc)
                t = self.pick([INT, FLOAT])
                op = self.pick(["+", "*", "-"])
                lines += [f"let mutable {acc} = {self.expr(t, env, depth - 1)}",
                          f"for {i} in {self.rng.randint(-2, 2)} .. ({self.expr(INT, env, depth - 1)} &&& 7) do",
                          f"    {acc} <- {acc} {op} {self.expr(t, env + [(i, INT), (acc, t)], depth - 1)}"]
                env.append((acc, t))
            elif kind == 4:
                k, acc = self.fresh("k"), self.fresh("acc")
                self.mutable.update((k, acc))
                lines += [f"let mutable {k} = 0",
                          f"let mutable {acc} = {self.expr(INT, env, depth - 1)}",
                          f"while {k} < ({self.expr(INT, env, depth - 1)} &&& 3) do",
                          f"    {acc} <- {acc} ^^^ {self.expr(INT, env + [(k, INT), (acc, INT)], depth - 1)}",
                          f"    {k} <- {k} + 1"]
                env.append((acc, INT))
            elif kind == 6:
                # The same expression twice, and a difference both ways round: what CSE merges, and must not.
                ints = [n for n, t in env if t == INT and n not in self.mutable]
                if len(ints) >= 2:
                    a, b = self.rng.sample(ints, 2)
                    op = self.pick(["-", "/", "<<<", "%"])
                    names = [self.fresh() for _ in range(3)]
                    lines += [f"let {names[0]} = {a} {op} {b}", f"let {names[1]} = {b} {op} {a}",
                              f"let {names[2]} = {a} {op} {b}"]
                    env += [(n, INT) for n in names]
            elif kind == 7:
                # One effect twice: neither call may be merged away.
                ints = [n for n, t in env if t == INT and n not in self.mutable]
                lists = [n for n, t in env if t == INT_LIST and n not in self.mutable]
                first, second = self.fresh(), self.fresh()
                if lists and self.chance(50):
                    x, source, effect = self.fresh("x"), self.pick(lists), self.fresh("g")
                    call = f"List.length (List.map {effect} {source})"
                    lines += [f"let {effect} = fun {x} -> emit {x}", f"let {first} = {call}", f"let {second} = {call}"]
                    env += [(first, INT), (second, INT)]
                elif ints:
                    a = self.pick(ints)
                    lines += [f"let {first} = emit {a}", f"let {second} = emit {a}"]
                    env += [(first, INT), (second, INT)]
            elif kind == 9:
                t, name = self.pick([INT, FLOAT, BOOL]), self.fresh()
                lines.append(f"let {name} = {self._branch(t, env, depth)}")
                env.append((name, t))
            elif kind == 8:
                m, i = self.fresh("m"), self.fresh("i")
                self.mutable.add(m)
                lines += [f"let mutable {m} = {self.expr(INT, env, depth - 1)}",
                          f"for {i} in 0 .. ({self.expr(INT, env, depth - 1)} &&& 7) do",
                          f"    if {self.expr(BOOL, env + [(i, INT), (m, INT)], depth - 1)} then",
                          f"        {m} <- {m} + {self.expr(INT, env + [(i, INT), (m, INT)], depth - 1)}"]
                env.append((m, INT))
            else:
                x, acc = self.fresh("x"), self.fresh("acc")
                self.mutable.add(acc)
                lines += [f"let mutable {acc} = {self.expr(FLOAT, env, depth - 1)}",
                          f"for {x} in {self.expr(FLOATS, env, depth - 1)} do",
                          f"    {acc} <- {acc} + {self.expr(FLOAT, env + [(x, FLOAT), (acc, FLOAT)], depth - 1)}"]
                env.append((acc, FLOAT))
        return lines

    def function(self, statements: int, depth: int) -> str:
        name = f"f{len(self.functions)}"
        params = tuple(self.pick(PARAMETER_TYPES) for _ in range(self.rng.randint(1, 4)))
        result = self.pick(RESULT_TYPES)
        env = [(f"p{k}", t) for k, t in enumerate(params)]
        lines = self.statements(env, statements, depth)
        bound = [(n, t) for n, t in env[len(params):]]
        final = self.expr(result, env, depth)
        if bound:
            # Every binding flows into the result: nothing the function computes is dead code.
            digest = self.fresh("digest")
            lines.append(f"let {digest} = " + " + ".join(OBSERVE[t].format(v=n) for n, t in bound))
            final = MIX[result].format(e=final, d=digest)
        lines.append(final)
        header = f"let {name} " + " ".join(f"(p{k}: {t})" for k, t in enumerate(params)) + f" : {result} ="
        self.functions.append((name, params, result))
        return header + "\n" + "\n".join("    " + line for line in lines) + "\n"


# An int that depends on a value (all of it: every element, every field, every case).
OBSERVE = {
    INT: "{v}", INT64: "int {v}", UINT8: "int {v}", FLOAT: "int ({v} * 16.0)", FLOAT32: "int ({v} * 16.0f)",
    BOOL: "(if {v} then 1 else 2)",
    FLOATS: "int (Array.fold (fun a x -> a * 3.0 + x) 0.0 {v})",
    INTS: "Array.fold (fun a x -> a * 31 + x) 7 {v}",
    INT_LIST: "List.fold (fun a x -> a * 31 + x) 5 {v}",
    INT_OPTION: "(match {v} with | Some x -> x | None -> 3)",
    PAIR: "(fst {v} + int (snd {v}))",
    SHAPE: "(match {v} with | Circle r -> int r | Square n -> n * 3 | Rect (w, h) -> w + int h | Empty -> 11)",
    POINT: "({v}.X + int {v}.Y)",
}
# A result of each type that depends on an int digest as well as on the expression.
MIX = {
    INT: "({e}) + {d}", INT64: "({e}) + int64 {d}", UINT8: "({e}) + uint8 {d}", FLOAT: "({e}) + float {d}",
    FLOAT32: "({e}) + float32 {d}", BOOL: "(({e}) <> ({d} % 2 = 0))",
    FLOATS: "Array.map (fun x -> x + float {d}) ({e})", INTS: "Array.map (fun x -> x + {d}) ({e})",
    INT_LIST: "{d} :: ({e})", PAIR: "(match {e} with | (a, b) -> (a + {d}, b))",
    INT_OPTION: "(match {e} with | Some x -> Some (x + {d}) | None -> Some {d})",
}


def program(seed: int, functions: int = 3, statements: int = 4, depth: int = 3) -> str:
    """The source of one random well-typed program (deterministic in ``seed``)."""
    writer = _Writer(random.Random(seed))
    parts = [PRELUDE]
    for _ in range(functions):
        parts.append(writer.function(statements, depth))
    return "\n".join(parts)
