"""One path for every query: a :class:`Spec`, checked by :func:`check`, answered by
:func:`answer` (or, many at once, by :func:`answer_many`).

Every front-end makes the same spec from what it reads: a command's arguments
(``embedcli.cli``), a batch line and a shell line (``embedcli.lines``). They differ in how
they read, never in what a query means: the limits, the messages and the answers are
the ones here. Pure: nothing here prints.

A spec's ``args`` are the texts as typed: the one query of ``analogy``, ``neighbors`` and
``explain`` (the arguments joined by spaces); the sides of ``similarity`` (each a word
or an expression; a ``~`` among them splits the joined text instead); the words of
``doesnt-match``, ``rank`` and ``vector``; for ``axis``, the two ends then the words to
place (``man woman doctor nurse``), or the direction ``A -> B`` as one text then the words,
or (with ``pairs``, each ``a:b`` or ``a -> b``) the words alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from embedcli.errors import EmbedcliError, ExpressionError, UsageError, shown

if TYPE_CHECKING:
    from embedcli.engine.ranking import Plan
    from embedcli.engine.words import Resolver
    from embedcli.expr import Direction, Query
    from embedcli.models import Model

# What one pass of answer_many holds at once: the candidates kept for its rankings (top
# plus left-out words, about 1 KB each while scanning) and their left-out input words (the
# thresholds, about 20 KB each). A batch of full-vocabulary rankings (-n 400000) took 6.7
# GB in one pass; now each pass stays within about 500 MB.
PASS_CANDIDATES = 400_000
PASS_INPUTS = 10_000

RANKINGS = ("analogy", "neighbors")
COMMANDS = ("analogy", "neighbors", "similarity", "doesnt-match", "rank", "vector", "explain",
            "axis")
METHODS = ("add", "mul")


@dataclass(frozen=True)
class Spec:
    """One query: the command, what was typed, and the options."""

    command: str
    args: tuple[str, ...] = ()
    top: int = 10
    method: str = "add"
    restrict: int | None = None
    include_inputs: bool = False
    expect: str | None = None  # explain: the answer the user expects
    pairs: tuple[str, ...] = ()  # axis: the direction as pairs a:b (their mean difference)
    furthest: int | None = None  # axis: also the N words furthest toward each end (--top)

    @property
    def text(self) -> str:
        """The arguments as one query text."""
        return " ".join(self.args)


def at_least_one(option: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UsageError(f"invalid value for {option}: {value} is not at least 1")


def at_most(what: str, n: int, things: str, limit: int | None = None) -> None:
    """A usage error, before anything is allocated, for more than ``limit`` (default:
    ``expr.MAX_WORDS``) of ``things``."""
    from embedcli.expr import MAX_WORDS

    limit = MAX_WORDS if limit is None else limit
    if n > limit:
        raise UsageError(f"{what} takes at most {limit:,} {things}, not {n:,}")


def check_options(spec: Spec) -> None:
    """The options' limits alone (also those of defaults that batch and the shell give)."""
    at_least_one("-n/--top", spec.top)
    at_least_one("--restrict", spec.restrict)
    at_least_one("-n/--top", spec.furthest)
    if spec.method not in METHODS:
        raise UsageError(f"invalid value for --method: '{spec.method}' (use add or mul)")


