"""The languages of the pipeline, each a delta of the one before.

Read top to bottom, this file is the pipeline:

    Clef         what the front end builds from source (order implicit)
    Elaborated   intrinsics are native ops, effects are explicit token chains,
                 mutable locals are SSA values, `query` is a map, `async` has
                 explicit suspension points

Value conventions shared by every language:

* ``const`` carries ``value`` and its ``type`` name (int, int64, uint8, float,
  float32, bool, unit, string).
* ``prim`` is a scalar operator named by ``op``: ``+ - * / % = <> < <= > >=
  &&& ||| ^^^ <<< >>> not neg`` (``&&`` and ``||`` are lowered to ``if``).
* ``ref`` names a top-level declaration or an intrinsic (``Array.map``).
* A ``match`` arm is a region whose params bind the pattern's variables in
  the order the pattern lists them; ``patterns`` holds one pattern tree per
  arm (see `nanopass.patterns`), ``guards`` one flag per arm; an arm with a
  guard owns two regions, guard then body, both over the same bindings.
"""

from __future__ import annotations

from nanopass.language import Language, kind

# -- declarations and structure shared by every level ---------------------------
_DECLARATIONS = (
    kind("func", attributes=("name", "params"), optional=("attributes", "rec_group"), regions=1,
         doc="a top-level function; its region's params are the curried parameters"),
    kind("global", attributes=("name",), optional=("attributes",), regions=1,
         doc="a top-level value, computed once by its region"),
    kind("extern", attributes=("name", "arity"), optional=("pure", "cost", "resource", "attributes"),
         doc="a function the host supplies; effectful unless pure"),
    kind("typedef", attributes=("name", "form"), optional=("fields", "cases"),
         doc="a record, union or unit-of-measure declaration"),
)

_VALUES = (
    kind("param", attributes=("index", "name"), doc="a region parameter"),
    kind("token", doc="a region's entry effect token"),
    kind("const", attributes=("value", "type")),
    kind("ref", attributes=("name",), doc="a top-level symbol or an intrinsic"),
    kind("prim", operands="+", attributes=("op",)),
    kind("lambda", regions=1, optional=("name",)),
    kind("tuple", operands="*"),
    kind("proj", operands=1, attributes=("index",)),
    kind("record", operands="*", attributes=("type", "fields")),
    kind("field", operands=1, attributes=("name",)),
    kind("with", operands="+", attributes=("fields",), doc="record copy: operand 0 is the record"),
    kind("union", operands="*", attributes=("type", "case")),
    kind("array", operands="*"),
    kind("list", operands="*"),
    kind("cons", operands=2),
    kind("index", operands="+", doc="a.[i] or m.[i, j]"),
)

# -- the source language: order is the body order, no tokens --------------------
Clef = Language.define(
    "clef",
    *_DECLARATIONS,
    *_VALUES,
    kind("apply", operands="+", doc="callee then arguments; may be partial"),
    kind("if", operands=1, regions=2),
    kind("match", operands=1, attributes=("patterns", "guards"), regions="*"),
    kind("store", operands="+", doc="a.[i] <- v / m.[i, j] <- v: array, indices, value"),
    kind("var", operands=1, attributes=("name",), doc="let mutable: a cell with its initial value"),
    kind("load", operands=1, doc="read a mutable cell"),
    kind("assign", operands=2, doc="cell <- value"),
    kind("while", regions=2, doc="condition region, body region"),
    kind("for", operands=2, regions=1, doc="inclusive range; the body's param is the index"),
    kind("foreach", operands=1, regions=1),
    kind("async", regions=1),
    kind("bind", operands=1, doc="let! / do!: wait for an Async"),
    kind("query", operands=1, regions=1, doc="for m in xs do select e"),
    kind("actor", operands=1, regions=1, doc="Actor.start init handler; handler params (state, msg)"),
    kind("post", operands=2, doc="actor.PostAndReply(msg)"),
    kind("tell", operands=2, doc="actor.Tell(msg)"),
)

# -- elaboration: explicit effects, SSA, native operations ----------------------
Elaborated = Clef.delta(
    "elaborated",
    remove=("apply", "var", "load", "assign", "while", "for", "bind", "query", "store", "post", "tell",
            "if", "match", "foreach"),
    add=(
        kind("native", operands="*", attributes=("op",), token="optional",
             doc="an intrinsic (Array.map, sqrt, float, ...) as a native operation"),
        kind("call", operands="+", token="optional", optional=("callee",),
             doc="a saturated call; operand 0 is the callee; a token when it may have effects"),
        kind("pap", operands="+", doc="a partial application (closure over leading arguments)"),
        kind("if", operands=1, regions=2, token="optional"),
        kind("match", operands=1, attributes=("patterns", "guards"), regions="*", token="optional"),
        kind("store", operands="+", token="always"),
        kind("loop", operands="*", regions=2, token="optional",
             doc="while with loop-carried values: operands are the initial values; "
                 "condition and body regions take the carried values as params; "
                 "the body yields the next ones; the node's value is the tuple of final ones"),
        kind("for", operands="+", regions=1, token="optional",
             doc="operands lo, hi, then initial carried values; body params (index, carried...)"),
        kind("foreach", operands="+", regions=1, token="optional",
             doc="operands xs, then initial carried values; body params (element, carried...)"),
        kind("await", operands=1, token="always", doc="a suspension point: the crossing"),
        kind("post", operands=2, token="always"),
        kind("tell", operands=2, token="always"),
    ),
)

LANGUAGES = {lang.name: lang for lang in (Clef, Elaborated)}
