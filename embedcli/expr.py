"""The query language: text -> weighted terms. Pure: no I/O, no model.

Three forms mean the same query::

    king - man + woman          an expression: + and - terms, optional weights 0.5*paris
    king man woman              three words, read as king - man + woman (fastText's convention)
    man : king :: woman : ?     a proportion: man is to king as woman is to ?

Words are separated from operators by white space.  A chunk without white space
(``king-man+woman``) is split at ``+``, ``-``, ``*``, ``:`` and parentheses only when it
is not itself a vocabulary word, so ``e-mail``, ``x-ray``, ``c++`` and ``(800)`` stay
whole; the caller says what a vocabulary word is through ``is_word``.

Parentheses group terms of an expression, and a sign or a weight before a group applies
to each term in it: ``king - (man - woman)`` is ``king - man + woman``,
``0.5*(paris - france)`` is ``0.5*paris - 0.5*france``. A lone ``(`` or ``)`` is always
grouping (as a lone ``-`` is always an operator); one that is not closed, or closes
nothing, is an error with a caret.

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

OPERATORS = ("::", "+", "-", "*", ":", "?", "~", "(", ")")
_OPERATOR_CHARS = "+-*:?~()"
# Inside a chunk that is not a word: a weight is a number directly followed by '*'.
_PIECE = re.compile(
    r"(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?=\*))"
    r"|(?P<op>::|[+\-*:?~()])"
    r"|(?P<atom>[^+\-*:?~()]+)"
)
# The most different words one query may hold, and the most words or expressions a
# similarity matrix or doesnt-match may take (pictures: classroom.MAX_PICTURE): every size
# a user can ask for is bounded before anything is allocated (a batch line of 10,000
# different words once took 15 GB, 3,000 took 4.7 GB).
MAX_WORDS = 1_000
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
        elif is_word(chunk) or not any(c in chunk for c in _OPERATOR_CHARS):
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
                if pieces[j].kind == "op" and pieces[j].text not in "+-()":
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
    query = _Expression(tokens, text).read()
    _check_size(query)
    return query


def _check_size(query: Query) -> None:
    """At most ``MAX_WORDS`` different words (a word may come back in as many terms as
    wanted: what costs is each word's row and rank)."""
    words = dict.fromkeys(t.word for t in query.terms)
    if len(words) > MAX_WORDS:
        extra = list(words)[MAX_WORDS]
        where = next(t.position for t in query.terms if t.word == extra)
        raise ExpressionError(f"a query takes at most {MAX_WORDS:,} different words, not "
                              f"{len(words):,}", query.text, where)


class _Expression:
    """An expression's tokens -> terms: ``[sign] [weight *] (word | ( expression ))``
    repeated, each after the first with its sign; a group's terms take its sign and
    weight."""

    def __init__(self, tokens: list[_Token], text: str):
        self.tokens, self.text, self.i = tokens, text, 0

    def read(self) -> Query:
        return Query(tuple(self._sequence(None)), "expression", self.text)

    def _next(self) -> _Token | None:
        tok = self.tokens[self.i] if self.i < len(self.tokens) else None
        self.i += 1
        return tok

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _error(self, message: str, position: int) -> ExpressionError:
        return ExpressionError(message, self.text, position)

    def _sequence(self, opening: _Token | None) -> list[Term]:
        """The terms up to the end, or (``opening``: a group's '(') up to its ')'."""
        terms: list[Term] = []
        while True:
            tok = self._peek()
            if tok is None:
                if opening is not None:
                    raise self._error("this '(' is not closed (expected ')')",
                                      opening.position)
                return terms
            if _is(tok, ")"):
                if opening is None:
                    raise self._error("this ')' closes no '('", tok.position)
                if not terms:
                    raise self._error("expected a word or an expression inside '( )'",
                                      tok.position)
                self.i += 1
                return terms
            terms.extend(self._item(first=not terms))

    def _item(self, first: bool) -> list[Term]:
        text = self.text
        tok = self._next()
        assert tok is not None
        if tok.kind == "op" and tok.text in ":?":
            raise self._error(
                f"'{tok.text}' belongs in a proportion such as 'man : king :: woman : ?'",
                tok.position)
        sign = 1.0
        if tok.kind == "op" and tok.text in "+-":
            sign = -1.0 if tok.text == "-" else 1.0
            after = self._next()
            if after is None:
                raise self._error(f"expected a word after '{tok.text}'", len(text))
            tok = after
        elif not first:
            raise self._error(f"expected '+' or '-' before '{tok.text}'", tok.position)
        weight = 1.0
        star = self._peek()
        if star is not None and _is(star, "*"):
            if tok.kind == "op":
                raise self._error(f"expected a weight before '*', found '{tok.text}'",
                                  tok.position)
            weight = _weight(tok, text)
            self.i += 1
            after = self._next()
            if after is None:
                raise self._error("expected a word after '*'", len(text))
            tok = after
            if tok.kind == "op" and tok.text != "(":
                raise self._error(f"expected a word after '*', found '{tok.text}'",
                                  tok.position if tok.position > star.position else
                                  star.position + 1)
        if _is(tok, "("):
            return [Term(t.word, sign * weight * t.weight, t.position)
                    for t in self._sequence(tok)]
        if tok.kind == "op":
            if tok.text == "*":
                raise self._error("expected a weight before '*'", tok.position)
            if tok.text in ":?":
                raise self._error(
                    f"'{tok.text}' belongs in a proportion such as 'man : king :: woman : ?'",
                    tok.position)
            previous = self.tokens[self.i - 2].text if self.i >= 2 else ""
            raise self._error(f"expected a word after '{previous}', found '{tok.text}'",
                              tok.position)
        return [Term(tok.text, sign * weight, tok.position)]


def _is(tok: _Token, op: str) -> bool:
    return tok.kind == "op" and tok.text == op


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


# --------------------------------------------------------------------------- directions

ARROW = "->"
_DIRECTION_USAGE = "a direction reads 'A -> B' (from A to B: 'man -> woman', 'small -> big')"
_END_USAGE = ("each end of a direction is a word or an expression joined by + and - "
              "('man -> woman', 'king - man -> queen - woman')")


@dataclass(frozen=True)
class Direction:
    """A direction ``A -> B`` in the space: from the end ``start`` to the end ``end``, each a
    word or an expression (its vector is what ``ranking.query_vector`` makes of it)."""

    start: Query
    end: Query
    text: str

    def __str__(self) -> str:
        return f"{self.start} {ARROW} {self.end}"


def parse_direction(text: str, is_word: Callable[[str], bool] = _never) -> Direction:
    """``A -> B`` (``man -> woman``, ``king - man -> queen``): the two ends, each read by
    :func:`parse` as an expression.

    Raises
    ------
    ExpressionError
        With a caret under the place in ``text``: no arrow, a second arrow, an empty end,
        an end that is a proportion or three bare words, or any error inside an end.
    """
    arrows = [m.start() for m in re.finditer(re.escape(ARROW), text)]
    if not arrows:
        raise ExpressionError(_DIRECTION_USAGE, text, len(text))
    if len(arrows) > 1:
        raise ExpressionError("a direction has one '->' (from A to B)", text, arrows[1])
    arrow = arrows[0]
    start = _direction_end(text, 0, arrow, is_word, arrow)
    end = _direction_end(text, arrow + len(ARROW), len(text), is_word, len(text))
    return Direction(start, end, text)


def _direction_end(text: str, begin: int, stop: int, is_word: Callable[[str], bool],
                   empty_at: int) -> Query:
    piece = text[begin:stop]
    if not piece.strip():
        raise ExpressionError(f"expected a word or an expression on each side of "
                              f"'{ARROW}' ('man -> woman')", text, empty_at)
    offset = begin + len(piece) - len(piece.lstrip())
    piece = piece.strip()
    try:
        query = parse(piece, is_word)
    except ExpressionError as exc:
        raise ExpressionError(exc.message, text, offset + exc.position) from None
    if query.form != "expression":
        raise ExpressionError(_END_USAGE, text, offset)
    terms = tuple(Term(t.word, t.weight, t.position + offset) for t in query.terms)
    return Query(terms, "expression", piece)


def parse_pair(text: str, is_word: Callable[[str], bool] = _never) -> Direction:
    """A pair of words ``a:b`` (``man:woman``), the direction from a to b; ``a -> b`` is
    read by :func:`parse_direction`, so an end may also be an expression there."""
    if ARROW in text:
        return parse_direction(text, is_word)
    if is_word(text):
        raise ExpressionError("a pair reads 'a:b' (man:woman), not one word", text, len(text))
    colons = [m.start() for m in re.finditer(":", text)]
    if len(colons) != 1:
        raise ExpressionError("a pair reads 'a:b' (man:woman), two words and one ':'",
                              text, colons[1] if len(colons) > 1 else len(text))
    colon = colons[0]
    a, b = text[:colon], text[colon + 1:]
    for piece, where in ((a, 0), (b, colon + 1)):
        if not piece.strip() or len(piece.split()) != 1:
            raise ExpressionError("a pair reads 'a:b' (man:woman), a word on each side of "
                                  "':'", text, where)
    a_at, b_at = len(a) - len(a.lstrip()), colon + 1 + len(b) - len(b.lstrip())
    return Direction(Query((Term(a.strip(), 1.0, a_at),), "expression", a.strip()),
                     Query((Term(b.strip(), 1.0, b_at),), "expression", b.strip()), text)


# --------------------------------------------------------------------------- groups

_GROUP_USAGE = "a group reads 'NAME: word word ...' ('fruit: apple banana cherry')"


@dataclass(frozen=True)
class Group:
    """A named group of words (``fruit: apple banana cherry``), drawn in one colour."""

    name: str
    words: tuple[str, ...]


def parse_group(text: str) -> Group:
    """``NAME: word word ...``: the name before the first ``:``, the words after it
    separated by white space, each once, at most ``MAX_WORDS``.

    Raises
    ------
    ExpressionError
        With a caret: no ``:``, an empty name, no words, a word given twice, too many.
    """
    colon = text.find(":")
    if colon < 0:
        raise ExpressionError(_GROUP_USAGE, text, len(text))
    name = text[:colon].strip()
    if not name:
        raise ExpressionError(f"the group has no name before ':' ({_GROUP_USAGE})",
                              text, colon)
    found = list(re.finditer(r"\S+", text[colon + 1:]))
    if not found:
        raise ExpressionError(f"the group has no words after ':' ({_GROUP_USAGE})",
                              text, len(text))
    seen: set[str] = set()
    for m in found:
        if m.group() in seen:
            raise ExpressionError(f"'{m.group()}' is twice in the group", text,
                                  colon + 1 + m.start())
        seen.add(m.group())
        if len(seen) > MAX_WORDS:
            raise ExpressionError(f"a group takes at most {MAX_WORDS:,} words", text,
                                  colon + 1 + m.start())
    return Group(name, tuple(m.group() for m in found))