def check(spec: Spec) -> None:
    """The limits every entry point shares: options and the number of arguments.

    Raises UsageError. A ``--top`` beyond the vocabulary is not an error: it asks for every
    word (the engine caps it).
    """
    command, n = spec.command, len(spec.args)
    if command not in COMMANDS:
        raise UsageError(f"unknown command '{command}'")
    check_options(spec)
    if command == "similarity" and n < 2 and "~" not in spec.text:
        raise UsageError("similarity needs at least two words (or expressions: "
                         "'king - man + woman ~ queen')")
    if command == "similarity":
        at_most("similarity", spec.text.count("~") + 1 if "~" in spec.text else n,
                "words or expressions (a matrix of N words holds N*N scores)")
    if command == "doesnt-match" and n < 3:
        raise UsageError("doesnt-match needs at least three words")
    if command == "doesnt-match":
        at_most("doesnt-match", n, "words")
    if command == "rank" and n != 2:
        raise UsageError(f"rank takes two words, A B (found {n})")
    if command == "vector" and n != 1:
        raise UsageError(f"vector takes one word (found {n})")
    if command == "axis":
        at_most("axis", len(spec.pairs), "pairs")
        if not spec.pairs and (n == 0 or (n < 2 and "->" not in spec.args[0])):
            raise UsageError("axis takes two ends then the words to place: 'axis man woman "
                             "doctor nurse' (or 'axis \"man -> woman\" doctor nurse', or "
                             "--pair man:woman)")
        at_most("axis", n, "words")


WORDS_ONLY = ("doesnt-match", "rank", "vector")  # gensim's word functions: no expressions


def words_only(spec: Spec, resolve: Resolver) -> None:
    """A command of gensim's word functions given an expression says so, instead of
    looking the expression up as if it were one word."""
    from embedcli.expr import tokenize

    for arg in spec.args:
        if not resolve.is_word(arg) and len(tokenize(arg, resolve.is_word)) > 1:
            raise UsageError(f"{spec.command} takes words, not expressions ('{shown(arg, 80)}'); "
                             "neighbors and similarity take expressions")


def parse_query(spec: Spec, resolve: Resolver) -> Query:
    """The one query of an analogy, neighbours or explain spec."""
    from embedcli.expr import parse

    query = parse(spec.text, resolve.is_word)
    if spec.command == "neighbors" and query.form != "expression":
        raise ExpressionError("neighbors takes a word or an expression joined by + and -; "
                              "for an analogy use 'embedcli analogy'", query.text, 0)
    return query


def sides(spec: Spec, resolve: Resolver) -> list[Query]:
    """The sides of a similarity: split at ``~`` if the text has one, else one an argument."""
    from embedcli.expr import parse, split_sides

    texts = split_sides(spec.text, resolve.is_word) or list(spec.args)
    if len(texts) < 2:
        raise UsageError("similarity needs at least two words (or expressions: "
                         "'king - man + woman ~ queen')")
    return [parse(text, resolve.is_word) for text in texts]


def plan(model: Model, spec: Spec, resolve: Resolver) -> Plan:
    """A ranking spec (analogy, neighbors), resolved and checked, ready to answer."""
    from embedcli.engine.ranking import make_plan

    neighbours = spec.command == "neighbors"
    return make_plan(model, parse_query(spec, resolve), resolve,
                     "add" if neighbours else spec.method, spec.top, spec.restrict,
                     spec.include_inputs, "cosine" if neighbours else None)


def axis_parts(spec: Spec, resolve: Resolver) -> tuple[list[Direction], list[str]]:
    """An axis spec's direction (one ``A -> B``, or its pairs) and the words to place."""
    from embedcli.expr import ARROW, parse_direction, parse_pair

    args = list(spec.args)
    if spec.pairs:
        directions = [parse_pair(p, resolve.is_word) for p in spec.pairs]
    elif ARROW in args[0]:
        directions = [parse_direction(args.pop(0), resolve.is_word)]
    else:
        a, b = args.pop(0), args.pop(0)
        directions = [parse_direction(f"{a} {ARROW} {b}", resolve.is_word)]
    words_only(Spec("axis", tuple(args)), resolve)
    return directions, args


