r"""One front end for lme4 formulas: a linear-time parser and the model matrices it implies.

Every mixed-model command of the package reads the same formula language, lme4's::

    response ~ fixed terms + (random terms | grouping) + ...

This module turns such a formula and a :class:`pandas.DataFrame` into numbers, so that the
fitters (mixedlm for ``lmer`` and ``glmer``, the package's own code elsewhere) receive plain
numeric columns and never see a string they might misread.

API
---
:func:`parse_formula` (text -> :class:`Formula`, the syntax only) and
:func:`build_design` (formula and data -> :class:`Design`: the response, with the trials of a
``cbind`` response; the fixed-effect matrix and lme4's column names; an offset; one
:class:`RandomTerm` per random-effect term, with its model matrix, its grouping codes and
levels under lme4's names). Both serve ``lmer`` (ignore ``trials``) and ``glmer``.
:meth:`Design.frame` lays the design out as a data frame of safe column names together with
an equivalent formula in the subset of the syntax that mixedlm's own parser accepts (no
``cbind``, ``I()`` or transformations), which is how :mod:`analysis.models.glmer` feeds it.

Serving ``lmer`` as well (for the coordinator's switch of :mod:`analysis.models.lmer`)::

    design = build_design(formula, data)          # refuses bad formulas and data, one line
    frame, plain, names = design.frame()          # y, x0.., z0_0.., g0.. and their formula
    fit = mixedlm.lmer(plain, frame, REML=reml)   # mixedlm never parses the user's text
    # names["x1"] == "BowSouthwood", names["g0"] == "Name" (lme4's names, levels as lme4's)

``design.random[t].group`` and ``.levels`` already carry lme4's names for nested factors
(``b:a``, levels ``bLevel:aLevel``), which :mod:`analysis.models.lmer` now rebuilds with
regular expressions; ``design.columns`` lists the data columns used (for missing-value and
scale checks).

What the language covers
------------------------
* Response: a column, a transformation such as ``log(y)``, or ``cbind(successes,
  failures)`` whose arguments may be arithmetic (``cbind(hits, shots - hits)``).
* Fixed terms: ``+``, ``-`` (``- 1`` or ``+ 0`` drops the intercept), ``*`` (main effects and
  interaction), ``:`` (interaction), ``/`` (nesting, ``a/b`` is ``a + a:b``), ``^``
  (``(a + b + c)^2``: interactions up to that order), parentheses, ``offset(...)``.
* Variables: column names (backquoted names may hold any character), numbers, and the
  functions of :data:`FUNCTIONS` (``I``, ``log``, ``exp``, ``sqrt``, ``scale``, ``factor``,
  ...) with arithmetic ``+ - * / ^`` inside them.
* Random terms ``(expr | g)`` and uncorrelated ``(expr || g)`` (split into one term per
  variable, as lme4 does), crossed ``(1 | a) + (1 | b)``, nested ``(1 | a/b)`` (``a`` and
  ``b:a`` in lme4's names) and interactions ``(1 | a:b)``.

Text columns, booleans, pandas categoricals and ``factor(x)`` are factors, coded as R codes
them: treatment contrasts against the first level (a categorical's first category, else the
first sorted label) when the term without the factor is in the model, indicator columns
otherwise. Column names follow R's: ``BowSouthwood``, ``I(distance - 40)``,
``factor(period)2``, ``scale(HEIGHT)``, ``x:z``.

Safety and speed
----------------
The formula is never given to Python's ``eval``: a tokenizer reads it in one pass, a
precedence-climbing parser builds a small tree (nesting depth at most
:data:`MAX_DEPTH`), and the tree is evaluated by this module with the whitelisted functions
only. Every step is linear in the formula's length (no regular expression that can
backtrack), so a malformed formula of many kilobytes fails in milliseconds, with a message
that says where (``unclosed parenthesis opened at character 12``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "FormulaError",
    "Node",
    "Formula",
    "RandomTerm",
    "Design",
    "parse_formula",
    "build_design",
    "deparse",
]

#: Deepest nesting of parentheses and calls a formula may have.
MAX_DEPTH = 64
#: Longest formula accepted, in characters.
MAX_LENGTH = 20_000


class FormulaError(ValueError):
    """A formula that cannot be read or does not fit the data (a ``ValueError``)."""


# --------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "number", "op", "end"
    text: str
    pos: int  # 1-based character position, for messages


_TWO_CHAR_OPS = ("||", "%in%")
_ONE_CHAR_OPS = set("~+-*/:^|(),")


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch in "._"


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "._"


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens in one pass; check parentheses balance."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    open_stack: list[int] = []
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise FormulaError(f"unclosed backquote opened at character {i + 1}")
            if end == i + 1:
                raise FormulaError(f"empty backquoted name at character {i + 1}")
            tokens.append(_Token("name", text[i + 1 : end], start + 1))
            i = end + 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k].isdigit():
                    j = k
                    while j < n and text[j].isdigit():
                        j += 1
            literal = text[i:j]
            try:
                float(literal)
            except ValueError:
                raise FormulaError(f"malformed number {literal!r} at character {i + 1}") from None
            tokens.append(_Token("number", literal, start + 1))
            i = j
            continue
        if _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            tokens.append(_Token("name", text[i:j], start + 1))
            i = j
            continue
        matched = next((op for op in _TWO_CHAR_OPS if text.startswith(op, i)), None)
        if matched is not None:
            tokens.append(_Token("op", matched, start + 1))
            i += len(matched)
            continue
        if ch in _ONE_CHAR_OPS:
            if ch == "(":
                open_stack.append(i + 1)
                if len(open_stack) > MAX_DEPTH:
                    raise FormulaError(
                        f"formula nested more than {MAX_DEPTH} parentheses deep at "
                        f"character {i + 1}"
                    )
            elif ch == ")":
                if not open_stack:
                    raise FormulaError(f"unmatched closing parenthesis at character {i + 1}")
                open_stack.pop()
            tokens.append(_Token("op", ch, start + 1))
            i += 1
            continue
        raise FormulaError(f"unexpected character {ch!r} at character {i + 1}")
    if open_stack:
        raise FormulaError(f"unclosed parenthesis opened at character {open_stack[-1]}")
    tokens.append(_Token("end", "", n + 1))
    return tokens


# --------------------------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Node:
    """A node of a parsed formula.

    Attributes
    ----------
    kind
        ``"name"``, ``"number"``, ``"call"`` (``value`` is the function, ``args`` its
        arguments), ``"binary"`` (``value`` is the operator, two ``args``), ``"unary"``
        (``value`` is ``-`` or ``+``) or ``"paren"`` (one argument).
    value
        The name, the number's text, the function or the operator.
    args
        The children.
    """

    kind: str
    value: str
    args: tuple[Node, ...] = ()


# binding power of binary operators, as R's (higher binds tighter); ~ is handled apart
_BINARY = {"|": 1, "||": 1, "+": 2, "-": 2, "*": 3, "/": 3, "%in%": 4, ":": 5, "^": 7}
_RIGHT_ASSOC = {"^"}
_UNARY_POWER = 6


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        tok = self.tokens[self.at]
        self.at += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind != "op":
            found = "the end of the formula" if tok.kind == "end" else repr(tok.text)
            raise FormulaError(f"expected {text!r} at character {tok.pos}, found {found}")

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(
                f"formula nested more than {MAX_DEPTH} levels deep at character {pos}"
            )

    def expression(self, min_power: int = 0) -> Node:
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok.kind != "op" or tok.text not in _BINARY:
                return left
            power = _BINARY[tok.text]
            if power < min_power or (power == min_power and tok.text not in _RIGHT_ASSOC):
                return left
            self.take()
            next_min = power if tok.text in _RIGHT_ASSOC else power + 1
            self.enter(tok.pos)
            right = self.expression(next_min)
            self.depth -= 1
            left = Node("binary", tok.text, (left, right))

    def prefix(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            return Node("number", tok.text)
        if tok.kind == "name":
            if self.peek().text == "(" and self.peek().kind == "op":
                open_tok = self.take()
                self.enter(open_tok.pos)
                args: list[Node] = []
                if self.peek().text != ")":
                    args.append(self.expression())
                    while self.peek().text == "," and self.peek().kind == "op":
                        self.take()
                        args.append(self.expression())
                self.expect(")")
                self.depth -= 1
                return Node("call", tok.text, tuple(args))
            return Node("name", tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.enter(tok.pos)
            inner = self.expression()
            self.expect(")")
            self.depth -= 1
            return Node("paren", "(", (inner,))
        if tok.kind == "op" and tok.text in "-+":
            self.enter(tok.pos)
            operand = self.expression(_UNARY_POWER)
            self.depth -= 1
            return Node("unary", tok.text, (operand,))
        found = "the end of the formula" if tok.kind == "end" else repr(tok.text)
        raise FormulaError(f"expected a term at character {tok.pos}, found {found}")


def _number_text(text: str) -> str:
    value = float(text)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def deparse(node: Node) -> str:
    """Return ``node`` as R's ``deparse`` writes it.

    Spaces around ``+ - *``, none around ``/ ^ :``: lme4 names columns such as
    ``I(distance - 40)`` and ``I(x^2)`` this way.
    """
    if node.kind == "name":
        return node.value if all(_is_name_char(c) for c in node.value) else f"`{node.value}`"
    if node.kind == "number":
        return _number_text(node.value)
    if node.kind == "call":
        return f"{node.value}({', '.join(deparse(a) for a in node.args)})"
    if node.kind == "paren":
        return f"({deparse(node.args[0])})"
    if node.kind == "unary":
        return f"{node.value}{deparse(node.args[0])}"
    left, right = (deparse(a) for a in node.args)
    if node.value in ("/", "^", ":"):
        return f"{left}{node.value}{right}"
    return f"{left} {node.value} {right}"


# --------------------------------------------------------------------------------------------
# The formula's structure


@dataclass(frozen=True)
class _Bar:
    """One random-effect term ``(expr | grouping)`` before expansion."""

    expr: Node
    grouping: tuple[str, ...]  # the columns whose interaction is the grouping factor
    correlated: bool
    nested: bool = False  # the inner factor of a/b, which lme4 names b:a


@dataclass(frozen=True)
class Formula:
    """A parsed lme4 formula.

    Attributes
    ----------
    text
        The formula as given.
    response
        The response's tree (a ``cbind`` call for successes and failures).
    fixed
        The fixed terms, each a tuple of variable trees (empty tuple: none); in R's order
        (by degree, then first appearance).
    intercept
        Whether the fixed part has an intercept.
    offsets
        The trees inside ``offset(...)`` terms.
    random
        The random-effect terms, ``||`` already split.
    """

    text: str
    response: Node
    fixed: tuple[tuple[Node, ...], ...]
    intercept: bool
    offsets: tuple[Node, ...]
    random: tuple[_Bar, ...]

    @property
    def has_trials(self) -> bool:
        """Whether the response is ``cbind(successes, failures)``."""
        return self.response.kind == "call" and self.response.value == "cbind"


def _strip(node: Node) -> Node:
    while node.kind == "paren":
        node = node.args[0]
    return node


class _TermSet:
    """An ordered set of terms (tuples of variable keys) with an intercept flag."""

    def __init__(self) -> None:
        self.terms: dict[frozenset[str], tuple[Node, ...]] = {}
        self.intercept: bool | None = None

    @staticmethod
    def single(node: Node) -> _TermSet:
        out = _TermSet()
        out.terms[frozenset((deparse(node),))] = (node,)
        return out


def _canonical(nodes: tuple[Node, ...]) -> tuple[frozenset[str], tuple[Node, ...]]:
    by_key: dict[str, Node] = {}
    for node in nodes:
        by_key.setdefault(deparse(node), node)
    return frozenset(by_key), tuple(by_key.values())


def _interact(a: _TermSet, b: _TermSet) -> _TermSet:
    out = _TermSet()
    for na in a.terms.values():
        for nb in b.terms.values():
            key, nodes = _canonical(na + nb)
            out.terms.setdefault(key, nodes)
    return out


def _union(a: _TermSet, b: _TermSet) -> _TermSet:
    out = _TermSet()
    out.terms = dict(a.terms)
    for key, nodes in b.terms.items():
        out.terms.setdefault(key, nodes)
    out.intercept = b.intercept if b.intercept is not None else a.intercept
    return out


class _FixedBuilder:
    """Expands the fixed part of a formula into terms; collects offsets and random bars."""

    def __init__(self) -> None:
        self.bars: list[_Bar] = []
        self.offsets: list[Node] = []

    def terms(self, node: Node, top: bool) -> _TermSet:
        if node.kind == "paren":
            inner = node.args[0]
            if top and inner.kind == "binary" and inner.value in ("|", "||"):
                self.bars.extend(_bars(inner))
                return _TermSet()
            return self.terms(inner, top)
        if node.kind == "number":
            value = float(node.value)
            if value in (0.0, 1.0):
                out = _TermSet()
                out.intercept = value == 1.0
                return out
            raise FormulaError(f"a number ({node.value}) is not a term; use I({node.value})")
        if node.kind == "name":
            if node.value == ".":
                raise FormulaError("'.' (all other columns) is not supported; name the columns")
            return _TermSet.single(node)
        if node.kind == "call":
            if node.value == "offset":
                if len(node.args) != 1:
                    raise FormulaError("offset() takes one argument")
                self.offsets.append(node.args[0])
                return _TermSet()
            return _TermSet.single(node)
        if node.kind == "unary":
            operand = self.terms(node.args[0], top)
            if node.value == "+":
                return operand
            return _subtract(_TermSet(), operand)
        if node.kind != "binary":  # pragma: no cover - the parser makes no other kind
            raise FormulaError(f"cannot read {deparse(node)!r}")
        op = node.value
        if op in ("|", "||"):
            raise FormulaError(
                f"random-effect term {deparse(node)!r} must stand in its own parentheses, "
                "as in (1 + x | g); several grouping factors are several terms, "
                "(1 | a) + (1 | b)"
            )
        left = self.terms(node.args[0], top)
        if op == "^":
            right = _strip(node.args[1])
            if (
                right.kind != "number"
                or not float(right.value).is_integer()
                or float(right.value) < 1
            ):
                raise FormulaError(f"the power in {deparse(node)!r} must be a whole number")
            out = left
            for _ in range(int(float(right.value)) - 1):
                out = _union(out, _interact(out, left))
            return out
        right = self.terms(node.args[1], top)
        if op == "+":
            return _union(left, right)
        if op == "-":
            return _subtract(left, right)
        if op == ":":
            return _interact(left, right)
        if op == "*":
            return _union(_union(left, right), _interact(left, right))
        if op in ("/", "%in%"):
            if op == "%in%":
                return _interact(left, right)
            outer = _TermSet()
            key, nodes = _canonical(tuple(n for ns in left.terms.values() for n in ns))
            outer.terms[key] = nodes
            return _union(left, _interact(outer, right))
        raise FormulaError(f"unknown operator {op!r}")  # pragma: no cover


def _subtract(a: _TermSet, b: _TermSet) -> _TermSet:
    out = _TermSet()
    out.terms = {k: v for k, v in a.terms.items() if k not in b.terms}
    out.intercept = a.intercept
    if b.intercept is not None:
        out.intercept = not b.intercept if b.intercept else a.intercept
    return out


def _grouping(node: Node) -> tuple[tuple[str, ...], ...]:
    """Return the grouping factors of ``g``, ``a:b`` or ``a/b`` (``a`` and ``a:b``)."""
    node = _strip(node)
    if node.kind == "name":
        return ((node.value,),)
    if node.kind == "binary" and node.value == ":":
        left, right = _grouping(node.args[0]), _grouping(node.args[1])
        if len(left) != 1 or len(right) != 1:
            raise FormulaError(f"cannot read the grouping {deparse(node)!r}")
        return (left[0] + right[0],)
    if node.kind == "binary" and node.value == "/":
        left, right = _grouping(node.args[0]), _grouping(node.args[1])
        return (*left, *(left[-1] + r for r in right))
    if node.kind == "binary" and node.value == "+":
        raise FormulaError(
            f"the grouping {deparse(node)!r} is not one factor: write one random term per "
            "grouping factor, (1 | a) + (1 | b)"
        )
    raise FormulaError(f"the grouping {deparse(node)!r} must be column names joined by ':' or '/'")


def _bars(node: Node) -> list[_Bar]:
    expr, group = node.args
    grouping = _grouping(group)
    correlated = node.value == "|"
    out = []
    for index, g in enumerate(grouping):
        nested = index > 0 and len(g) > 1 and _strip(group).value == "/"
        if correlated:
            out.append(_Bar(expr, g, True, nested))
            continue
        # (a + b || g): one term per variable, the intercept its own term, as lme4
        builder = _FixedBuilder()
        terms = builder.terms(expr, top=False)
        if builder.bars or builder.offsets:
            raise FormulaError(f"cannot read the random term ({deparse(node)})")
        if terms.intercept is not False:
            out.append(_Bar(Node("number", "1"), g, True, nested))
        for nodes in terms.terms.values():
            term = nodes[0]
            for extra in nodes[1:]:
                term = Node("binary", ":", (term, extra))
            out.append(_Bar(Node("binary", "+", (Node("number", "0"), term)), g, False, nested))
    return out


def _variable_order(node: Node, out: dict[str, int]) -> dict[str, int]:
    """First appearance of every variable in a (fixed or random) right-hand side."""
    stack = [node]
    while stack:  # pre-order, left to right, without recursion
        item = stack.pop()
        if item.kind in ("name",) or (item.kind == "call" and item.value != "offset"):
            out.setdefault(deparse(item), len(out))
        elif item.kind in ("binary", "unary", "paren"):
            if (
                item.kind == "paren"
                and _strip(item).kind == "binary"
                and _strip(item).value in ("|", "||")
            ):
                continue
            stack.extend(reversed(item.args))
    return out


def _degree_order(
    terms: dict[frozenset[str], tuple[Node, ...]], tree: Node
) -> tuple[tuple[Node, ...], ...]:
    """Terms by degree, then first appearance; variables in a term by first appearance (R)."""
    order = _variable_order(tree, {})
    items = [
        tuple(sorted(nodes, key=lambda n: order.get(deparse(n), 0))) for nodes in terms.values()
    ]
    return tuple(sorted(items, key=len))


def parse_formula(text: str) -> Formula:
    """Parse an lme4 formula.

    Parameters
    ----------
    text
        The formula, e.g. ``"cbind(hits, shots - hits) ~ Bow + I(distance - 40) + (1 | Name)"``.

    Returns
    -------
    Formula
        Its response, fixed terms, intercept flag, offsets and random terms.

    Raises
    ------
    FormulaError
        A ``ValueError`` saying what is wrong and where: not a string, too long, no ``~``,
        an unexpected or unmatched character, an unclosed parenthesis, nesting deeper than
        :data:`MAX_DEPTH`, a random term outside parentheses, a number used as a term.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula has {len(text)} characters; at most {MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("the formula is empty; write e.g. 'y ~ x + (1 | g)'")
    tokens = _tokenize(text)
    tildes = [t for t in tokens if t.kind == "op" and t.text == "~"]
    if not tildes:
        raise FormulaError(f"the formula has no '~': write 'response ~ terms', got {text!r}")
    if len(tildes) > 1:
        raise FormulaError(f"the formula has more than one '~' (character {tildes[1].pos})")
    split = tokens.index(tildes[0])
    if split == 0:
        raise FormulaError("the formula has no response before '~'")
    lhs = _Parser([*tokens[:split], _Token("end", "", tildes[0].pos)])
    response = lhs.expression()
    if lhs.peek().kind != "end":
        tok = lhs.peek()
        raise FormulaError(f"unexpected {tok.text!r} at character {tok.pos} in the response")
    rhs = _Parser(tokens[split + 1 :])
    if rhs.peek().kind == "end":
        raise FormulaError("the formula has no terms after '~'")
    tree = rhs.expression()
    if rhs.peek().kind != "end":
        tok = rhs.peek()
        raise FormulaError(f"unexpected {tok.text!r} at character {tok.pos}")
    response = _strip(response)
    if response.kind == "call" and response.value == "cbind" and len(response.args) != 2:
        raise FormulaError("cbind() in the response takes two arguments: successes, failures")
    builder = _FixedBuilder()
    terms = builder.terms(tree, top=True)
    return Formula(
        text=text,
        response=response,
        fixed=_degree_order(terms.terms, tree),
        intercept=terms.intercept is not False,
        offsets=tuple(builder.offsets),
        random=tuple(builder.bars),
    )


# --------------------------------------------------------------------------------------------
# Evaluation


def _scale(x: np.ndarray) -> np.ndarray:
    sd = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    if not sd > 0:
        raise FormulaError("scale() of a constant column divides by an SD of 0")
    return (x - x.mean()) / sd


def _log(x: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    out = np.log(x) if base is None else np.log(x) / np.log(base)
    return out


#: The functions a formula may call, by name: all act elementwise on numbers except
#: ``scale`` (centre and divide by the SD, as R's) and ``factor`` (a factor), ``I`` (identity,
#: so that ``I(a + b)`` is arithmetic rather than two terms).
FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "I": lambda x: x,
    "log": _log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "scale": _scale,
    "as.numeric": lambda x: x,
}


@dataclass
class _Factor:
    """A categorical variable: integer codes and level labels."""

    codes: np.ndarray
    levels: list[str]


def _r_label(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_factor(series: pd.Series, name: str) -> _Factor:
    if series.isna().any():
        raise FormulaError(f"column {name!r} has missing values; drop or impute them first")
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.remove_unused_categories()
        return _Factor(
            cats.cat.codes.to_numpy(np.int64), [_r_label(c) for c in cats.cat.categories]
        )
    values = series.to_numpy()
    if series.dtype == object:
        values = series.astype(str).to_numpy()
    uniques, codes = np.unique(values, return_inverse=True)
    return _Factor(codes.astype(np.int64), [_r_label(u) for u in uniques])


def _is_factor_column(series: pd.Series) -> bool:
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or series.dtype == object
        or pd.api.types.is_string_dtype(series.dtype)
        or pd.api.types.is_bool_dtype(series.dtype)
    )


class _Evaluator:
    """Evaluates variable trees on a data frame (cached by their text)."""

    def __init__(self, data: pd.DataFrame) -> None:
        self.data = data
        self.cache: dict[str, np.ndarray | _Factor] = {}
        self.columns: list[str] = []

    def column(self, name: str) -> pd.Series:
        if name not in self.data.columns:
            raise FormulaError(
                f"the formula names a column not in the data: {name!r}; the columns are "
                f"{list(map(str, self.data.columns))}"
            )
        if name not in self.columns:
            self.columns.append(name)
        series = self.data[name]
        if series.isna().any():
            raise FormulaError(f"column {name!r} has missing values; drop or impute them first")
        return series

    def variable(self, node: Node) -> np.ndarray | _Factor:
        key = deparse(node)
        if key not in self.cache:
            self.cache[key] = self._variable(node)
        return self.cache[key]

    def _variable(self, node: Node) -> np.ndarray | _Factor:
        node = _strip(node)
        if node.kind == "name":
            series = self.column(node.value)
            if _is_factor_column(series):
                return _as_factor(series, node.value)
            return self.numeric(node)
        if node.kind == "call" and node.value == "factor":
            if len(node.args) != 1:
                raise FormulaError("factor() takes one argument")
            inner = _strip(node.args[0])
            if inner.kind == "name":
                return _as_factor(self.column(inner.value), inner.value)
            values = self.numeric(inner)
            return _as_factor(pd.Series(values), deparse(node))
        return self.numeric(node)

    def numeric(self, node: Node) -> np.ndarray:
        """Evaluate arithmetic and whitelisted calls to a float vector."""
        node = _strip(node)
        n = len(self.data)
        if node.kind == "number":
            return np.full(n, float(node.value))
        if node.kind == "name":
            series = self.column(node.value)
            if _is_factor_column(series):
                raise FormulaError(
                    f"column {node.value!r} is not numeric, so it cannot enter arithmetic "
                    f"in {node.value!r}"
                )
            return series.to_numpy(dtype=float)
        if node.kind == "unary":
            value = self.numeric(node.args[0])
            return -value if node.value == "-" else value
        if node.kind == "binary":
            op = node.value
            if op not in ("+", "-", "*", "/", "^"):
                raise FormulaError(
                    f"operator {op!r} cannot be used inside {deparse(node)!r}; "
                    "arithmetic allows + - * / ^"
                )
            a, b = (self.numeric(x) for x in node.args)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                if op == "+":
                    return a + b
                if op == "-":
                    return a - b
                if op == "*":
                    return a * b
                if op == "/":
                    return a / b
                return a**b
        if node.kind == "call":
            if node.value in ("factor", "cbind", "offset"):
                raise FormulaError(f"{node.value}() cannot be used inside {deparse(node)!r}")
            func = FUNCTIONS.get(node.value)
            if func is None:
                raise FormulaError(
                    f"unknown function {node.value!r}; the formula may use "
                    f"{', '.join(sorted(FUNCTIONS))}, factor() and, in the response, cbind()"
                )
            args = [self.numeric(a) for a in node.args]
            try:
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    return np.asarray(func(*args), dtype=float)
            except TypeError:
                raise FormulaError(f"wrong number of arguments in {deparse(node)!r}") from None
        raise FormulaError(f"cannot evaluate {deparse(node)!r}")  # pragma: no cover


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise FormulaError(
            f"{what} is not finite in {int(bad.sum())} row(s) (first: row {row + 1}); "
            "check the transformation (e.g. log of 0)"
        )
    return values


def _model_columns(
    nodes_list: tuple[tuple[Node, ...], ...],
    intercept: bool,
    ev: _Evaluator,
    what: str,
) -> tuple[np.ndarray, list[str]]:
    """Build the model matrix of ``terms`` as R's model.matrix with treatment contrasts."""
    n = len(ev.data)
    present = {frozenset(deparse(x) for x in nodes) for nodes in nodes_list}
    if intercept:
        present.add(frozenset())
    blocks: list[np.ndarray] = []
    names: list[str] = []
    if intercept:
        blocks.append(np.ones((n, 1)))
        names.append("(Intercept)")
    for nodes in nodes_list:
        cols = [np.ones(n)]
        labels = [""]
        keys = [deparse(x) for x in nodes]
        for node, key in zip(nodes, keys, strict=True):
            value = ev.variable(node)
            if isinstance(value, _Factor):
                rest = frozenset(k for k in keys if k != key)
                contrasts = rest in present
                levels = value.levels[1:] if contrasts else value.levels
                start = 1 if contrasts else 0
                if len(value.levels) < 2 and contrasts:
                    raise FormulaError(
                        f"the factor {key!r} in the {what} has a single level "
                        f"({value.levels[0]!r}); a factor needs at least two"
                    )
                new_cols, new_labels = [], []
                for col, lab in zip(cols, labels, strict=True):
                    for offset, level in enumerate(levels):
                        ind = (value.codes == start + offset).astype(float)
                        new_cols.append(col * ind)
                        piece = f"{key}{level}"
                        new_labels.append(piece if not lab else f"{lab}:{piece}")
                cols, labels = new_cols, new_labels
            else:
                values = _finite(value, f"the {what} variable {key!r}")
                cols = [c * values for c in cols]
                labels = [key if not lab else f"{lab}:{key}" for lab in labels]
        blocks.append(np.column_stack(cols))
        names.extend(labels)
    matrix = np.column_stack(blocks) if blocks else np.empty((n, 0))
    return matrix, names


# --------------------------------------------------------------------------------------------
# The design


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term: its columns and its grouping factor.

    Attributes
    ----------
    group
        lme4's name of the grouping factor (``Name``, ``b:a`` for the inner factor of
        ``a/b``, ``a:b`` for an explicit interaction).
    names
        lme4's names of the term's columns (``(Intercept)``, ``BowSouthwood``, ...).
    matrix
        The term's model matrix, one row per observation.
    codes
        The level of each observation, an index into ``levels``.
    levels
        lme4's labels of the grouping factor's levels.
    correlated
        Whether the columns' effects are correlated (``|``; every term of ``||`` has one
        variable and is uncorrelated with the others of the same grouping).
    """

    group: str
    names: list[str]
    matrix: np.ndarray
    codes: np.ndarray
    levels: list[str]
    correlated: bool = True

    @property
    def n_levels(self) -> int:
        """Number of levels of the grouping factor."""
        return len(self.levels)


@dataclass(frozen=True)
class Design:
    """A formula evaluated on data: everything a fitter needs, as numbers.

    Attributes
    ----------
    formula
        The parsed formula.
    response_name
        The response's text (``hit``, ``log(y)``, ``cbind(hits, shots - hits)``).
    y
        The response; for a ``cbind`` response the successes.
    trials
        For a ``cbind`` response the trials (successes + failures), else ``None``.
    X
        The fixed-effect model matrix.
    fixed_names
        lme4's names of its columns.
    offset
        The sum of the ``offset(...)`` terms, or ``None``.
    random
        The random-effect terms, in lme4's order (most levels first).
    columns
        The data columns the formula uses.
    """

    formula: Formula
    response_name: str
    y: np.ndarray
    trials: np.ndarray | None
    X: np.ndarray
    fixed_names: list[str]
    offset: np.ndarray | None
    random: list[RandomTerm] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def n_obs(self) -> int:
        """Number of observations."""
        return int(self.y.shape[0])

    def frame(self) -> tuple[pd.DataFrame, str, dict[str, str]]:
        """Lay the design out for a fitter that parses simple formulas itself (mixedlm).

        Returns
        -------
        frame
            Numeric columns ``y`` (the proportion of successes for a ``cbind`` response),
            ``x0, x1, ...`` (fixed), ``z<t>_<k>`` (random term ``t``'s column ``k``) and
            string columns ``g<t>`` (term ``t``'s grouping labels).
        formula
            ``y ~ 0 + x0 + x1 + ... + (0 + z0_0 + ... | g0) + ...``: no intercept, no
            functions, no factors, so nothing is re-coded.
        names
            lme4's name of every fixed and random column, keyed by the safe name.
        """
        data: dict[str, Any] = {}
        names: dict[str, str] = {}
        y = (
            self.y
            if self.trials is None
            else np.divide(self.y, self.trials, out=np.zeros_like(self.y), where=self.trials > 0)
        )
        data["y"] = y
        fixed = []
        for j, name in enumerate(self.fixed_names):
            data[f"x{j}"] = self.X[:, j]
            names[f"x{j}"] = name
            fixed.append(f"x{j}")
        parts = [" + ".join(["0", *fixed])]
        for t, term in enumerate(self.random):
            cols = []
            for k, name in enumerate(term.names):
                data[f"z{t}_{k}"] = term.matrix[:, k]
                names[f"z{t}_{k}"] = name
                cols.append(f"z{t}_{k}")
            labels = np.asarray(term.levels, dtype=object)[term.codes]
            data[f"g{t}"] = pd.Categorical(labels, categories=term.levels)
            names[f"g{t}"] = term.group
            parts.append(f"(0 + {' + '.join(cols)} | g{t})")
        return pd.DataFrame(data), "y ~ " + " + ".join(parts), names


def _group_factor(factors: tuple[str, ...], ev: _Evaluator) -> tuple[str, np.ndarray, list[str]]:
    """Codes and labels of a grouping factor; ``a/b``'s inner factor is named ``b:a``."""
    parts = [_as_factor(ev.column(name), name) for name in factors]
    if len(parts) == 1:
        return factors[0], parts[0].codes, parts[0].levels
    codes = np.zeros(len(ev.data), dtype=np.int64)
    for part in parts:
        codes = codes * len(part.levels) + part.codes
    uniques, inverse = np.unique(codes, return_inverse=True)
    labels = []
    for u in uniques:
        pieces = []
        rest = int(u)
        for part in reversed(parts):
            pieces.append(part.levels[rest % len(part.levels)])
            rest //= len(part.levels)
        labels.append(":".join(reversed(pieces)))
    return ":".join(factors), inverse.astype(np.int64), labels


def build_design(formula: str | Formula, data: pd.DataFrame) -> Design:
    """Evaluate a formula on data: the response, the fixed matrix and the random terms.

    Parameters
    ----------
    formula
        An lme4 formula (text or :func:`parse_formula`'s result).
    data
        The data; every column the formula names must exist and have no missing values.

    Returns
    -------
    Design
        The response (with trials for ``cbind``), the fixed-effect matrix with lme4's
        column names, the offset and the random-effect terms.

    Raises
    ------
    FormulaError
        A ``ValueError`` for a malformed formula, a missing column, missing or non-finite
        values, an unknown function, a factor in arithmetic, a factor with one level, or a
        grouping factor with fewer than two levels.
    """
    parsed = formula if isinstance(formula, Formula) else parse_formula(formula)
    if not isinstance(data, pd.DataFrame):
        raise FormulaError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise FormulaError("the data have no rows")
    data = data.reset_index(drop=True)
    ev = _Evaluator(data)
    response = parsed.response
    trials = None
    if parsed.has_trials:
        successes = _finite(ev.numeric(response.args[0]), "the successes of cbind()")
        failures = _finite(ev.numeric(response.args[1]), "the failures of cbind()")
        y = successes
        trials = successes + failures
    else:
        value = ev.variable(response)
        if isinstance(value, _Factor):
            raise FormulaError(
                f"the response {deparse(response)!r} is not numeric; code it as 0/1 or counts"
            )
        y = _finite(value, f"the response {deparse(response)!r}")
    x, fixed_names = _model_columns(parsed.fixed, parsed.intercept, ev, "fixed part")
    if x.shape[1] == 0:
        raise FormulaError("the formula has no fixed effects; keep the intercept (1)")
    offset = None
    for node in parsed.offsets:
        value = _finite(ev.numeric(node), f"offset({deparse(node)})")
        offset = value if offset is None else offset + value
    random: list[RandomTerm] = []
    for bar in parsed.random:
        builder = _FixedBuilder()
        terms = builder.terms(bar.expr, top=False)
        if builder.bars or builder.offsets:
            raise FormulaError(f"cannot read the random term ({deparse(bar.expr)} | ...)")
        z, z_names = _model_columns(
            _degree_order(terms.terms, bar.expr), terms.intercept is not False, ev, "random part"
        )
        if z.shape[1] == 0:
            raise FormulaError(f"the random term ({deparse(bar.expr)} | ...) has no columns")
        group, codes, levels = _group_factor(bar.grouping, ev)
        if bar.nested:  # the inner factor of a/b: lme4 writes b:a, labels bLevel:aLevel
            group = ":".join(reversed(bar.grouping))
            levels = [":".join(reversed(label.split(":"))) for label in levels]
        if len(levels) < 2:
            raise FormulaError(
                f"the grouping factor {group!r} has {len(levels)} level; a random effect "
                "needs at least two"
            )
        random.append(RandomTerm(group, z_names, z, codes, levels, bar.correlated))
    order = sorted(range(len(random)), key=lambda i: -random[i].n_levels)
    return Design(
        formula=parsed,
        response_name=deparse(response),
        y=np.asarray(y, dtype=float),
        trials=None if trials is None else np.asarray(trials, dtype=float),
        X=x,
        fixed_names=fixed_names,
        offset=offset,
        random=[random[i] for i in order],
        columns=list(ev.columns),
    )
