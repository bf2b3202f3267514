"""The query language: text -> weighted terms. Pure: no I/O, no model.

Three forms mean the same query::

    king - man + woman          an expression: + and - terms, optional weights 0.5*paris
    king man woman              three words, read as king - man + woman (fastText's convention)
    man : king :: woman : ?     a proportion: man is to king as woman is to ?

Words are separated from operators by white space.  A chunk without white space
(``king-man+woman``) is split at ``+``, ``-``, ``*`` and ``:`` only when it is not itself
a vocabulary word, so ``e-mail``, ``x-ray`` and ``c++`` stay whole; the caller says what
a vocabulary word is through ``is_word``.

``~`` compares two queries (``cat ~ dog``, ``king - man + woman ~ queen``): it is read
the same way everywhere, by :func:`split_sides`, and is no part of a single query, so
:func:`parse` says so with a caret instead of reading it as a word.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from embedcli.errors import ExpressionError

OPERATORS = ("::", "+", "-", "*", ":", "?", "~")
# Inside a chunk that is not a word: a weight is a number directly followed by '*'.
_PIECE = re.compile(
    r"(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?=\*))"
    r"|(?P<op>::|[+\-*:?~])"
    r"|(?P<atom>[^+\-*:?~]+)"
)
# How many pieces of a split chunk may be glued back into one vocabulary word.
_MAX_GLUE = 7


@dataclass(frozen=True)
class Term:
    word: str
    weight: float = 1.0
    position: int = 0  # where the word starts in the query text (for error carets)

    def __eq__(self, other: object) -> bool:  # position is presentation, not meaning
        return isinstance(other, Term) and (self.word, self.weight) == (other.word, other.weight)

    def __hash__(self) -> int:
        return hash((self.word, self.weight))


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]
    form: str  # "expression", "words" or "proportion"
    text: str

    @property
    def positive(self) -> list[Term]:
        return [t for t in self.terms if t.weight > 0]

    @property
    def negative(self) -> list[Term]:
        return [t for t in self.terms if t.weight < 0]

    def __str__(self) -> str:
        return format_terms(self.terms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(self.terms)


def format_terms(terms: Sequence[Term]) -> str:
    """The canonical text of an expression; ``parse`` reads it back to the same terms."""
    parts: list[str] = []
    for i, term in enumerate(terms):
        magnitude = abs(term.weight)
        body = term.word if magnitude == 1 else f"{magnitude!r}*{term.word}"
        if i == 0:
            parts.append(("- " if term.weight < 0 else "") + body)
        else:
            parts.append(("- " if term.weight < 0 else "+ ") + body)
    return " ".join(parts)


@dataclass(frozen=True)
class _Token:
    kind: str  # "op", "atom" or "num"
    text: str
    position: int


def _never(_: str) -> bool:
    return False


def tokenize(text: str, is_word: Callable[[str], bool] = _never) -> list[_Token]:
    tokens: list[_Token] = []
    chunks = list(re.finditer(r"\S+", text))
    i = 0
    while i < len(chunks):
        # a vocabulary word with spaces in it (glove.840B has some, and words with
        # non-breaking spaces): consecutive chunks that spell one, as typed
        glued = _glue_spaced(text, chunks, i, is_word)
        if glued is not None:
            tokens.append(_Token("atom", text[chunks[i].start():chunks[glued].end()],
                                 chunks[i].start()))
            i = glued + 1
            continue
        chunk, start = chunks[i].group(), chunks[i].start()
        i += 1
        if chunk in OPERATORS:
            tokens.append(_Token("op", chunk, start))
        elif is_word(chunk) or not any(c in chunk for c in "+-*:?~"):
            tokens.append(_Token("atom", chunk, start))
        else:
            tokens.extend(_split_chunk(chunk, start, is_word))
    return tokens


def _glue_spaced(text: str, chunks: list[re.Match[str]], i: int,
                 is_word: Callable[[str], bool]) -> int | None:
    """The last chunk of the longest run from chunk ``i`` (no operator among them) that is
    a vocabulary word with its spaces, or None."""
    end = i + 1
    while end < min(len(chunks), i + _MAX_GLUE) and chunks[end].group() not in OPERATORS:
        end += 1
    if chunks[i].group() in OPERATORS:
        return None
    for j in range(end - 1, i, -1):
        if is_word(text[chunks[i].start():chunks[j].end()]):
            return j
    return None


def _split_chunk(chunk: str, start: int, is_word: Callable[[str], bool]) -> list[_Token]:
    pieces = [
        _Token(m.lastgroup or "atom", m.group(), start + m.start()) for m in _PIECE.finditer(chunk)
    ]
    # Glue pieces back together where they spell a vocabulary word ("e-mail+letter").
    out: list[_Token] = []
    i = 0
    while i < len(pieces):
        glued = None
        # A word may start with an operator (":)") only where no binary operator can stand.
        if pieces[i].kind != "op" or i == 0 or pieces[i - 1].kind == "op":
            for j in range(min(len(pieces), i + _MAX_GLUE) - 1, i, -1):
                if pieces[j].kind == "op" and pieces[j].text not in "+-":
                    continue
                end = pieces[j].position - start + len(pieces[j].text)
                candidate = chunk[pieces[i].position - start : end]
                if is_word(candidate):
                    glued = (j, candidate)
                    break
        if glued:
            out.append(_Token("atom", glued[1], pieces[i].position))
            i = glued[0] + 1
        else:
            token = pieces[i]
            out.append(_Token("atom", token.text, token.position) if token.kind == "num" and (
                i + 1 >= len(pieces) or pieces[i + 1].text != "*") else token)
            i += 1
    return out


SIMILARITY = "~"


def split_sides(text: str, is_word: Callable[[str], bool] = _never) -> list[str] | None:
    """The texts on either side of each ``~`` (``cat ~ dog`` -> ``["cat", "dog"]``), or None
    when the text holds no ``~`` operator. A side may be any query; an empty side is an
    error with a caret under it."""
    marks = [t.position for t in tokenize(text, is_word) if t.kind == "op" and t.text == SIMILARITY]
    if not marks:
        return None
    sides, start = [], 0
    for mark in [*marks, len(text)]:
        side = text[start:mark]
        if not side.strip():
            raise ExpressionError("expected a word or an expression on each side of '~' "
                                  "(cat ~ dog)", text, mark)
        sides.append(side.strip())
        start = mark + 1
    return sides


def parse(text: str, is_word: Callable[[str], bool] = _never) -> Query:
    """Parse a query in any of the three forms.

    Raises
    ------
    ExpressionError
        With the position of the first thing that is wrong.
    """
    tokens = tokenize(text, is_word)
    if not tokens:
        raise ExpressionError("the query is empty", text, len(text))
    for t in tokens:
        if t.kind == "op" and t.text == SIMILARITY:
            raise ExpressionError("'~' compares two queries, as in 'embedcli similarity "
                                  "\"cat ~ dog\"'; a single query joins its words with + "
                                  "and -", text, t.position)
    if any(t.kind == "op" and t.text == "::" for t in tokens):
        return _parse_proportion(tokens, text)
    if all(t.kind != "op" for t in tokens):
        if len(tokens) == 1:
            return Query((Term(tokens[0].text, 1.0, tokens[0].position),), "expression", text)
        if len(tokens) == 3:
            a, b, c = tokens
            terms = (Term(a.text, 1.0, a.position), Term(b.text, -1.0, b.position),
                     Term(c.text, 1.0, c.position))
            return Query(terms, "words", text)
        raise ExpressionError(
            "expected '+' or '-' between words (or three words A B C, meaning A - B + C)",
            text, tokens[1].position)
    return _parse_expression(tokens, text)


def _parse_expression(tokens: list[_Token], text: str) -> Query:
    terms: list[Term] = []
    i = 0
    n = len(tokens)
    while i < n:
        sign = 1.0
        tok = tokens[i]
        if tok.kind == "op" and tok.text in ":?":
            raise ExpressionError(
                f"'{tok.text}' belongs in a proportion such as 'man : king :: woman : ?'",
                text, tok.position)
        if tok.kind == "op" and tok.text in "+-":
            sign = -1.0 if tok.text == "-" else 1.0
            i += 1
            if i >= n:
                raise ExpressionError(f"expected a word after '{tok.text}'", text, len(text))
            tok = tokens[i]
        elif terms:
            raise ExpressionError(f"expected '+' or '-' before '{tok.text}'", text, tok.position)
        weight = 1.0
        if i + 1 < n and tokens[i + 1].text == "*" and tokens[i + 1].kind == "op":
            if tok.kind == "op":
                raise ExpressionError(f"expected a weight before '*', found '{tok.text}'",
                                      text, tok.position)
            weight = _weight(tok, text)
            star = tokens[i + 1]
            i += 2
            if i >= n:
                raise ExpressionError("expected a word after '*'", text, len(text))
            tok = tokens[i]
            if tok.kind == "op":
                raise ExpressionError(f"expected a word after '*', found '{tok.text}'",
                                      text, tok.position if tok.position > star.position else
                                      star.position + 1)
        if tok.kind == "op":
            if tok.text == "*":
                raise ExpressionError("expected a weight before '*'", text, tok.position)
            if tok.text in ":?":
                raise ExpressionError(
                    f"'{tok.text}' belongs in a proportion such as 'man : king :: woman : ?'",
                    text, tok.position)
            previous = tokens[i - 1].text if i > 0 else ""
            raise ExpressionError(f"expected a word after '{previous}', found '{tok.text}'",
                                  text, tok.position)
        terms.append(Term(tok.text, sign * weight, tok.position))
        i += 1
    return Query(tuple(terms), "expression", text)


def _weight(tok: _Token, text: str) -> float:
    try:
        value = float(tok.text)
    except ValueError:
        raise ExpressionError(f"the weight '{tok.text}' is not a number", text,
                              tok.position) from None
    if not math.isfinite(value):
        raise ExpressionError(f"the weight '{tok.text}' is not a finite number", text,
                              tok.position)
    return value


def parse_proportion(text: str, is_word: Callable[[str], bool] = _never
                     ) -> tuple[Query, str | None]:
    """``a : b :: c : d`` with its answer: the query b - a + c, and d (None for ``?`` or
    nothing). The same reader as :func:`parse`'s, which asks for ``?``."""
    return _parse_proportion(tokenize(text, is_word), text, answer=True)


