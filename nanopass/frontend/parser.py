"""Clef source text -> `ast.Program`, or a located `DiagnosticError`.

The pipeline is: decode (bytes must be UTF-8) -> pre-scan (blank out comments,
reject tabs, control characters and unterminated strings/comments) -> lark's
basic lexer -> the layout post-lexer (layout.py) -> lark's LALR parser with the
AST builder below applied at each reduction.  Nothing here recurses on the
input's nesting: lark's LALR parser keeps its own stack, the builder runs
bottom-up inside it, and the final depth check walks the tree with an explicit
stack.  Trees nested deeper than MAX_NESTING_DEPTH are refused with a located
diagnostic, so that later (recursive) passes get trees they can walk.

Errors are reported in source order where it matters: a pre-scan or lexer
error is only raised once the parser has consumed every token before it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import re
import struct
from importlib import resources
from typing import Any, Iterator

import attrs
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lark import PostLex

from nanopass.diagnostics import Diagnostic, DiagnosticError, Span
from nanopass.frontend import ast
from nanopass.frontend.layout import LayoutError, layout

MAX_NESTING_DEPTH = 5000

VIRTUAL_TOKENS = frozenset({"VBEGIN", "VEND", "VSEP"})


def parse_program(source: str | bytes, filename: str = "<input>") -> ast.Program:
    """Parse a whole Clef file.  Raises DiagnosticError (only) on any error."""
    text = _decode(source, filename)
    with _parsing(text, filename) as clean:
        program = _parser().parse(clean)
    _check_depth(program, text)
    return program


def layout_tokens(source: str | bytes, filename: str = "<input>") -> list[Token]:
    """The tokens the grammar sees for `source`, layout tokens included (for
    tests and for debugging the offside rule).  Raises DiagnosticError."""
    text = _decode(source, filename)
    with _parsing(text, filename) as clean:
        return list(_parser().lex(clean))


@contextlib.contextmanager
def _parsing(text: str, filename: str) -> Iterator[str]:
    """Set up the session for one parse of `text` and turn every error raised
    inside into a DiagnosticError.  Yields the text with comments blanked."""
    clean, scan_error = _prescan(text)
    session = _Session(filename, text, clean, scan_error)
    token = _SESSION.set(session)
    try:
        yield clean
    except UnexpectedToken as error:
        raise DiagnosticError(session.syntax_error(error)) from None
    except UnexpectedCharacters as error:
        char = clean[error.pos_in_stream]
        raise DiagnosticError(session.diagnostic(
            f"unexpected character {char!r}", error.line, error.column)) from None
    except (LayoutError, _ScanError) as error:
        raise DiagnosticError(session.diagnostic(error.message, error.line, error.col, error.width)) from None
    except _BuildError as error:
        raise DiagnosticError(Diagnostic(error.span, error.message, source=text)) from None
    finally:
        _SESSION.reset(token)


# ------------------------------------------------------------ decode & scan


class _ScanError(Exception):
    def __init__(self, message: str, line: int, col: int, width: int = 1):
        super().__init__(message)
        self.message, self.line, self.col, self.width = message, line, col, width


# Characters that str.splitlines() treats as line breaks (so they would shift
# the caret line) and other control characters: never valid in Clef source.
_FORBIDDEN = "\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029"
_PLAIN_RUN = re.compile(f'[^"/(\\t{_FORBIDDEN}]+')
_FORBIDDEN_CHAR = re.compile(f"[{_FORBIDDEN}]")


def _decode(source: str | bytes, filename: str) -> str:
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as error:
            before = source[: error.start].decode("utf-8").replace("\r\n", "\n")
            shown = source.decode("utf-8", errors="replace").replace("\r\n", "\n")
            message = f"invalid UTF-8 byte 0x{source[error.start]:02x}: Clef source must be UTF-8"
            index = len(before)
            control = _FORBIDDEN_CHAR.search(before)  # an earlier error, which also shifts lines
            if control:
                message, index = _control_message(control.group()), control.start()
            line, col = _position(before, index)
            raise DiagnosticError.at(Span(filename, line, col, line, col + 1), message, source=shown) from None
    return source.removeprefix("\ufeff").replace("\r\n", "\n")


def _position(text: str, index: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _prescan(text: str) -> tuple[str, _ScanError | None]:
    """Blank out comments (keeping line breaks) and find the first lexical error.

    Returns the cleaned text, cut just before the error if there is one, and
    the error, which the parser raises once it has consumed the text before it.
    """
    out: list[str] = []
    i, n = 0, len(text)

    def fail(message: str, at: int, width: int = 1) -> tuple[str, _ScanError]:
        line, col = _position(text, at)
        return "".join(out), _ScanError(message, line, col, width)

    while i < n:
        run = _PLAIN_RUN.match(text, i)
        if run:
            out.append(run.group())
            i = run.end()
            continue
        char = text[i]
        if char == '"':
            end = _string_end(text, i)
            if end is None:
                return fail("unterminated string literal: expected a closing '\"'", i)
            bad = _FORBIDDEN_CHAR.search(text, i, end)
            if bad:
                return fail(_control_message(bad.group()), bad.start())
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            bad = _FORBIDDEN_CHAR.search(text, i, end)
            if bad:
                return fail(_control_message(bad.group()), bad.start())
            out.append(" " * (end - i))
            i = end
        elif text.startswith("(*", i) and not text.startswith("(*)", i):
            end = _block_comment_end(text, i)
            if end is None:
                return fail("unterminated comment: expected '*)' to close this '(*'", i, 2)
            bad = _FORBIDDEN_CHAR.search(text, i, end)
            if bad:
                return fail(_control_message(bad.group()), bad.start())
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif char == "\t":
            return fail("tab character: Clef indents with spaces only", i)
        elif char in "/(":
            out.append(char)
            i += 1
        else:
            return fail(_control_message(char), i)
    return "".join(out), None


def _control_message(char: str) -> str:
    if char == "\r":
        return "carriage return without a line feed"
    return f"unexpected control character U+{ord(char):04X}"


def _string_end(text: str, start: int) -> int | None:
    """Index just past the string literal opening at `start`, or None."""
    i = start + 1
    while True:
        quote = text.find('"', i)
        if quote < 0:
            return None
        backslashes = 0
        while text[quote - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return quote + 1
        i = quote + 1


_COMMENT_TOKENS = re.compile(r'\(\*|\*\)|"')


def _block_comment_end(text: str, start: int) -> int | None:
    """Index just past the (nesting) block comment opening at `start`, or None.
    As in F#, a string inside a comment is skipped whole."""
    depth, i = 0, start
    while True:
        found = _COMMENT_TOKENS.search(text, i)
        if found is None:
            return None
        token = found.group()
        if token == '"':
            end = _string_end(text, found.start())
            if end is None:
                return None
            i = end
            continue
        depth += 1 if token == "(*" else -1
        i = found.end()
        if depth == 0:
            return i


