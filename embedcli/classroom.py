"""Classroom logic: explanations of analogies, interpolation, quiz questions, 2-D projections.

Pure: nothing here prints (reading a quiz file is the only I/O). Every score comes from
the engine's own functions (``rank_query``, ``similarity``, ``similarity_matrix``), so an
explanation agrees with ``embedcli analogy`` and ``embedcli neighbors`` to the last digit.

One device is used throughout to ask "where would word W rank as an answer to query Q?"
without a second implementation of the ranking: W is added to Q as a term of weight 0.
A weight-0 term adds nothing to the weighted sum of the query vector and nothing to its
total weight, so the query vector is unchanged (bit for bit: every added product is an
exact 0), while W now counts among the query's own words, for which ``rank_query``
reports the rank each would have among all candidates.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from embedcli.engine.ranking import query_vector, rank_query, similarity, unit_terms
from embedcli.engine.results import Hit, Ranking
from embedcli.engine.words import Resolver
from embedcli.errors import QueryError, UsageError
from embedcli.evaluate import Question
from embedcli.expr import Query, Term, format_terms, parse, parse_proportion
from embedcli.models import Model

# --------------------------------------------------------------------------- ranks


@dataclass(frozen=True)
class Placement:
    """Where ``word`` would rank as an answer (the query's own words left out)."""

    word: str
    rank: int | None  # 1: the first answer; None: the word is one of the query's own words
    score: float


def placements(model: Model, terms: Sequence[Term], resolve: Resolver,
               words: Iterable[str], *, restrict: int | None = None) -> dict[str, Placement]:
    """The rank and 3CosAdd score each of ``words`` would have as an answer to ``terms``.

    Ranks count candidates other than the query's own words, exactly as the ``#`` column of
    ``embedcli analogy`` (or ``neighbors`` for a one-word query) does; a word outside
    ``restrict`` has no rank. Keys are the words as resolved (``King`` -> ``king``).
    """
    own = {resolve(t.word)[1] for t in terms}
    wanted = list(dict.fromkeys(resolve(w)[1] for w in words))
    probe = [w for w in wanted if w not in own]
    query = Query(tuple(terms) + tuple(Term(w, 0.0) for w in probe), "expression", "")
    ranking = rank_query(model, query, resolve, method="add", top=1, restrict=restrict)
    where = {e.word: e for e in ranking.excluded}
    own_ranks = [where[w].rank for w in own if w in where and where[w].rank is not None]
    out: dict[str, Placement] = {}
    for w in wanted:
        e = where.get(w)
        if e is None:  # outside the vocabulary (a fastText subword vector): no candidate
            out[w] = _outside(model, terms, resolve, w, own, restrict)
        elif w in own or e.rank is None:
            out[w] = Placement(w, None, e.score)
        else:  # among all candidates -> among the answers: drop the own words above it
            out[w] = Placement(w, e.rank - sum(r is not None and r < e.rank for r in own_ranks),
                               e.score)
    return out


def _outside(model: Model, terms: Sequence[Term], resolve: Resolver, word: str,
             own: set[str], restrict: int | None) -> Placement:
    """Where a word outside the vocabulary (its subword vector) would stand among the
    answers: 1 plus the candidates, the query's own words left out, that score above it
    (float32 scores: such a word is never itself a candidate, so no exact order is owed).
    One of the query's own words has no rank, as in the vocabulary."""
    _, mean = query_vector(model, Query(tuple(terms), "expression", ""), resolve)
    score = float(mean @ model.rows([resolve(word)[0]])[0])
    if word in own:
        return Placement(word, None, score)
    clip = len(model) if restrict is None else min(restrict, len(model))
    scores = model.dot(mean, clip)
    above = int(np.count_nonzero(scores > np.float32(score)))
    rows = [i for i in dict.fromkeys(resolve(w)[0] for w in own) if i < clip]
    above -= int(np.count_nonzero(scores[rows] > np.float32(score))) if rows else 0
    return Placement(word, above + 1, score)


# --------------------------------------------------------------------------- explain


@dataclass(frozen=True)
class InputCosine:
    """One term of the query and its cosine to the top answer (and to the expected word)."""

    word: str
    weight: float
    to_answer: float
    to_expected: float | None


@dataclass(frozen=True)
class Expected:
    word: str
    rank: int | None  # among the answers; None when it is one of the query's own words
    score: float
    within_top: bool


@dataclass(frozen=True)
class BaseView:
    """The answer (and the expected word) among the base word's own neighbours.

    If the answer is already a close neighbour of the base word, the analogy shows little:
    the offset did not have to carry it far.
    """

    base: str
    answer: Placement  # rank among base's neighbours, score = cosine to base
    expected: Placement | None


@dataclass(frozen=True)
class OffsetCosine:
    """How parallel an analogy's two offsets are: ``cos(b - a, d - c)`` over unit vectors,
    for ``a : b :: c : d`` (``man : king :: woman : queen``). 1 is a true parallelogram."""

    a: str
    b: str
    c: str
    d: str
    cosine: float

    @property
    def degrees(self) -> float:
        import math

        return math.degrees(math.acos(max(-1.0, min(1.0, self.cosine))))


def offset_cosine(model: Model, a: str, b: str, c: str, d: str,
                  resolve: Resolver) -> OffsetCosine:
    """``cos(unit(b) - unit(a), unit(d) - unit(c))`` in float64 (0 where an offset is
    zero: a word compared with itself has no direction)."""
    rows = {w: model.rows([resolve(w)[0]])[0].astype(np.float64) for w in (a, b, c, d)}
    one, two = rows[b] - rows[a], rows[d] - rows[c]
    norms = float(np.linalg.norm(one)) * float(np.linalg.norm(two))
    cosine = float(one @ two) / norms if norms > 0 and np.isfinite(norms) else 0.0
    named = [resolve(w)[1] for w in (a, b, c, d)]
    return OffsetCosine(named[0], named[1], named[2], named[3], cosine)


def analogy_words(query: Query) -> tuple[str, str, str] | None:
    """``(a, b, c)`` of an analogy ``b - a + c`` (in any form, any order of its terms), or
    None for a query of another shape."""
    if len(query.terms) != 3 or sorted(t.weight for t in query.terms) != [-1.0, 1.0, 1.0]:
        return None
    base = base_term(query)
    (a,) = query.negative
    (c,) = [t for t in query.positive if t is not base]
    return a.word, base.word, c.word


@dataclass(frozen=True)
class Explanation:
    ranking: Ranking  # the answers, as ``embedcli analogy`` gives them
    top: int
    inputs: list[InputCosine]
    expected: Expected | None
    base: BaseView | None
    offset: Ranking | None  # the nearest words to the query without its base word
    offset_note: str | None = None  # why there is no offset ranking
    others: list[BaseView] = field(default_factory=list)  # the other '+' words' neighbourhoods
    offsets: OffsetCosine | None = None  # a -> b against c -> the expected word (or answer)

    @property
    def answer(self) -> str | None:
        return self.ranking.results[0].word if self.ranking.results else None

    @property
    def passed(self) -> bool:
        """Whether the expected word (if any) is among the top answers."""
        return self.expected is None or self.expected.within_top


def base_term(query: Query) -> Term:
    """The word the analogy starts from: ``king`` in ``king - man + woman`` and in
    ``man : king :: woman : ?`` (the first word with a positive weight)."""
    for term in query.terms:
        if term.weight > 0:
            return term
    return query.terms[0]


def offset_terms(query: Query) -> list[Term]:
    """The query without its base word, positive terms first: ``woman - man``."""
    base = base_term(query)
    rest = list(query.terms)
    rest.remove(base)
    return [t for t in rest if t.weight > 0] + [t for t in rest if t.weight <= 0]


def explain(model: Model, query: Query, resolve: Resolver, *, top: int = 5,
            expect: str | None = None, restrict: int | None = None,
            method: str = "add") -> Explanation:
    """Answer an analogy (3CosAdd, or 3CosMul with ``method="mul"``) with the figures that
    tell whether it worked, and why.

    ``restrict`` keeps the most frequent words as candidates for every ranking here. The
    answers, the expected word's rank and the offset alone are ranked by ``method``; the
    neighbourhoods are plain cosine neighbours. For a three-word analogy ``b - a + c``,
    ``offsets`` is how parallel ``a -> b`` and ``c -> d`` are, ``d`` the expected word
    (or, without one, the answer).

    Raises
    ------
    UsageError
        For a one-word query (that is a neighbour query: nothing to explain).
    """
    if len(query.terms) < 2:
        raise UsageError("explain takes an analogy of two or more words, such as "
                         "'king - man + woman'; for one word use 'embedcli neighbors'")
    ranking = rank_query(model, query, resolve, method=method, top=top, restrict=restrict)
    if not ranking.results:
        raise QueryError("the model has no candidate answers")
    answer = ranking.results[0].word
    expected_word = resolve(expect)[1] if expect else None
    inputs = []
    for term in query.terms:
        word = resolve(term.word)[1]
        to_expected = (similarity(model, word, expected_word, resolve).similarity
                       if expected_word else None)
        inputs.append(InputCosine(word, term.weight,
                                  similarity(model, word, answer, resolve).similarity,
                                  to_expected))
    expected = None
    if expected_word:
        hit = next((h for h in ranking.results if h.word == expected_word), None)
        if hit is not None:  # from the answers themselves: the same figures, certainly
            expected = Expected(expected_word, hit.rank, hit.score, True)
        else:
            if method == "add":
                place = placements(model, query.terms, resolve, [expected_word],
                                   restrict=restrict)[expected_word]
            else:
                place = mul_placement(model, query, resolve, expected_word, restrict)
            expected = Expected(expected_word, place.rank, place.score,
                                place.rank is not None and place.rank <= top)
    # The answer among the neighbours of each '+' word, the base word first: an answer that
    # is already next to one of them may owe little to the offset.
    asked = [answer] + ([expected_word] if expected_word else [])
    views = []
    positives = [resolve(t.word)[1] for t in [base_term(query), *query.positive]]
    for word in dict.fromkeys(positives):
        around = placements(model, [Term(word)], resolve, asked, restrict=restrict)
        views.append(BaseView(word, around[answer],
                              around[expected_word] if expected_word else None))
    view = views[0]
    offset, note = None, None
    rest = offset_terms(query)
    try:
        offset = rank_query(model, Query(tuple(rest), "expression", ""), resolve,
                            method=method, top=top, restrict=restrict)
    except (QueryError, UsageError) as exc:  # king + man - man: the offset is zero
        note = str(exc)
    words = analogy_words(query)
    offsets = None
    if words is not None:
        offsets = offset_cosine(model, *words, expected_word or answer, resolve)
    return Explanation(ranking, top, inputs, expected, view, offset, note, views[1:], offsets)


def mul_placement(model: Model, query: Query, resolve: Resolver, word: str,
                  restrict: int | None) -> Placement:
    """Where ``word`` would rank among the 3CosMul answers to ``query`` (the query's own
    words left out, as the answers leave them), and its 3CosMul score."""
    from embedcli.engine.ranking import mul_score_at, mul_scores

    terms = [(*resolve(t.word), t.weight) for t in query.terms]
    own = {i for i, _, _ in terms}
    i, w = resolve(word)
    clip = len(model) if restrict is None else min(restrict, len(model))
    scores = mul_scores(model, terms, clip)
    target = mul_score_at(model, terms, i, scores)
    score = float(target)
    if i in own:
        return Placement(w, None, score)
    if clip <= i < len(model):  # a word past the candidates has no rank among them
        return Placement(w, None, score)
    # equal scores put the more frequent word first, as the answers do (a subword vector
    # is no candidate: it comes after every row of its score)
    better = (scores > target) | ((scores == target) & (np.arange(clip) < i))
    better[[j for j in own if j < clip]] = False
    count = int(better.sum())
    return Placement(w, count + 1, score)


# --------------------------------------------------------------------------- interpolate


@dataclass(frozen=True)
class Step:
    t: float
    results: list[Hit]


@dataclass(frozen=True)
class Interpolation:
    a: str
    b: str
    model: str
    steps: list[Step]
    ends_excluded: bool


MAX_STEPS = 1_000  # points of an interpolation
MAX_WALK = 1_000_000  # answers of an interpolation in all: steps x top (about 100 MB)


def check_walk(steps: int, top: int | None = None, vocabulary: int | None = None) -> None:
    """The sizes an interpolation may ask for, checked before anything is computed: at most
    ``MAX_STEPS`` steps, and at most ``MAX_WALK`` answers in all (``top``, capped at the
    ``vocabulary`` size, at each step)."""
    if steps < 2:
        raise UsageError("--steps must be at least 2 (the two ends)")
    if steps > MAX_STEPS:
        raise UsageError(f"--steps takes at most {MAX_STEPS:,} points, not {steps:,}")
    if top is not None:
        each = top if vocabulary is None else min(top, vocabulary)
        if steps * each > MAX_WALK:
            raise UsageError(f"--steps {steps:,} with --top {each:,} asks for "
                             f"{steps * each:,} answers; at most {MAX_WALK:,} (fewer steps "
                             "or a smaller --top)")


def interpolate(model: Model, a: Query, b: Query, resolve: Resolver, *, steps: int = 6,
                top: int = 5, exclude_ends: bool = False) -> Interpolation:
    """Walk the straight line from A to B: the nearest words at ``steps`` evenly spaced points.

    A and B are queries (a word, or an expression standing for its unit query vector). At
    ``t`` the point is ``(1 - t) * unit(A) + t * unit(B)``, normalised: the 3CosAdd query
    of A's terms and B's, reweighted, answered by the engine. The ends' own words are
    candidates (the walk starts at A and ends at B) unless ``exclude_ends``.
    """
    check_walk(steps, top, len(model))
    ends = unit_terms(model, a, resolve), unit_terms(model, b, resolve)
    walk = []
    for k in range(steps):
        t = k / (steps - 1)
        terms = [Term(x.word, (1.0 - t) * x.weight) for x in ends[0]]
        terms += [Term(x.word, t * x.weight) for x in ends[1]]
        ranking = rank_query(model, Query(tuple(terms), "expression", ""), resolve,
                             method="add", top=top, include_inputs=not exclude_ends)
        walk.append(Step(t, ranking.results))
    return Interpolation(_label(a, resolve), _label(b, resolve), model.name, walk,
                         exclude_ends)


_walk = interpolate  # (picture's own argument is called interpolate)


def _label(query: Query, resolve: Resolver) -> str:
    """The query as written, its words resolved (King -> king): ``king``, ``king - man``."""
    return format_terms([Term(resolve(t.word)[1], t.weight) for t in query.terms])


# --------------------------------------------------------------------------- quiz


# Sections of the Google set a quiz leaves out unless they are asked for by --section:
# capital-world asks for the capitals of 116 countries (rabat : morocco :: roseau : ?), and
# currency for names such as kwanza and lari: poor questions for a class.
OBSCURE_SECTIONS = ("capital-world", "currency")


def choose_questions(questions: Sequence[Question], resolve: Resolver, *, count: int,
                     seed: int | None = None, sections: Sequence[str] = (),
                     restrict: int | None = None,
                     skipped: Sequence[str] = ()) -> list[Question]:
    """``count`` questions in a random order (repeatable with ``seed``).

    Questions with a word the model does not have are left out, as gensim's
    ``evaluate_word_analogies`` does, and with ``restrict`` those with a word outside the
    ``restrict`` most frequent (as ``evaluate analogies --restrict`` skips them).
    ``sections`` keeps the sections whose name contains one of them (any case); without
    it, the sections named in ``skipped`` are left out. Words are resolved (lower-cased
    where the model has only the lower-case form).
    """
    wanted = [s.lower() for s in sections]
    pool = [q for q in questions if any(w in q.section.lower() for w in wanted)
            or not wanted and q.section.lower() not in skipped]
    if not pool:
        raise UsageError(f"no section matches {', '.join(repr(s) for s in sections)}"
                         if sections else "every section of the questions is left out")
    random.Random(seed).shuffle(pool)
    # Walk the shuffled questions and keep the first `count` the model can answer: only
    # their words are looked up (a vocabulary search each), not the whole file's.
    known: dict[str, str | None] = {}

    def word(w: str) -> str | None:
        if w not in known:
            found = resolve(w) if resolve.is_word(w) else None
            known[w] = found[1] if found and (restrict is None or found[0] < restrict) \
                else None
        return known[w]

    chosen = []
    for q in pool:
        words = [word(w) for w in q.words]
        if all(words):
            chosen.append(Question(q.line, tuple(words), q.section))  # type: ignore[arg-type]
            if len(chosen) == count:
                break
    if not chosen:
        within = f" within the {restrict:,} most frequent words of" if restrict else " in"
        raise QueryError(f"none of the {len(pool):,} questions has all its words{within} "
                         f"{resolve.model.name}")
    return chosen


@dataclass(frozen=True)
class Graded:
    question: Question
    answer: str | None  # the student's word as resolved; None: passed
    correct: bool
    model_answer: str
    model_correct: bool
    placement: Placement | None  # the student's word among the model's answers
    expected: Placement | None = None  # the expected word among them


def grade(model: Model, resolve: Resolver, question: Question, answer: str | None,
          *, restrict: int | None = None) -> Graded:
    """Grade the student's answer and put it beside the model's.

    Raises UnknownWordError (with suggestions) when the answer is not a vocabulary word.
    """
    word = resolve(answer)[1] if answer else None
    ranking = rank_query(model, question.query, resolve, method="add", top=1,
                         restrict=restrict)
    model_answer = ranking.results[0].word if ranking.results else ""
    found = placements(model, question.query.terms, resolve,
                       [question.expected, *([word] if word else [])], restrict=restrict)
    return Graded(question, word, word == question.expected, model_answer,
                  model_answer == question.expected, found[word] if word else None,
                  found[question.expected])


# --------------------------------------------------------------------------- pictures


@dataclass(frozen=True)
class Projection:
    """Words placed in 2-D (or 3-D). For PCA, ``components`` and ``center`` map any vector."""

    method: str  # "pca" or "tsne"
    coords: np.ndarray  # (n, 2), or (n, 3) for a 3-D map
    explained: tuple[float, ...] | None = None  # PCA: the share of variance per axis
    components: np.ndarray | None = None  # (2, d) or (3, d)
    center: np.ndarray | None = None  # (d,)

    def place(self, vector: np.ndarray) -> np.ndarray:
        if self.components is None or self.center is None:
            raise ValueError("only a PCA projection places new vectors")
        return (np.asarray(vector, dtype=np.float64) - self.center) @ self.components.T


def pca(rows: np.ndarray, dims: int = 2) -> Projection:
    """Principal component analysis to ``dims`` (2 or 3) dimensions, through numpy's SVD.

    Each axis's sign is fixed (its largest loading is positive, as scikit-learn does) so
    that the same words always give the same picture.
    """
    x = np.asarray(rows, dtype=np.float64)
    center = x.mean(axis=0)
    centred = x - center
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    components = np.zeros((dims, x.shape[1]))
    k = min(dims, vt.shape[0])
    components[:k] = vt[:k]
    for i in range(k):
        if components[i, np.argmax(np.abs(components[i]))] < 0:
            components[i] = -components[i]
    total = float((s ** 2).sum())
    share = tuple(float(s[i] ** 2 / total) if total > 0 and i < len(s) else 0.0
                  for i in range(dims))
    return Projection("pca", centred @ components.T, share, components, center)


def not_installed(method: str, package: str) -> UsageError:
    """The error of a ``--method`` whose library is not installed (plot's, explore's)."""
    return UsageError(f"--method {method} needs {package}, which is not installed: pip "
                      f"install {package} (or use the default, --method pca)")


def tsne(rows: np.ndarray, seed: int = 0, dims: int = 2) -> Projection:
    """t-SNE to ``dims`` (2 or 3) dimensions (scikit-learn), with a fixed seed."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise not_installed("tsne", "scikit-learn") from None
    n = len(rows)
    if n < 3:
        raise UsageError("--method tsne needs at least three words")
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    # Euclidean distance between unit vectors orders pairs as cosine does; the exact
    # method is quick for the few dozen words of a picture (Barnes-Hut is not, here).
    model = TSNE(n_components=dims, perplexity=perplexity, init="pca", random_state=seed,
                 metric="euclidean", method="exact" if n <= 1000 else "barnes_hut",
                 max_iter=1000)
    return Projection("tsne", np.asarray(model.fit_transform(np.asarray(rows, np.float64))))


def parse_analogy(text: str, is_word: Callable[[str], bool] | None = None
                  ) -> tuple[str, str, str, str | None]:
    """``man:king::woman:queen`` (spaces optional; ``?`` or nothing as the last word):
    a, b, c and d, read by the query language's own proportion reader."""
    query, d = parse_proportion(text, is_word or (lambda _w: False))
    b, a, c = (t.word for t in query.terms)
    return a, b, c, d


@dataclass(frozen=True)
class Arrow:
    start: int  # indexes into Picture.words
    end: int
    kind: str  # "offset": the analogy's offset (man -> king); "side": the parallelogram's
    analogy: int = 0  # which --analogy it belongs to (0: the first)


# The most words a picture may show: drawing costs grow fast with them (a heat map's
# figure grows with its side: 40 words took 0.6 GB, 200 words 11 GB and 90 s; a scatter
# plot of 1,000 labels took a minute), and more would not be read. The background of
# --context is drawn as unlabelled dots, which cost little: at most MAX_CONTEXT.
MAX_PICTURE = 200
MAX_HEATMAP = 40
MAX_CONTEXT = 20_000
CONTEXT = 1_000  # the default background of --analogy, --neighbors and --interpolate
VARIANCE_SAMPLE = 10_000  # the frequent words whose variance dims and plot --variance show


def check_picture(words: int, heatmap: bool = False, context: int = 0) -> None:
    """At most ``MAX_PICTURE`` words in a picture (``MAX_HEATMAP`` in a heat map), counting
    the ``--neighbors`` ones and an analogy's four, and at most ``MAX_CONTEXT`` background
    words: a usage error before any drawing."""
    limit = MAX_HEATMAP if heatmap else MAX_PICTURE
    if words > limit:
        raise UsageError(f"plot{' --heatmap' if heatmap else ''} takes at most {limit:,} "
                         f"words (the --neighbors ones and an --analogy's count), not "
                         f"{words:,}")
    if context < 0 or context > MAX_CONTEXT:
        raise UsageError(f"--context takes 0 to {MAX_CONTEXT:,} background words, not "
                         f"{context:,}")


@dataclass(frozen=True)
class PathPoint:
    """One step of an interpolation as drawn: where the step's point lies, and the word
    nearest to it."""

    t: float
    xy: tuple[float, float]
    nearest: str


@dataclass(frozen=True)
class Picture:
    """What a plot shows, computed before any drawing: tests read it, plot.py draws it."""

    model: str
    words: list[str]
    title: str
    kind: str = "scatter"  # or "heatmap", "variance"
    projection: Projection | None = None
    arrows: list[Arrow] | None = None
    marks: list[tuple[str, tuple[float, float]]] | None = None  # labelled crosses
    centre: int | None = None  # the word whose neighbours are shown
    matrix: list[list[float]] | None = None
    background: np.ndarray | None = None  # (n, 2): the --context words, unlabelled
    note: str | None = None  # what the picture must say about itself (how it was fitted)
    offsets: list[OffsetCosine] = field(default_factory=list)  # one per analogy
    groups: list[tuple[str, list[int]]] = field(default_factory=list)  # name, word indexes
    path: list[PathPoint] = field(default_factory=list)  # an interpolation's steps
    # the "axes" projection: the ends (A, B) of the x direction and of the y direction
    axes: tuple[tuple[str, str], tuple[str, str]] | None = None
    variance: Dimensions | None = None


def background_rows(model: Model, n: int, skip: Iterable[int] = ()) -> list[int]:
    """The rows of the ``n`` most frequent words made of letters alone (no punctuation,
    numbers or markup), other than ``skip``: the background a projection is fitted on."""
    if n <= 0:
        return []
    leave = set(skip)
    out: list[int] = []
    limit = min(len(model), 4 * n + 1_000)
    while True:
        for i, word in enumerate(model.words(limit)):
            if word.isalpha() and i not in leave:
                out.append(i)
                if len(out) == n:
                    return out
        if limit >= len(model):
            return out
        out, limit = [], min(len(model), limit * 4)


def picture(model: Model, resolve: Resolver, words: Sequence[str], *,
            analogy: str | Sequence[str] | None = None, neighbors: str | None = None,
            top: int = 10, method: str = "pca", heatmap: bool = False,
            title: str | None = None, seed: int = 0, context: int | None = None,
            groups: Sequence[str] = (), x_axis: str | None = None,
            y_axis: str | None = None, interpolate: tuple[str, str] | None = None,
            steps: int = 6, exclude_ends: bool = False) -> Picture:
    """The words (and analogies' four words, a word's neighbours, groups, an
    interpolation's path) ready to draw.

    Vectors are the unit-normalised ones, so the picture shows cosine geometry, the
    geometry every other command answers in. A PCA of a handful of words keeps nearly all
    of their variance and makes any four words look like a parallelogram, so with
    ``--analogy``, ``--neighbors`` or ``--interpolate`` the projection is fitted on the
    words plus a background of ``context`` frequent words (``CONTEXT`` by default; 0:
    the words alone); the picture's ``note`` says so. With ``x_axis`` and ``y_axis``
    (``"man -> woman"``) the two coordinates are each word's score along the two
    directions (``engine.directions``), not a projection.
    """
    from embedcli.expr import parse_direction, parse_group

    analogies = [analogy] if isinstance(analogy, str) else list(analogy or [])
    parsed_groups = [parse_group(g) for g in groups]
    grouped = sum(len(g.words) for g in parsed_groups)
    count = len(words) + grouped + (top if neighbors else 0) + 4 * len(analogies) + (
        steps + 2 if interpolate else 0)
    fitted = bool(analogies or neighbors or interpolate)
    if context and (x_axis or y_axis or method != "pca" or heatmap):
        raise UsageError("--context is the background a PCA is fitted on: it takes no "
                         "--x-axis/--y-axis, --method tsne or --heatmap")
    if context is None:
        context = CONTEXT if fitted and method == "pca" and not (x_axis or y_axis) else 0
    check_picture(count, heatmap, context)
    if (x_axis is None) != (y_axis is None):
        raise UsageError("--x-axis and --y-axis go together: each names a direction "
                         "'A -> B'")
    chosen: list[str] = []  # labels: a word, or an expression as written
    vectors: dict[str, np.ndarray] = {}

    def add(text: str) -> int:
        query = parse(text, resolve.is_word)
        label, vector = query_vector(model, query, resolve)
        if label not in chosen:
            chosen.append(label)
            vectors[label] = vector
        return chosen.index(label)

    arrows: list[Arrow] = []
    targets: list[Query] = []
    offsets: list[OffsetCosine] = []
    for k, text in enumerate(analogies):
        a, b, c, d = parse_analogy(text, resolve.is_word)
        query = Query((Term(b), Term(a, -1.0), Term(c)), "proportion", text)
        if d is None:
            d = rank_query(model, query, resolve, method="add", top=1).results[0].word
        ia, ib, ic, id_ = add(a), add(b), add(c), add(d)
        arrows += [Arrow(ia, ib, "offset", k), Arrow(ic, id_, "offset", k),
                   Arrow(ia, ic, "side", k), Arrow(ib, id_, "side", k)]
        targets.append(query)
        offsets.append(offset_cosine(model, a, b, c, d, resolve))
    centre = None
    if neighbors:
        centre = add(neighbors)
        ranking = rank_query(model, parse(neighbors, resolve.is_word), resolve,
                             method="add", top=top)
        for hit in ranking.results:
            add(hit.word)
    walk: Interpolation | None = None
    ends: tuple[np.ndarray, np.ndarray] | None = None
    if interpolate:
        ends_q = [parse(x, resolve.is_word) for x in interpolate]
        walk = _walk(model, ends_q[0], ends_q[1], resolve, steps=steps, top=1,
                     exclude_ends=exclude_ends)
        ia, ib = add(interpolate[0]), add(interpolate[1])
        ends = (vectors[chosen[ia]], vectors[chosen[ib]])
    for word in words:
        add(word)
    group_rows = []
    for g in parsed_groups:
        group_rows.append((g.name, [add(w) for w in g.words]))
    if len(chosen) < 2:
        raise UsageError("a plot needs at least two words (or --analogy, or --neighbors WORD)")
    rows = np.stack([vectors[label] for label in chosen]).astype(np.float64)
    if heatmap:
        matrix = (rows.astype(np.float32) @ rows.astype(np.float32).T).astype(float)
        return Picture(model.name, chosen, title or f"cosine similarity ({model.name})",
                       kind="heatmap", matrix=matrix.tolist())
    # the points of an interpolation's steps, projected as the words are
    step_points = np.zeros((0, model.dim))
    if walk is not None and ends is not None:
        ua, ub = (np.asarray(e, dtype=np.float64) for e in ends)
        pts = [(1 - s.t) * ua + s.t * ub for s in walk.steps]
        step_points = np.stack([p / (np.linalg.norm(p) or 1.0) for p in pts])
    target_points = []
    for query in targets:
        idx = [resolve(t.word)[0] for t in query.terms]
        vec = model.rows(idx).astype(np.float64)
        point = np.array([t.weight for t in query.terms]) @ vec
        target_points.append(point / (np.linalg.norm(point) or 1.0))
    background = None
    note = None
    axes_labels = None
    if x_axis is not None and y_axis is not None:
        from embedcli.engine.directions import direction_vector

        dirs = [parse_direction(x_axis, resolve.is_word), parse_direction(y_axis, resolve.is_word)]
        basis = np.stack([direction_vector(model, [d], resolve) for d in dirs])
        projection = Projection("axes", rows @ basis.T, None, basis, np.zeros(model.dim))
        axes_labels = ((str(dirs[0].start), str(dirs[0].end)),
                       (str(dirs[1].start), str(dirs[1].end)))
        note = ("each axis is the cosine with a direction B - A of unit vectors "
                "(embedcli axis); the two directions need not be at right angles: "
                f"their cosine is {float(basis[0] @ basis[1]):.2f}")
    elif method == "pca":
        extra = background_rows(model, context, [resolve(w)[0] for w in chosen
                                                 if resolve.is_word(w)])
        fit = rows
        if extra:
            fit = np.vstack([rows, np.asarray(model.vectors[extra], dtype=np.float64)])
        projection = pca(fit)
        if extra:
            background = projection.coords[len(rows):]
            projection = Projection("pca", projection.coords[:len(rows)], projection.explained,
                                    projection.components, projection.center)
        kept = sum(projection.explained or (0.0, 0.0))
        fitted_on = (f"these {len(rows)} words and {len(extra):,} frequent words (grey dots)"
                     if extra else f"these {len(rows)} words alone")
        note = (f"PCA fitted on {fitted_on}; its two axes keep {kept:.0%} of their "
                f"variance, of {model.dim} dimensions")
    elif method == "tsne":
        projection = tsne(rows, seed)
        note = "t-SNE keeps neighbourhoods, not distances: distances between groups mean little"
    else:
        raise UsageError(f"unknown projection '{method}' (use pca or tsne)")
    marks = []
    if projection.components is not None:
        for query, point in zip(targets, target_points, strict=True):
            label = f"{query.terms[0].word} - {query.terms[1].word} + {query.terms[2].word}"
            x, y = projection.place(point)
            marks.append((label, (float(x), float(y))))
    path = []
    if walk is not None and projection.components is not None:
        for step, point in zip(walk.steps, step_points, strict=True):
            x, y = projection.place(point)
            path.append(PathPoint(step.t, (float(x), float(y)),
                                  step.results[0].word if step.results else ""))
    how = {"pca": "PCA", "tsne": "t-SNE", "axes": "two directions"}[projection.method]
    if title is None:
        what = []
        for k in range(len(analogies)):
            a, b = chosen[arrows[4 * k].start], chosen[arrows[4 * k].end]
            c, d = chosen[arrows[4 * k + 1].start], chosen[arrows[4 * k + 1].end]
            what.append(f"{a} is to {b} as {c} is to {d}")
        if centre is not None:
            what.append(f"{chosen[centre]} and its {top} nearest neighbours")
        if walk is not None:
            what.append(f"from {walk.a} to {walk.b} in {len(walk.steps)} steps")
        if group_rows:
            what.append(", ".join(name for name, _ in group_rows))
        if axes_labels is not None:
            (xa, xb), (ya, yb) = axes_labels
            what.append(f"{xa} -> {xb} against {ya} -> {yb}")
        title = "; ".join(what) or f"{len(chosen)} words"
        title += f"  ({model.name}, {how})"
    return Picture(model.name, chosen, title, projection=projection, arrows=arrows,
                   marks=marks, centre=centre, background=background, note=note,
                   offsets=offsets, groups=group_rows, path=path, axes=axes_labels)


# --------------------------------------------------------------------------- dimensionality


@dataclass(frozen=True)
class Dimensions:
    """How much of the variance of ``sample`` frequent words' unit vectors each principal
    component holds (``shares``, largest first, summing to 1)."""

    model: str
    sample: int
    dim: int
    shares: list[float]
    top: int  # how many components a table lists

    def holding(self, part: float) -> int:
        """How many components hold at least ``part`` of the variance."""
        total = 0.0
        for k, x in enumerate(self.shares, 1):
            total += x
            if total >= part - 1e-12:
                return k
        return len(self.shares)


def dimensions(model: Model, *, sample: int = VARIANCE_SAMPLE, top: int = 10) -> Dimensions:
    """The variance each principal component of the first ``sample`` words' unit vectors
    holds (numpy's SVD of the centred rows; a row with no usable vector is left out)."""
    if sample < 2:
        raise UsageError("--sample must be at least 2 words")
    n = min(sample, len(model))
    rows = np.asarray(model.vectors[:n], dtype=np.float64)
    rows = rows[np.isfinite(rows).all(axis=1) & (np.abs(rows).sum(axis=1) > 0)]
    if len(rows) < 2:
        raise QueryError("the model has fewer than two usable vectors")
    centred = rows - rows.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    power = s ** 2
    total = float(power.sum())
    shares = [float(x / total) for x in power] if total > 0 else [0.0] * len(power)
    return Dimensions(model.name, len(rows), model.dim, shares, min(top, len(shares)))


def variance_picture(model: Model, *, sample: int = VARIANCE_SAMPLE,
                     title: str | None = None) -> Picture:
    """``plot --variance``: the variance each principal component holds, as a picture."""
    dims = dimensions(model, sample=sample)
    half, most = dims.holding(0.5), dims.holding(0.9)
    note = (f"PCA of the unit vectors of the {dims.sample:,} most frequent words of "
            f"{model.name}: {half} of its {dims.dim} dimensions hold half the variance, "
            f"{most} hold 90%")
    return Picture(model.name, [], title or f"variance per principal component "
                   f"({model.name}, {dims.sample:,} frequent words)", kind="variance",
                   note=note, variance=dims)