def _parse_proportion(tokens: list[_Token], text: str, answer: bool = False) -> Any:
    """``a : b :: c : ?`` -> b - a + c (with ``answer``: and d, or None)."""
    shape = ["atom", ":", "atom", "::", "atom", ":"]
    for k, expected in enumerate(shape):
        if k >= len(tokens):
            if answer and k == 5:  # 'man:king::woman': the answer is the model's
                break
            raise ExpressionError(
                "a proportion reads 'a : b :: c : ?' (a is to b as c is to ?)", text, len(text))
        tok = tokens[k]
        ok = tok.kind != "op" if expected == "atom" else (tok.kind == "op" and tok.text == expected)
        if not ok:
            what = "a word" if expected == "atom" else f"'{expected}'"
            raise ExpressionError(f"expected {what} here in 'a : b :: c : ?'", text, tok.position)
    rest = tokens[6:]
    given = None
    if answer and rest and rest[0].kind != "op":
        given = rest[0].text
    elif rest and not (rest[0].kind == "op" and rest[0].text == "?"):
        raise ExpressionError("the last place of a proportion must be '?'", text,
                              rest[0].position)
    if len(rest) > 1:
        raise ExpressionError("unexpected text after the proportion", text, rest[1].position)
    a, b, c = tokens[0], tokens[2], tokens[4]
    terms = (Term(b.text, 1.0, b.position), Term(a.text, -1.0, a.position),
             Term(c.text, 1.0, c.position))
    query = Query(terms, "proportion", text)
    return (query, given) if answer else query