def answer(model: Model, spec: Spec, resolve: Resolver) -> Any:
    """The result of one spec (a dataclass of ``embedcli.engine.results`` or of
    ``embedcli.classroom``)."""
    check(spec)
    command = spec.command
    if command in RANKINGS:
        from embedcli.engine.ranking import rank_plan

        return rank_plan(model, plan(model, spec, resolve))
    if command == "similarity":
        from embedcli.engine.ranking import similarity, similarity_matrix

        found = sides(spec, resolve)
        if len(found) == 2:
            return similarity(model, found[0], found[1], resolve)
        return similarity_matrix(model, found, resolve)
    if command == "axis":
        from embedcli.engine.directions import axis

        directions, words = axis_parts(spec, resolve)
        furthest = spec.furthest if spec.furthest is not None or words else 10
        return axis(model, directions, words, resolve, top=furthest, restrict=spec.restrict)
    if command in WORDS_ONLY:
        words_only(spec, resolve)
    if command == "doesnt-match":
        from embedcli.engine.ranking import doesnt_match

        return doesnt_match(model, spec.args, resolve)
    if command == "rank":
        from embedcli.engine.ranking import word_rank

        return word_rank(model, spec.args[0], spec.args[1], resolve)
    if command == "vector":
        from embedcli.engine.ranking import word_vector

        return word_vector(model, spec.args[0], resolve)
    from embedcli.classroom import explain

    return explain(model, parse_query(spec, resolve), resolve, top=spec.top,
                   expect=spec.expect, restrict=spec.restrict, method=spec.method)


def answer_many(model: Model, specs: Sequence[Spec],
                resolve: Resolver) -> list[Any | EmbedcliError]:
    """Answer specs in order; a failed one's error in its place.

    The same answers as :func:`answer`, faster: every 3CosAdd ranking (analogies by
    default, and all neighbours) is answered together by ``rank_many``, one pass over the
    matrix for the lot; the rest one at a time (they are cheap, or, for 3CosMul, would need
    as many products per candidate as the query has words). Every ``rank`` line too is
    answered in one pass for the lot (``word_ranks``).
    """
    from embedcli.engine.ranking import rank_many, word_ranks

    out: list[Any] = [None] * len(specs)
    pending: list[tuple[int, Plan]] = []
    ranks: list[tuple[int, tuple[tuple[int, str], tuple[int, str]]]] = []
    for k, spec in enumerate(specs):
        try:
            if spec.command == "neighbors" or (spec.command == "analogy"
                                               and spec.method == "add"):
                check(spec)
                pending.append((k, plan(model, spec, resolve)))
            elif spec.command == "rank":
                check(spec)
                words_only(spec, resolve)
                first, second = resolve(spec.args[0]), resolve(spec.args[1])
                if max(first[0], second[0]) >= len(model):  # a subword vector: alone
                    out[k] = answer(model, spec, resolve)
                else:
                    ranks.append((k, (first, second)))
            else:
                out[k] = answer(model, spec, resolve)
        except EmbedcliError as exc:
            out[k] = exc
    for group in passes([p for _, p in pending]):
        rankings = rank_many(model, [pending[j][1] for j in group])
        for j, ranking in zip(group, rankings, strict=True):
            out[pending[j][0]] = ranking
    for (k, _), result in zip(ranks, word_ranks(model, [pair for _, pair in ranks]),
                              strict=True):
        out[k] = result
    return out


def passes(plans: Sequence[Plan]) -> list[list[int]]:
    """The plans (by index, in order) in passes of ``rank_many`` that each hold at most
    ``PASS_CANDIDATES`` candidates and ``PASS_INPUTS`` input words (a plan larger than
    that alone is a pass of its own): what a pass allocates is bounded, whatever the lines
    ask for."""
    out: list[list[int]] = []
    candidates = inputs = 0
    for j, plan in enumerate(plans):
        words = len(plan.inputs)
        size = min(plan.top, plan.clip) + words
        if out and (candidates + size > PASS_CANDIDATES or inputs + words > PASS_INPUTS):
            out.append([])
            candidates = inputs = 0
        if not out:
            out.append([])
        out[-1].append(j)
        candidates += size
        inputs += words
    return out