# ----------------------------------------------------------------- session


@attrs.define
class _Session:
    """Per-parse state that the shared lark parser's callbacks need."""

    filename: str
    text: str
    clean: str  # `text` with comments blanked: the same positions
    scan_error: _ScanError | None
    recent: list[Token] = attrs.Factory(list)  # the last tokens given to the parser

    def span(self, first: Token | ast.Node, last: Token | ast.Node) -> Span:
        start = first.span if isinstance(first, ast.Node) else None
        end = last.span if isinstance(last, ast.Node) else None
        return Span(
            self.filename,
            start.line if start else first.line,
            start.col if start else first.column,
            end.end_line if end else last.end_line,
            end.end_col if end else last.end_column,
        )

    def diagnostic(self, message: str, line: int, col: int, width: int = 1) -> Diagnostic:
        return Diagnostic(Span(self.filename, line, col, line, col + width), message, source=self.text)

    def syntax_error(self, error: UnexpectedToken) -> Diagnostic:
        found = error.token
        previous = self._real_token_before(found)
        accepts = set(error.accepts or error.expected)
        if accepts == {"IN", "VSEP"}:  # a complete `let` whose block ends
            anchor = previous or found
            return self.diagnostic("a block cannot end with a 'let': expected an expression on a "
                                   "new line after it", anchor.end_line, anchor.end_column)
        expected = _describe_expected(accepts, previous, self.recent)
        after = f" after {_describe_token(previous)}" if previous is not None else ""
        if found.type == "$END" or found.type in VIRTUAL_TOKENS:
            line, col = (previous.end_line, previous.end_column) if previous is not None else (1, 1)
            at_end = found.type == "$END" or not self.clean[found.end_pos:].strip()
            where = " at the end of the input" if at_end else ""
            return self.diagnostic(f"expected {expected}{after}{where}", line, col)
        width = max(1, len(found.value.split("\n")[0]))
        return self.diagnostic(f"expected {expected}{after}, found {_describe_token(found)}",
                               found.line, found.column, width)

    def _real_token_before(self, found: Token) -> Token | None:
        index = next((i for i in range(len(self.recent) - 1, -1, -1) if self.recent[i] is found),
                     len(self.recent))
        for tok in reversed(self.recent[:index]):
            if tok.type not in VIRTUAL_TOKENS:
                return tok
        return None


