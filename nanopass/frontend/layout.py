"""The offside rule: indentation -> VBEGIN / VSEP / VEND tokens for the grammar.

This is a lark post-lexer in the manner of `lark.indenter.Indenter`, but for
F#'s light syntax, where blocks are opened by keywords and closed by the
column of later lines rather than by INDENT/DEDENT on every line.

A stack of contexts is kept:

* blocks (a `let` body after `=`, the bodies after `->`, `then`, `else`, `do`,
  the arms after `match ... with`, a type definition after `type X =`, and the
  top level): the first token fixes the block's column.  A later line starting
  at that column gets a VSEP before it; one starting left of it closes the
  block (VEND).  Blocks are bracketed by VBEGIN/VEND except the top level.
* brackets `( [ [| { [<`: closed by their own closing token, whatever the
  columns; a line at the column of the first item gets a VSEP (so records and
  lists may put one item per line), and a line at or left of the indentation of
  the bracket's own line means the bracket was never closed.
* heads (`let ... =`, `fun ... ->`, `match ... with`, `if ... then`, `for/while
  ... do`, a match arm's pattern before `->`): they wait for the keyword that
  opens their block, and vanish if a line starts at or left of them first.

F#'s permitted undentations that the examples use are honoured: an infix
operator may start a line left of its block by its own width plus one
(`|> f` under `x`), `|` arms may sit at the column of their `match` (and union
cases at the column of `type`), and in a computation expression the body of
`for ... do` may continue at the column of the `for` (`query { for m in xs do`
/ `select e }`).

Some tokens are also retyped here because their meaning depends on spacing or
lookahead: see the list at the top of clef.lark.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import attrs
from lark import Token
from lark.exceptions import UnexpectedCharacters

# Builders whose `{` opens a computation expression rather than a record.
CE_BUILDERS = frozenset({"async", "query", "seq"})
# Numeric types that take a unit of measure: `float<volt>`.
MEASURABLE_TYPES = frozenset({"float", "float32", "double", "single", "decimal", "int", "int64",
                              "uint8"})

OPENERS = {"LPAR": "RPAR", "HP_LPAR": "RPAR", "LBRACK": "RBRACK", "DOTLBRACK": "RBRACK",
           "LARRAY": "RARRAY", "LBRACE": "RBRACE", "CE_LBRACE": "RBRACE", "LATTR": "RATTR"}
CLOSERS = frozenset(OPENERS.values())
INFIX = frozenset({
    "PIPE_RIGHT", "PIPE_LEFT", "COMPOSE_RIGHT", "COMPOSE_LEFT", "BAND", "BOR", "BXOR",
    "SHL", "SHR", "LOGICAL_AND", "LOGICAL_OR", "EQ", "NE", "LT", "GT", "LE", "GE", "CONS",
    "PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "POW", "CARET",
})
# Tokens that continue the construct before them, so a line starting with one
# never gets a separator (and may close blocks without being offside).
CONTINUATION_STARTS = INFIX | CLOSERS | frozenset({
    "BAR", "THEN", "ELSE", "ELIF", "WITH", "DO", "IN", "AND", "ARROW", "WHEN", "OF",
    "DOT", "DOTLBRACK", "COLON", "DOTDOT", "LARROW", "COMMA", "SEMI",
})
# Tokens after which the next line continues the same item.
CONTINUATION_ENDS = INFIX | frozenset({"COMMA", "SEMI", "LARROW", "COLON", "DOTDOT", "OF", "ARROW"})
# Tokens that end the block they appear in instead of starting its contents.
BLOCK_ENDERS = CLOSERS | frozenset({"ELSE", "ELIF", "THEN", "WITH", "IN", "AND", "DO", "BAR"})
# Tokens that can end an expression: a '-' glued to one of these is binary.
EXPRESSION_ENDS = frozenset({"IDENT", "LONG_IDENT", "NUMBER", "STRING", "TRUE", "FALSE",
                             "RPAR", "RBRACK", "RARRAY", "RBRACE"})
# What may appear between `<` and `>` of type arguments or a unit of measure.
TYPE_ARGUMENT_TOKENS = frozenset({"IDENT", "LONG_IDENT", "TYVAR", "COMMA", "STAR", "SLASH",
                                  "CARET", "MINUS", "NUMBER", "LPAR", "RPAR", "LBRACK",
                                  "RBRACK", "ARROW", "UNDERSCORE", "LT", "GT", "COMPOSE_RIGHT",
                                  "SHR"})
TYPE_ARGUMENT_SCAN_LIMIT = 256
MERGED_ANGLES = frozenset({"COMPOSE_RIGHT", "SHR"})  # `>>`, `>>>`
ANGLE_RUNS = MERGED_ANGLES | {"GT"}

SPELLING = {"RPAR": ")", "RBRACK": "]", "RARRAY": "|]", "RBRACE": "}", "RATTR": ">]"}


class LayoutError(Exception):
    """An indentation or bracketing error at a line and column (1-based)."""

    def __init__(self, message: str, line: int, col: int, width: int = 1):
        super().__init__(message)
        self.message, self.line, self.col, self.width = message, line, col, width


@attrs.define
class _Context:
    kind: str  # a block, bracket or head kind; see the module docstring
    col: int  # blocks: first token; heads: their keyword; brackets: first item
    opener: Token | None = None
    floor: int = 0  # brackets: indentation of the opener's line
    in_comp_expr: bool = False  # `for` heads directly inside `async {`/`query {`

    @property
    def is_block(self) -> bool:
        return self.kind in BLOCK_KINDS

    @property
    def is_bracket(self) -> bool:
        return self.kind == "bracket"


BLOCK_KINDS = frozenset({"top", "let_body", "type_body", "arrow_body", "arm_body",
                         "then", "else", "do", "clauses"})


@attrs.define
class _Pending:
    """A block or bracket whose column the next token will fix."""

    kind: str
    opener: Token
    floor: int  # the first token, if on a new line, must be right of this column...
    relaxed_col: int | None = None  # ...or at least at this one (permitted undentation)
    relaxed_bar_only: bool = False  # the relaxation applies to a leading `|` only


def layout(stream: Iterable[Token], end_error: Exception | None = None) -> Iterator[Token]:
    """Yield the tokens of `stream` with layout tokens added.

    Errors are raised where they occur in the token order, so that the parser
    reports an earlier syntax error first.  A lexer error in `stream`, or
    `end_error` (an error the caller found past the last token), is raised
    after the tokens before it; LayoutError for layout mistakes.
    """
    tokens, lex_error = _materialize(stream)
    return _Layout(_retype(tokens)).run(lex_error or end_error)


def _materialize(stream: Iterable[Token]) -> tuple[list[Token], Exception | None]:
    tokens: list[Token] = []
    try:
        for tok in stream:
            tokens.append(tok)
    except UnexpectedCharacters as error:
        return tokens, error
    return tokens, None


# ------------------------------------------------------------------ retyping


def _glued(before: Token, after: Token) -> bool:
    return before.end_pos == after.start_pos


def _retype(raw: list[Token]) -> list[Token]:
    tokens = list(raw)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = tokens[i - 1] if i > 0 else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        glued_to_prev = prev is not None and _glued(prev, tok)
        if tok.type == "LPAR" and glued_to_prev and prev.type in ("IDENT", "LONG_IDENT"):
            tokens[i] = Token.new_borrow_pos("HP_LPAR", tok.value, tok)
        elif (tok.type == "MINUS" and nxt is not None and _glued(tok, nxt)
              and not (glued_to_prev and prev.type in EXPRESSION_ENDS)):
            if nxt.type == "NUMBER":  # `-1` is one literal, so `f -1` passes minus one
                tokens[i:i + 2] = [_joined("NUMBER", tok, nxt)]
            else:
                tokens[i] = Token.new_borrow_pos("MINUS_PREFIX", tok.value, tok)
        elif tok.type == "LBRACE" and prev is not None and prev.type == "IDENT" and prev.value in CE_BUILDERS:
            tokens[i] = Token.new_borrow_pos("CE_LBRACE", tok.value, tok)
        elif tok.type == "LT" and glued_to_prev and prev.type in ("IDENT", "LONG_IDENT", "NUMBER"):
            closing = _type_argument_end(tokens, i)
            if closing is not None:
                measured = prev.type == "NUMBER" or prev.value in MEASURABLE_TYPES
                tokens[i] = Token.new_borrow_pos("UNIT_LT" if measured else "TYAPP_LT", tok.value, tok)
                # Inside type arguments `>>` is two closing angles: split them.
                # Later iterations retype the nested `<`s.
                if any(t.type in MERGED_ANGLES for t in tokens[i + 1:closing + 1]):
                    inner = [piece for t in tokens[i + 1:closing + 1] for piece in _split_angles(t)]
                    tokens[i + 1:closing + 1] = inner
                    closing = _type_argument_end(tokens, i)
                tokens[closing] = Token.new_borrow_pos("RANGLE", ">", tokens[closing])
        i += 1
    return tokens


def _type_argument_end(tokens: list[Token], lt_index: int) -> int | None:
    """The index of the token closing the `<` at lt_index, if it reads as type arguments."""
    depth = 1
    end = min(len(tokens), lt_index + 1 + TYPE_ARGUMENT_SCAN_LIMIT)
    for j in range(lt_index + 1, end):
        kind = tokens[j].type
        if kind not in TYPE_ARGUMENT_TOKENS:
            return None
        if kind == "LT":
            depth += 1
        elif kind in ANGLE_RUNS:
            closes = len(tokens[j].value)
            if closes > depth:
                return None
            depth -= closes
            if depth == 0:
                return j
    return None


def _joined(kind: str, first: Token, last: Token) -> Token:
    return Token(kind, first.value + last.value, first.start_pos, first.line, first.column,
                 last.end_line, last.end_column, last.end_pos)


def _split_angles(tok: Token) -> list[Token]:
    if tok.type not in MERGED_ANGLES:
        return [tok]
    return [
        Token("GT", ">", tok.start_pos + k, tok.line, tok.column + k, tok.line, tok.column + k + 1,
              tok.start_pos + k + 1)
        for k in range(len(tok.value))
    ]


# -------------------------------------------------------------- offside rule


def _virtual(kind: str, at: Token) -> Token:
    """A zero-width layout token at the start of `at`."""
    return Token(kind, "", at.start_pos, at.line, at.column, at.line, at.column, at.start_pos)


def _virtual_after(kind: str, tok: Token) -> Token:
    return Token(kind, "", tok.end_pos, tok.end_line, tok.end_column, tok.end_line, tok.end_column,
                 tok.end_pos)


class _Layout:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.stack: list[_Context] = []
        self.pending: _Pending | None = None
        self.prev: Token | None = None
        self.line_indent = 1  # column of the first token on the current line
        self.out: list[Token] = []

    def run(self, final_error: Exception | None) -> Iterator[Token]:
        for tok in self.tokens:
            self.step(tok)
            yield from self.out
            self.out.clear()
        if final_error is not None:
            raise final_error
        self.finish()
        yield from self.out

    # -- one token ----------------------------------------------------------

    def step(self, tok: Token) -> None:
        starts_line = self.prev is None or tok.line > self.prev.end_line
        if starts_line:
            self.line_indent = tok.column
        if not self.stack:
            self.stack.append(_Context("top", tok.column))
        else:
            opened = self.pending is not None and self.open_pending(tok, starts_line)
            if starts_line and not opened:
                self.offside(tok)
        self.update_contexts(tok, starts_line)
        self.out.append(tok)
        self.prev = tok

    def open_pending(self, tok: Token, starts_line: bool) -> bool:
        """Open the pending block or bracket at `tok`; False if `tok` cannot start it."""
        pending, self.pending = self.pending, None
        if pending.kind == "bracket":
            if tok.type in CLOSERS:
                return True
            if starts_line and tok.column <= pending.floor:
                raise LayoutError(
                    f"the contents of this '{pending.opener.value}' must be indented more than "
                    f"column {pending.floor}", tok.line, tok.column)
            self.stack[-1].col = tok.column
            return True
        is_bar = tok.type == "BAR"
        if tok.type in BLOCK_ENDERS and not (is_bar and pending.kind in ("clauses", "type_body")):
            return False
        if starts_line and tok.column <= pending.floor:
            relaxed = pending.relaxed_col is not None and tok.column >= pending.relaxed_col
            if not relaxed or (pending.relaxed_bar_only and not is_bar):
                return False
        self.stack.append(_Context(pending.kind, tok.column))
        self.out.append(_virtual("VBEGIN", tok))
        return True

    def offside(self, tok: Token) -> None:
        """Apply the offside rule to `tok`, the first token on its line."""
        closed: _Context | None = None  # the last block this line closed
        while True:
            ctx = self.stack[-1]
            if ctx.is_bracket:
                if tok.type in CLOSERS:
                    return
                if tok.column <= ctx.floor:
                    opener = ctx.opener
                    raise LayoutError(
                        f"expected '{SPELLING[OPENERS[opener.type]]}' to close the '{opener.value}' "
                        f"at {opener.line}:{opener.column} before this line", tok.line, tok.column)
                if tok.column == ctx.col:
                    self.separate(tok)
                return
            if not ctx.is_block:  # a head
                if self.belongs_to_head(ctx, tok) and tok.column >= ctx.col:
                    return
                if tok.column <= ctx.col:
                    self.stack.pop()
                    continue
                self.check_not_between(tok, closed)
                return
            if tok.column < ctx.col:
                if ctx.kind == "top":
                    raise LayoutError(
                        f"this line is indented less than the first declaration (column {ctx.col})",
                        tok.line, tok.column)
                undented_infix = tok.type in INFIX and tok.column >= ctx.col - len(tok.value) - 1
                if undented_infix and closed is None:
                    return
                closed = self.close_block(tok)
                continue
            if tok.column == ctx.col:
                if ctx.kind in ("clauses", "type_body") and tok.type != "BAR":
                    closed = self.close_block(tok)  # a line at the arms' (cases') column that is no arm
                    continue
                self.separate(tok)
                return
            self.check_not_between(tok, closed)
            return

    def separate(self, tok: Token) -> None:
        if tok.type in CONTINUATION_STARTS or self.prev.type in CONTINUATION_ENDS:
            return
        self.out.append(_virtual("VSEP", tok))

    def check_not_between(self, tok: Token, closed: _Context | None) -> None:
        """A line that closed a block must line up with an enclosing one."""
        if closed is None or tok.type in CONTINUATION_STARTS:
            return
        raise LayoutError(
            f"this line is offside: indent it to column {closed.col} to continue the block above, "
            f"or to column {self.enclosing_column()} to end it", tok.line, tok.column)

    def enclosing_column(self) -> int:
        return next(ctx.col for ctx in reversed(self.stack) if ctx.is_block or ctx.is_bracket)

    @staticmethod
    def belongs_to_head(ctx: _Context, tok: Token) -> bool:
        expected = {"if": ("THEN", "ELIF", "ELSE"), "match_head": ("WITH",), "for_head": ("DO", "IN"),
                    "while_head": ("DO",), "let_head": ("EQ",), "type_head": ("EQ",),
                    "fun_head": ("ARROW",), "arm_head": ("ARROW", "WHEN", "BAR")}
        return tok.type in expected.get(ctx.kind, ())

    def close_block(self, at: Token) -> _Context:
        ctx = self.stack.pop()
        if ctx.kind != "top":
            self.out.append(_virtual("VEND", at))
        return ctx

    def close_until(self, at: Token, kinds: tuple[str, ...]) -> _Context | None:
        """Close contexts down to the innermost one of `kinds` (left open) within the
        current bracket; if there is none, close nothing and return None."""
        for depth in range(len(self.stack) - 1, -1, -1):
            ctx = self.stack[depth]
            if ctx.kind in kinds:
                while len(self.stack) > depth + 1:
                    self.close_context(at)
                return ctx
            if ctx.is_bracket:
                return None
        return None

    def close_context(self, at: Token) -> None:
        if self.stack[-1].is_block:
            self.close_block(at)
        else:
            self.stack.pop()

    # -- what each token does to the contexts --------------------------------

    def update_contexts(self, tok: Token, starts_line: bool) -> None:
        kind = tok.type
        top = self.stack[-1]
        if kind in ("LET", "LET_BANG"):
            self.stack.append(_Context("let_head", tok.column))
        elif kind == "AND":
            # On a new line the offside rule has already closed the body before it.
            if not starts_line and self.close_until(tok, ("let_body",)) is not None:
                self.close_block(tok)
            self.stack.append(_Context("let_head", tok.column))
        elif kind == "TYPE":
            self.stack.append(_Context("type_head", tok.column))
        elif kind == "EQ" and top.kind in ("let_head", "type_head"):
            self.stack.pop()
            if top.kind == "let_head":
                self.pending = _Pending("let_body", tok, self.line_indent)
            else:
                self.pending = _Pending("type_body", tok, self.line_indent, top.col, relaxed_bar_only=True)
        elif kind == "FUN":
            self.stack.append(_Context("fun_head", tok.column))
        elif kind == "ARROW" and top.kind in ("fun_head", "arm_head", "clauses"):
            if top.kind != "clauses":
                self.stack.pop()
            body = "arrow_body" if top.kind == "fun_head" else "arm_body"
            self.pending = _Pending(body, tok, self.line_indent)
        elif kind == "MATCH":
            self.stack.append(_Context("match_head", tok.column))
        elif kind == "WITH":
            head = self.close_until(tok, ("match_head",))
            if head is not None:
                self.stack.pop()
                self.pending = _Pending("clauses", tok, self.line_indent, head.col, relaxed_bar_only=True)
        elif kind == "BAR":
            if self.close_until(tok, ("clauses",)) is not None:
                self.stack.append(_Context("arm_head", tok.column))
        elif kind == "IF":
            self.stack.append(_Context("if", tok.column))
        elif kind == "THEN":
            if self.close_until(tok, ("if",)) is not None:
                self.pending = _Pending("then", tok, self.line_indent)
        elif kind == "ELIF":
            self.close_until(tok, ("if",))
        elif kind == "ELSE":
            if self.close_until(tok, ("if",)) is not None:
                self.stack.pop()
                self.pending = _Pending("else", tok, self.line_indent)
        elif kind == "FOR":
            in_ce = top.is_bracket and top.opener.type == "CE_LBRACE"
            self.stack.append(_Context("for_head", tok.column, in_comp_expr=in_ce))
        elif kind == "WHILE":
            self.stack.append(_Context("while_head", tok.column))
        elif kind == "DO" and top.kind in ("for_head", "while_head"):
            self.stack.pop()
            relaxed_col = top.col if top.in_comp_expr else None
            self.pending = _Pending("do", tok, self.line_indent, relaxed_col)
        elif kind == "IN" and top.kind != "for_head" and not starts_line:
            if self.close_until(tok, ("let_body",)) is not None:
                self.close_block(tok)
        elif kind in OPENERS:
            self.stack.append(_Context("bracket", 0, opener=tok, floor=self.line_indent))
            self.pending = _Pending("bracket", tok, self.line_indent)
        elif kind in CLOSERS:
            self.close_bracket(tok)

    def close_bracket(self, tok: Token) -> None:
        while not self.stack[-1].is_bracket:
            if self.stack[-1].kind == "top":
                raise LayoutError(f"unexpected '{tok.value}': there is no open bracket to close",
                                  tok.line, tok.column, len(tok.value))
            self.close_context(tok)
        opener = self.stack.pop().opener
        if OPENERS[opener.type] != tok.type:
            raise LayoutError(
                f"expected '{SPELLING[OPENERS[opener.type]]}' to close the '{opener.value}' at "
                f"{opener.line}:{opener.column}, found '{tok.value}'", tok.line, tok.column, len(tok.value))

    def finish(self) -> None:
        """At the end of input: close every block; an open bracket is an error."""
        if self.prev is None:
            return
        while self.stack:
            ctx = self.stack[-1]
            if ctx.is_bracket:
                opener = ctx.opener
                raise LayoutError(
                    f"unclosed '{opener.value}': expected a matching "
                    f"'{SPELLING[OPENERS[opener.type]]}' before the end of the input",
                    opener.line, opener.column, len(opener.value))
            if ctx.is_block and ctx.kind != "top":
                self.out.append(_virtual_after("VEND", self.prev))
            self.stack.pop()
