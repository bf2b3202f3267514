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
class Explanation:
    ranking: Ranking  # the answers, as ``embedcli analogy`` gives them
    top: int
    inputs: list[InputCosine]
    expected: Expected | None
    base: BaseView | None
    offset: Ranking | None  # the nearest words to the query without its base word
    offset_note: str | None = None  # why there is no offset ranking
    others: list[BaseView] = field(default_factory=list)  # the other '+' words' neighbourhoods

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
            expect: str | None = None, restrict: int | None = None) -> Explanation:
    """Answer an analogy (3CosAdd) with the figures that tell whether it worked, and why.

    ``restrict`` keeps the most frequent words as candidates for every ranking here.

    Raises
    ------
    UsageError
        For a one-word query (that is a neighbour query: nothing to explain).
    """
    if len(query.terms) < 2:
        raise UsageError("explain takes an analogy of two or more words, such as "
                         "'king - man + woman'; for one word use 'embedcli neighbors'")
    ranking = rank_query(model, query, resolve, method="add", top=top, restrict=restrict)
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
            place = placements(model, query.terms, resolve, [expected_word],
                               restrict=restrict)[expected_word]
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
                            method="add", top=top, restrict=restrict)
    except QueryError as exc:  # king + man - man: the offset is zero
        note = str(exc)
    return Explanation(ranking, top, inputs, expected, view, offset, note, views[1:])


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


def _label(query: Query, resolve: Resolver) -> str:
    """The query as written, its words resolved (King -> king): ``king``, ``king - man``."""
    return format_terms([Term(resolve(t.word)[1], t.weight) for t in query.terms])


# --------------------------------------------------------------------------- quiz