_SESSION: contextvars.ContextVar[_Session] = contextvars.ContextVar("clef_parse_session")
_RECENT_TOKENS_KEPT = 64


class _LayoutPostLex(PostLex):
    always_accept = ()

    def process(self, stream):
        session = _SESSION.get()
        recent = session.recent
        for tok in layout(stream, end_error=session.scan_error):
            recent.append(tok)
            if len(recent) > 2 * _RECENT_TOKENS_KEPT:
                del recent[:_RECENT_TOKENS_KEPT]
            yield tok


# ------------------------------------------------------- error descriptions

_WORDS = {
    "IDENT": "a name", "LONG_IDENT": "a qualified name", "NUMBER": "a number", "STRING": "a string",
    "TYVAR": "a type variable", "VBEGIN": "an indented block", "VSEP": "a new line",
    "VEND": "the end of the block", "$END": "the end of the input", "HP_LPAR": "'('",
    "MINUS_PREFIX": "'-'", "TYAPP_LT": "'<'", "UNIT_LT": "'<'", "RANGLE": "'>'", "CE_LBRACE": "'{'",
}
_OPERATORS = {
    "PIPE_RIGHT", "PIPE_LEFT", "COMPOSE_RIGHT", "COMPOSE_LEFT", "BAND", "BOR", "BXOR", "SHL",
    "SHR", "LOGICAL_AND", "LOGICAL_OR", "EQ", "NE", "LT", "GT", "LE", "GE", "CONS", "PLUS",
    "MINUS", "STAR", "SLASH", "PERCENT", "POW",
}
# Starts of an expression, a pattern or a type, summarised as one phrase.
_CATEGORIES = (
    ("a type", {"TYVAR"}, {"IDENT", "LONG_IDENT", "TYVAR", "LPAR"}),
    ("a pattern", {"UNDERSCORE"}, {"IDENT", "LONG_IDENT", "NUMBER", "STRING", "TRUE", "FALSE", "LPAR",
                                   "HP_LPAR", "LBRACK", "UNDERSCORE", "MINUS", "MINUS_PREFIX"}),
    ("an expression", {"IDENT", "NUMBER"}, {"IDENT", "LONG_IDENT", "NUMBER", "STRING", "TRUE", "FALSE",
                                            "LPAR", "LBRACK", "LARRAY", "LBRACE", "MINUS",
                                            "MINUS_PREFIX", "IF", "FUN", "MATCH", "WHILE", "FOR",
                                            "VBEGIN", "LET", "DO_BANG", "RETURN", "SELECT", "LET_BANG"}),
    ("a declaration ('let', 'type', 'extern' or an attribute)", {"LET", "TYPE", "EXTERN"},
     {"LET", "TYPE", "EXTERN", "LATTR"}),
)
# Tokens that could extend what came before but are never the helpful suggestion.
_CONTINUATIONS = {"DOT", "DOTLBRACK", "HP_LPAR", "COMMA", "LARROW", "SEMI", "COLON", "VSEP",
                  "VEND", "UNIT_LT", "TYAPP_LT", "CE_LBRACE", "LBRACK", "IDENT", "LONG_IDENT"}
_WORDS_SHOWN = 5


def _describe_token(tok: Token) -> str:
    if tok.type in ("IDENT", "LONG_IDENT", "NUMBER"):
        return f"{_WORDS[tok.type]} '{tok.value}'"
    if tok.type == "STRING":
        return "a string"
    if tok.type in _WORDS and not tok.value:
        return _WORDS[tok.type]
    return f"'{tok.value}'"


def _describe_expected(accepts: set[str], previous: Token | None, recent: list[Token]) -> str:
    """Turn the parser's acceptable terminals into a short phrase: the keywords
    and brackets that would close what is open first, then kinds of things."""
    if accepts == {"VBEGIN"}:
        if previous is not None and previous.type == "WITH":
            return "a match arm ('| pattern -> expression')"
        return "a type definition" if _innermost_head(recent) == "TYPE" else "an expression"
    rest = set(accepts)
    kinds = []
    for phrase, markers, members in _CATEGORIES:
        if markers <= rest:
            kinds.append(phrase)
            rest -= members
    if len(rest & _OPERATORS) >= 3:
        kinds.append("an operator")
        rest -= _OPERATORS
    if kinds:
        rest -= _CONTINUATIONS
    words = sorted({_WORDS.get(name) or f"'{_TERMINAL_SPELLING.get(name, name.lower())}'" for name in rest})
    words += kinds
    if not words:
        return "a new line or the end of the block"
    if len(words) > _WORDS_SHOWN:
        return ", ".join(words[:_WORDS_SHOWN]) + ", ..."
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _innermost_head(recent: list[Token]) -> str | None:
    for tok in reversed(recent):
        if tok.type in ("TYPE", "LET", "LET_BANG", "AND"):
            return tok.type
    return None


# --------------------------------------------------------------- the parser


@functools.cache
def _parser() -> Lark:
    grammar = resources.files("nanopass.frontend").joinpath("clef.lark").read_text(encoding="utf-8")
    parser = Lark(grammar, parser="lalr", lexer="basic", postlex=_LayoutPostLex(),
                  transformer=_AstBuilder(), keep_all_tokens=True, maybe_placeholders=False)
    _TERMINAL_SPELLING.update(
        (t.name, t.pattern.value) for t in parser.terminals if t.pattern.type == "str")
    return parser


_TERMINAL_SPELLING: dict[str, str] = {}


class _BuildError(Exception):
    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message, self.span = message, span


@attrs.define
class _SeqItems:
    """The items of a sequence while the parser reduces it right to left."""

    reversed_items: list[ast.Expr]


@attrs.define
class _LetHead:
    bindings: tuple[ast.Binding, ...]
    rec: bool
    keyword: Token


def _seq(value: Any) -> Any:
    """Close an accumulated sequence into a Sequence node (other values pass)."""
    if not isinstance(value, _SeqItems):
        return value
    items = tuple(reversed(value.reversed_items))
    return ast.Sequence(items, span=_SESSION.get().span(items[0], items[-1]))


def _nodes(children: list) -> list:
    return [c for c in children if not isinstance(c, Token)]


def _span(children: list) -> Span:
    """The span from the first to the last real token or node among `children`
    (tuples of them, as some rules return, count by their items)."""
    flat = [item for c in children for item in (c if isinstance(c, tuple) else (c,))]
    real = [c for c in flat
            if isinstance(c, ast.Node) or (isinstance(c, Token) and c.type not in VIRTUAL_TOKENS)]
    return _SESSION.get().span(real[0], real[-1])


def _token_span(tok: Token) -> Span:
    return _SESSION.get().span(tok, tok)


def _is_capitalised(name: str) -> bool:
    return name[:1].isupper()