def choose_questions(questions: Sequence[Question], resolve: Resolver, *, count: int,
                     seed: int | None = None, section: str | None = None) -> list[Question]:
    """``count`` questions in a random order (repeatable with ``seed``).

    Questions with a word the model does not have are left out, as gensim's
    ``evaluate_word_analogies`` does; ``section`` keeps the sections whose name contains it.
    Words are resolved (lower-cased where the model has only the lower-case form).
    """
    pool = [q for q in questions if section is None or section.lower() in q.section.lower()]
    if not pool:
        raise UsageError(f"no section matches '{section}'")
    random.Random(seed).shuffle(pool)
    # Walk the shuffled questions and keep the first `count` the model can answer: only
    # their words are looked up (a vocabulary search each), not the whole file's.
    known: dict[str, str | None] = {}

    def word(w: str) -> str | None:
        if w not in known:
            known[w] = resolve(w)[1] if resolve.is_word(w) else None
        return known[w]

    chosen = []
    for q in pool:
        words = [word(w) for w in q.words]
        if all(words):
            chosen.append(Question(q.line, tuple(words), q.section))  # type: ignore[arg-type]
            if len(chosen) == count:
                break
    if not chosen:
        raise QueryError(f"none of the {len(pool):,} questions has all its words in "
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


def grade(model: Model, resolve: Resolver, question: Question, answer: str | None,
          *, restrict: int | None = None) -> Graded:
    """Grade the student's answer and put it beside the model's.

    Raises UnknownWordError (with suggestions) when the answer is not a vocabulary word.
    """
    word = resolve(answer)[1] if answer else None
    ranking = rank_query(model, question.query, resolve, method="add", top=1,
                         restrict=restrict)
    model_answer = ranking.results[0].word if ranking.results else ""
    place = (placements(model, question.query.terms, resolve, [word], restrict=restrict)[word]
             if word else None)
    return Graded(question, word, word == question.expected, model_answer,
                  model_answer == question.expected, place)


# --------------------------------------------------------------------------- pictures


@dataclass(frozen=True)
class Projection:
    """Words placed in 2-D. For PCA, ``components`` and ``center`` map any vector."""

    method: str  # "pca" or "tsne"
    coords: np.ndarray  # (n, 2)
    explained: tuple[float, float] | None = None  # PCA: the share of variance per axis
    components: np.ndarray | None = None  # (2, d)
    center: np.ndarray | None = None  # (d,)

    def place(self, vector: np.ndarray) -> np.ndarray:
        if self.components is None or self.center is None:
            raise ValueError("only a PCA projection places new vectors")
        return (np.asarray(vector, dtype=np.float64) - self.center) @ self.components.T


def pca(rows: np.ndarray) -> Projection:
    """Principal component analysis to two dimensions, through numpy's SVD.

    Each axis's sign is fixed (its largest loading is positive, as scikit-learn does) so
    that the same words always give the same picture.
    """
    x = np.asarray(rows, dtype=np.float64)
    center = x.mean(axis=0)
    centred = x - center
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    components = np.zeros((2, x.shape[1]))
    k = min(2, vt.shape[0])
    components[:k] = vt[:k]
    for i in range(k):
        if components[i, np.argmax(np.abs(components[i]))] < 0:
            components[i] = -components[i]
    total = float((s ** 2).sum())
    share = [float(s[i] ** 2 / total) if total > 0 and i < len(s) else 0.0 for i in range(2)]
    return Projection("pca", centred @ components.T, (share[0], share[1]), components, center)


def tsne(rows: np.ndarray, seed: int = 0) -> Projection:
    """t-SNE to two dimensions (scikit-learn), with a fixed seed."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise UsageError("--method tsne needs scikit-learn: pip install scikit-learn "
                         "(or use the default, --method pca)") from None
    n = len(rows)
    if n < 3:
        raise UsageError("--method tsne needs at least three words")
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    # Euclidean distance between unit vectors orders pairs as cosine does; the exact
    # method is quick for the few dozen words of a picture (Barnes-Hut is not, here).
    model = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
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


# The most words a picture may show: drawing costs grow fast with them (a heat map's
# figure grows with its side: 40 words took 0.6 GB, 200 words 11 GB and 90 s; a scatter
# plot of 1,000 labels took a minute), and more would not be read.
MAX_PICTURE = 200
MAX_HEATMAP = 40


def check_picture(words: int, heatmap: bool = False) -> None:
    """At most ``MAX_PICTURE`` words in a picture (``MAX_HEATMAP`` in a heat map), counting
    the ``--neighbors`` ones and an analogy's four: a usage error before any drawing."""
    limit = MAX_HEATMAP if heatmap else MAX_PICTURE
    if words > limit:
        raise UsageError(f"plot{' --heatmap' if heatmap else ''} takes at most {limit:,} "
                         f"words (the --neighbors ones and an --analogy's count), not "
                         f"{words:,}")


@dataclass(frozen=True)
class Picture:
    """What a plot shows, computed before any drawing: tests read it, plot.py draws it."""

    model: str
    words: list[str]
    title: str
    kind: str = "scatter"  # or "heatmap"
    projection: Projection | None = None
    arrows: list[Arrow] | None = None
    marks: list[tuple[str, tuple[float, float]]] | None = None  # labelled crosses
    centre: int | None = None  # the word whose neighbours are shown
    matrix: list[list[float]] | None = None


def picture(model: Model, resolve: Resolver, words: Sequence[str], *,
            analogy: str | None = None, neighbors: str | None = None, top: int = 10,
            method: str = "pca", heatmap: bool = False, title: str | None = None,
            seed: int = 0) -> Picture:
    """The words (and an analogy's four words, and a word's neighbours) ready to draw.

    Vectors are the unit-normalised ones, so the picture shows cosine geometry, the
    geometry every other command answers in.
    """
    check_picture(len(words) + (top if neighbors else 0) + (4 if analogy else 0), heatmap)
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
    target_terms = None
    if analogy:
        a, b, c, d = parse_analogy(analogy, resolve.is_word)
        query = Query((Term(b), Term(a, -1.0), Term(c)), "proportion", analogy)
        if d is None:
            d = rank_query(model, query, resolve, method="add", top=1).results[0].word
        ia, ib, ic, id_ = add(a), add(b), add(c), add(d)
        arrows = [Arrow(ia, ib, "offset"), Arrow(ic, id_, "offset"),
                  Arrow(ia, ic, "side"), Arrow(ib, id_, "side")]
        target_terms = query
    centre = None
    if neighbors:
        centre = add(neighbors)
        ranking = rank_query(model, parse(neighbors, resolve.is_word), resolve,
                             method="add", top=top)
        for hit in ranking.results:
            add(hit.word)
    for word in words:
        add(word)
    if len(chosen) < 2:
        raise UsageError("a plot needs at least two words (or --analogy, or --neighbors WORD)")
    rows = np.stack([vectors[label] for label in chosen]).astype(np.float64)
    if heatmap:
        matrix = (rows.astype(np.float32) @ rows.astype(np.float32).T).astype(float)
        return Picture(model.name, chosen, title or f"cosine similarity ({model.name})",
                       kind="heatmap", matrix=matrix.tolist())
    if method == "pca":
        projection = pca(rows)
    elif method == "tsne":
        projection = tsne(rows, seed)
    else:
        raise UsageError(f"unknown projection '{method}' (use pca or tsne)")
    marks = []
    if target_terms is not None and projection.components is not None:
        idx = [resolve(t.word)[0] for t in target_terms.terms]
        vec = model.rows(idx).astype(np.float64)
        point = np.array([t.weight for t in target_terms.terms]) @ vec
        point /= np.linalg.norm(point) or 1.0
        label = f"{target_terms.terms[0].word} - {target_terms.terms[1].word} + " \
                f"{target_terms.terms[2].word}"
        x, y = projection.place(point)
        marks.append((label, (float(x), float(y))))
    how = "PCA" if method == "pca" else "t-SNE"
    if title is None:
        what = []
        if arrows:
            a, b = chosen[arrows[0].start], chosen[arrows[0].end]
            c, d = chosen[arrows[1].start], chosen[arrows[1].end]
            what.append(f"{a} is to {b} as {c} is to {d}")
        if centre is not None:
            what.append(f"{chosen[centre]} and its {top} nearest neighbours")
        title = "; ".join(what) or f"{len(chosen)} words"
        title += f"  ({model.name}, {how})"
    return Picture(model.name, chosen, title,
                   projection=projection, arrows=arrows, marks=marks, centre=centre)