class _AstBuilder(Transformer):
    """Lark callbacks, one per rule alias, each building one AST node."""

    # -- declarations -------------------------------------------------------

    def start(self, children):
        decls = tuple(c for c in children if isinstance(c, ast.Decl))
        span = _span(children) if decls else Span(_SESSION.get().filename, 1, 1, 1, 1)
        return ast.Program(decls, span=span)

    def decl(self, children):
        groups = [c for c in children if isinstance(c, tuple)]
        attributes = tuple(a for group in groups for a in group)
        body = children[-1]
        if isinstance(body, ast.MeasureDecl) and not any(a.name == "Measure" for a in attributes):
            raise _BuildError(
                f"type '{body.name}' has no definition: write '= ...', or mark it [<Measure>] "
                "to declare a unit of measure", body.span)
        return attrs.evolve(body, attributes=attributes)

    def attr_group(self, children):
        return tuple(c for c in children if isinstance(c, ast.Attribute))

    def attribute(self, children):
        args = tuple(c for c in children if isinstance(c, ast.Literal))
        return ast.Attribute(children[0].value, args, span=_span(children))

    def negative_literal(self, children):
        text = children[1].value  # may itself be negative: `- -1`
        negated = text[1:] if text.startswith("-") else "-" + text
        return _literal(Token.new_borrow_pos("NUMBER", negated, children[1]), span=_span(children))

    def type_decl(self, children):
        name = children[1].value
        params = next((tuple(t.value[1:] for t in c) for c in children
                       if isinstance(c, tuple) and isinstance(c[0], Token)), ())
        span = _span(children)
        last = children[-1]
        representation = children[-2] if isinstance(last, Token) and last.type == "VEND" else None
        if representation is None:
            return ast.MeasureDecl(name, (), span=span)
        if isinstance(representation[0], ast.RecordField):
            return ast.RecordDecl(name, params, representation, (), span=span)
        return ast.UnionDecl(name, params, representation, (), span=span)

    def type_params(self, children):
        return tuple(c for c in children if c.type == "TYVAR")

    def record_repr(self, children):
        return tuple(c for c in children if isinstance(c, ast.RecordField))

    def field_decl(self, children):
        mutable = children[0].type == "MUTABLE"
        name = children[1 if mutable else 0].value
        return ast.RecordField(name, children[-1], mutable, span=_span(children))

    def union_repr(self, children):
        return tuple(c for c in children if isinstance(c, ast.UnionCase))

    def union_case(self, children):
        fields = tuple(c for c in children if isinstance(c, ast.TypeExpr))
        return ast.UnionCase(children[0].value, fields, span=_span(children))

    def extern_decl(self, children):
        return ast.ExternDecl(children[1].value, children[3], (), span=_span(children))

    def let_decl(self, children):
        head: _LetHead = children[0]
        span = _SESSION.get().span(head.keyword, head.bindings[-1])
        return ast.LetDecl(head.bindings, head.rec, (), span=span)

    def let_head(self, children):
        bindings = [c for c in children if isinstance(c, ast.Binding)]
        kinds = {c.type for c in children if isinstance(c, Token)}
        if "MUTABLE" in kinds:
            binding = bindings[0]
            if binding.params:
                raise _BuildError("a function cannot be 'mutable'", binding.span)
            bindings = [attrs.evolve(binding, mutable=True)]
        return _LetHead(tuple(bindings), "REC" in kinds, children[0])

    def name_binding(self, children):
        name = children[0]
        params = tuple(c for c in children if isinstance(c, ast.Pattern))
        return_type = next((c for c in children if isinstance(c, ast.TypeExpr)), None)
        pattern = ast.NamePattern(name.value, span=_token_span(name))
        return ast.Binding(pattern, params, return_type, children[-1], False, span=_span(children))

    def pattern_binding(self, children):
        return_type = next((c for c in children if isinstance(c, ast.TypeExpr)), None)
        return ast.Binding(children[0], (), return_type, children[-1], False, span=_span(children))

    def return_type(self, children):
        return children[1]

    def block(self, children):
        return _seq(children[1])

    # -- sequences and computation expressions ------------------------------

    def sequence(self, children):
        item, rest = children[0], children[2]
        if isinstance(rest, _SeqItems):
            rest.reversed_items.append(item)
            return rest
        return _SeqItems([rest, item])

    def trailing_semicolon(self, children):
        return children[0]

    def let_expr(self, children):
        head: _LetHead = children[0]
        body = _seq(children[2])
        return ast.Let(head.bindings, head.rec, body, span=_SESSION.get().span(head.keyword, body))

    def let_bang(self, children):
        body = _seq(children[5])
        return ast.LetBang(children[1], children[3], body, span=_span([children[0], body]))

    def do_bang(self, children):
        return ast.DoBang(children[1], span=_span(children))

    def return_expr(self, children):
        return ast.Return(children[1], span=_span(children))

    def select_expr(self, children):
        return ast.Select(children[1], span=_span(children))

    def comp_expr(self, children):
        return ast.CompExpr(children[0].value, _seq(children[2]), span=_span(children))

    # -- control ------------------------------------------------------------

    def assign(self, children):
        target = children[0]
        if not isinstance(target, (ast.Var, ast.Index, ast.FieldAccess)):
            raise _BuildError(
                "cannot assign to this expression: '<-' needs a mutable variable, "
                "an array element 'a.[i]' or a field", target.span)
        return ast.Assign(target, children[2], span=_span(children))

    def if_expr(self, children):
        # Children: IF c THEN b (ELIF c THEN b)* (ELSE b)?; build from the last branch.
        else_branch = children[-1] if children[-2].type == "ELSE" else None
        end = len(children) - (2 if else_branch is not None else 0)
        result = else_branch
        for start in range(end - 4, -1, -4):
            keyword, condition, then_branch = children[start], children[start + 1], children[start + 3]
            last = result if result is not None else then_branch
            result = ast.If(condition, then_branch, result, span=_SESSION.get().span(keyword, last))
        return result

    def match_expr(self, children):
        arms = children[4]
        return ast.Match(children[1], arms, span=_span([children[0], arms]))

    def match_arms(self, children):
        return tuple(c for c in children if isinstance(c, ast.MatchArm))

    def match_arm(self, children):
        guard = children[2] if isinstance(children[1], Token) and children[1].type == "WHEN" else None
        return ast.MatchArm(children[0], guard, children[-1], span=_span(children))

    def lambda_expr(self, children):
        params = tuple(c for c in children if isinstance(c, ast.Pattern))
        return ast.Lambda(params, children[-1], span=_span(children))

    def while_expr(self, children):
        return ast.While(children[1], children[3], span=_span(children))

    def for_each(self, children):
        return ast.ForEach(children[1], children[3], children[5], span=_span(children))

    def for_range(self, children):
        variable = children[1]
        if isinstance(variable, ast.NamePattern):
            name = variable.name
        elif isinstance(variable, ast.WildcardPattern):
            name = "_"
        else:
            raise _BuildError("the variable of 'for ... in a .. b' must be a name", variable.span)
        return ast.ForRange(name, children[3], children[5], children[7], span=_span(children))

    # -- operators and application ------------------------------------------

    def tuple_expr(self, children):
        return ast.Tuple(tuple(_nodes(children)), span=_span(children))

    def binop(self, children):
        left, op, right = children
        return ast.BinOp(op.value, left, right, span=_span(children))

    def negate(self, children):
        return ast.UnOp("-", children[1], span=_span(children))

    def app(self, children):
        function, args = children[0], tuple(children[1:])
        if isinstance(function, ast.Var) and function.name == "not" and len(args) == 1:
            return ast.UnOp("not", args[0], span=_span(children))
        return ast.App(function, args, span=_span(children))

    def high_precedence_app(self, children):
        callee = children[0]
        inner = children[2] if len(children) == 4 else None
        if isinstance(callee, ast.FieldAccess):
            args = () if inner is None else inner.elements if isinstance(inner, ast.Tuple) else (inner,)
            return ast.MethodCall(callee.target, callee.field, args, span=_span(children))
        if inner is None:
            inner = ast.Literal(ast.LiteralKind.UNIT, None, span=_span(children[1:]))
        if isinstance(callee, ast.Var) and callee.name == "not":
            return ast.UnOp("not", inner, span=_span(children))
        return ast.App(callee, (inner,), span=_span(children))

    def field_access(self, children):
        return ast.FieldAccess(children[0], children[2].value, span=_span(children))

    def index(self, children):
        inner = children[2]
        indices = inner.elements if isinstance(inner, ast.Tuple) else (inner,)
        return ast.Index(children[0], indices, span=_span(children))

    # -- atoms --------------------------------------------------------------

    def literal(self, children):
        return _literal(children[0], span=_span(children))

    def measured_literal(self, children):
        literal = _literal(children[0], span=_span(children))
        if literal.kind not in _MEASURABLE_LITERALS:
            raise _BuildError(f"a {literal.kind.value} literal cannot carry a unit of measure", literal.span)
        return attrs.evolve(literal, unit=children[2])

    def unit_literal(self, children):
        return ast.Literal(ast.LiteralKind.UNIT, None, span=_span(children))

    def var(self, children):
        return ast.Var(children[0].value, span=_span(children))

    def operator_var(self, children):
        return ast.Var(children[1].value, span=_span(children))

    def paren(self, children):
        return _seq(children[1])

    def list_lit(self, children):
        return ast.ListLit(tuple(_nodes(children)), span=_span(children))

    def array_lit(self, children):
        return ast.ArrayLit(tuple(_nodes(children)), span=_span(children))

    def record_expr(self, children):
        return ast.RecordExpr(tuple(_nodes(children)), span=_span(children))

    def record_update(self, children):
        source, *fields = _nodes(children)
        return ast.RecordUpdate(source, tuple(fields), span=_span(children))

    def field_init(self, children):
        return ast.FieldInit(children[0].value, children[2], span=_span(children))

    # -- patterns -----------------------------------------------------------

    def name_pattern(self, children):
        name = children[0]
        if name.type == "LONG_IDENT" or _is_capitalised(name.value):
            return ast.UnionCasePattern(name.value, (), span=_span(children))
        return ast.NamePattern(name.value, span=_span(children))

    def wildcard_pattern(self, children):
        return ast.WildcardPattern(span=_span(children))

    def literal_pattern(self, children):
        return ast.LiteralPattern(children[0], span=_span(children))

    def negative_literal_pattern(self, children):
        literal = self.negative_literal(children)
        return ast.LiteralPattern(literal, span=literal.span)

    def case_pattern(self, children):
        name, argument = children
        args = argument.elements if isinstance(argument, ast.TuplePattern) else (argument,)
        return ast.UnionCasePattern(name.value, args, span=_span(children))

    def tuple_pattern(self, children):
        return ast.TuplePattern(tuple(_nodes(children)), span=_span(children))

    def or_pattern(self, children):
        return ast.OrPattern(children[0], children[2], span=_span(children))

    def cons_pattern(self, children):
        return ast.ConsPattern(children[0], children[2], span=_span(children))

    def paren_pattern(self, children):
        inner = _nodes(children)
        if not inner:
            unit = ast.Literal(ast.LiteralKind.UNIT, None, span=_span(children))
            return ast.LiteralPattern(unit, span=unit.span)
        if len(inner) == 1:
            return inner[0]
        return ast.TuplePattern(tuple(inner), span=_span(children))

    def typed_pattern(self, children):
        return ast.TypedPattern(children[0], children[2], span=_span(children))

    def list_pattern(self, children):
        return ast.ListPattern(tuple(_nodes(children)), span=_span(children))

    # -- types --------------------------------------------------------------

    def type_name(self, children):
        return ast.TypeName(children[0].value, (), span=_span(children))

    def type_var(self, children):
        return ast.TypeVar(children[0].value[1:], span=_span(children))

    def type_app(self, children):
        return ast.TypeName(children[0].value, tuple(_nodes(children)), span=_span(children))

    def measured_type(self, children):
        return ast.MeasuredType(children[0].value, children[2], span=_span(children))

    def postfix_type_app(self, children):
        return ast.TypeName(children[1].value, (children[0],), span=_span(children))

    def array_type(self, children):
        rank = 1 + sum(1 for c in children if isinstance(c, Token) and c.type == "COMMA")
        return ast.ArrayType(children[0], rank, span=_span(children))

    def tuple_type(self, children):
        return ast.TupleType(tuple(_nodes(children)), span=_span(children))

    def function_type(self, children):
        return ast.FunctionType(children[0], children[2], span=_span(children))

    def unit_name(self, children):
        return ast.UnitName(children[0].value, span=_span(children))

    def unit_one(self, children):
        if children[0].value != "1":
            raise _BuildError(f"expected a unit of measure, found the number '{children[0].value}' "
                              "(only 1 may stand for 'no unit')", _span(children))
        return ast.UnitOne(span=_span(children))

    def unit_binary(self, children):
        left, op, right = children
        node = ast.UnitProduct if op.type == "STAR" else ast.UnitQuotient
        return node(left, right, span=_span(children))

    def unit_product(self, children):
        return ast.UnitProduct(children[0], children[1], span=_span(children))

    def unit_power(self, children):
        sign = -1 if any(c.type in ("MINUS", "MINUS_PREFIX") for c in children[1:-1]) else 1
        exponent = children[-1]
        if not re.fullmatch(r"-?[0-9]+", exponent.value):
            raise _BuildError(f"a unit exponent must be a whole number, not '{exponent.value}'",
                              _token_span(exponent))
        return ast.UnitPower(children[0], sign * int(exponent.value), span=_span(children))


# ---------------------------------------------------------------- literals

_MEASURABLE_LITERALS = {ast.LiteralKind.INT, ast.LiteralKind.INT64, ast.LiteralKind.FLOAT,
                        ast.LiteralKind.FLOAT32}
_INTEGER = re.compile(r"(-?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)(L|uy)?")
_FLOAT = re.compile(r"-?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?")
_INTEGER_KINDS = {"": (ast.LiteralKind.INT, 32, True), "L": (ast.LiteralKind.INT64, 64, True),
                  "uy": (ast.LiteralKind.UINT8, 8, False)}


def _literal(tok: Token, span: Span) -> ast.Literal:
    if tok.type == "STRING":
        return ast.Literal(ast.LiteralKind.STRING, _unescape(tok, span), span=span)
    if tok.type in ("TRUE", "FALSE"):
        return ast.Literal(ast.LiteralKind.BOOL, tok.type == "TRUE", span=span)
    text = tok.value
    integer = _INTEGER.fullmatch(text)
    if integer:
        return _integer_literal(integer, text, span)
    if text.endswith(("f", "F")) and _FLOAT.fullmatch(text[:-1]):
        value = _float_value(text[:-1], span)
        try:
            rounded = struct.unpack("f", struct.pack("f", value))[0]
        except OverflowError:
            rounded = math.inf
        if math.isinf(rounded):
            raise _BuildError(f"float32 literal '{text}' is out of range", span)
        return ast.Literal(ast.LiteralKind.FLOAT32, rounded, span=span)
    if _FLOAT.fullmatch(text):
        return ast.Literal(ast.LiteralKind.FLOAT, _float_value(text, span), span=span)
    raise _BuildError(f"malformed number '{text}'", span)


def _integer_literal(match: re.Match, text: str, span: Span) -> ast.Literal:
    sign, digits, suffix = match.group(1), match.group(2), match.group(3) or ""
    kind, bits, signed = _INTEGER_KINDS[suffix]
    try:
        magnitude = int(digits, 0) if digits[:2].lower() in ("0x", "0o", "0b") else int(digits, 10)
    except ValueError:
        raise _BuildError(f"malformed number '{text}'", span) from None
    value = -magnitude if sign else magnitude
    if digits[:2].lower() in ("0x", "0o", "0b"):
        # As in F#, hex/octal/binary literals may spell any bit pattern of the type.
        if magnitude >= 1 << bits:
            raise _BuildError(f"{kind.value} literal '{text}' is out of range", span)
        if signed:
            value = (value + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))
    else:
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= value <= high:
            hint = "; add 'L' for an int64" if kind is ast.LiteralKind.INT else ""
            raise _BuildError(f"{kind.value} literal '{text}' is out of range ({low} to {high}){hint}", span)
    return ast.Literal(kind, value, span=span)


def _float_value(text: str, span: Span) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _BuildError(f"malformed number '{text}'", span) from None
    if value in (float("inf"), float("-inf")):
        raise _BuildError(f"float literal '{text}' is out of range", span)
    return value


_ESCAPE = re.compile(r'\\(?:([0-9]{3})|([ntbrafv\\"\'0])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})'
                     r"|U([0-9a-fA-F]{8})|\n[ ]*)")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "r": "\r", "a": "\a", "f": "\f", "v": "\v",
                   "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unescape(tok: Token, span: Span) -> str:
    """F# string escapes; an unknown escape keeps its backslash, as in F#."""

    def replace(match: re.Match) -> str:
        decimal, simple, *hexadecimal = match.groups()
        if simple:
            return _SIMPLE_ESCAPES[simple]
        digits = next((h for h in hexadecimal if h), None)
        if decimal is None and digits is None:  # a backslash before a line break continues the string
            return ""
        code = int(decimal) if decimal is not None else int(digits, 16)
        if code > (255 if decimal is not None else 0x10FFFF):
            raise _BuildError(f"invalid character escape '{match.group()}'", span)
        return chr(code)

    return _ESCAPE.sub(replace, tok.value[1:-1])


# ------------------------------------------------------------- depth check


def _check_depth(program: ast.Program, text: str) -> None:
    """Refuse trees deeper than MAX_NESTING_DEPTH (walked with an explicit stack)."""
    stack: list[tuple[Any, int]] = [(program, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise DiagnosticError(Diagnostic(
                node.span, f"nesting too deep: more than {MAX_NESTING_DEPTH} levels", source=text))
        for child in _children(node):
            stack.append((child, depth + 1))


@functools.cache
def _child_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls) if f.name != "span")


def _children(node: ast.Node):
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, ast.Node):
            yield value
        elif isinstance(value, tuple):
            yield from (item for item in value if isinstance(item, ast.Node))
