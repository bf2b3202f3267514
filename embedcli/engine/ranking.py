"""Neighbours, analogies and similarity over a unit-normalised matrix.

Every function returns a dataclass (``embedcli.engine.results``) and never prints. The
arithmetic follows gensim 4's ``KeyedVectors`` so that answers are the same (to float32
rounding):

* 3CosAdd (``most_similar``): the query is the weighted mean of the unit vectors of the
  terms, normalised; a candidate's score is its cosine with that query.
* 3CosMul (``most_similar_cosmul``, Levy and Goldberg 2014, eq. 4 with cosines shifted to
  [0, 1]): ``prod((1 + cos(c, p)) / 2 for p in positive) /
  (prod((1 + cos(c, n)) / 2 for n in negative) + 1e-6)``.

``restrict`` keeps the first N rows (the most frequent words) as candidates for both
methods; gensim ignores it for cosmul, we do not.

3CosAdd answers are ordered by exact scores (see ``embedcli.engine.scan``), so that one
query (:func:`rank_query`) and many answered in one pass over the matrix
(:func:`rank_many`) give the same words in the same order with the same scores.
Also here: ``doesnt_match``, ``word_rank``, ``word_vector`` and ``vocabulary``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from embedcli.engine.results import (
    Centrality,
    Excluded,
    Hit,
    OddOneOut,
    Ranking,
    Similarity,
    SimilarityMatrix,
    VocabEntry,
    Vocabulary,
    WordRank,
    WordVector,
)
from embedcli.engine.scan import (
    DotScorer,
    count_above,
    exact_add,
    margin_for,
    select,
    top_k,
)
from embedcli.engine.words import Resolver
from embedcli.errors import QueryError, UsageError
from embedcli.expr import Query, Term, format_terms
from embedcli.models import Model

# --------------------------------------------------------------------------- queries


def _resolve_terms(query: Query, resolve: Resolver) -> list[tuple[int, str, float]]:
    return [(*resolve(t.word), t.weight) for t in query.terms]


def _mean_vector(model: Model, terms: list[tuple[int, str, float]]) -> np.ndarray:
    """gensim's ``get_mean_vector(pre_normalize=True, post_normalize=True)``."""
    mean, length = _mean_and_length(model, terms)
    return (mean / length).astype(np.float32)


def unit_terms(model: Model, query: Query, resolve: Resolver) -> list[Term]:
    """The query's terms (resolved), reweighted so that their weighted sum is the query's
    unit vector: one end of an interpolation, which any other weighted terms may join."""
    terms = _resolve_terms(query, resolve)
    _, length = _mean_and_length(model, terms)
    total = sum(abs(x) for _, _, x in terms)
    return [Term(w, x / (total * length)) for _, w, x in terms]


def _mean_and_length(model: Model,
                     terms: list[tuple[int, str, float]]) -> tuple[np.ndarray, float]:
    weights = np.array([w for _, _, w in terms], dtype=np.float64)
    scale = np.abs(weights).max()
    if scale == 0:
        raise QueryError("every term has weight 0, so the query has no direction")
    weights = weights / scale  # the result is normalised: scaling only avoids overflow
    rows = model.rows([i for i, _, _ in terms]).astype(np.float64)
    mean = weights @ rows / np.abs(weights).sum()
    length = np.linalg.norm(mean)
    if not np.isfinite(length) or length < 1e-9:
        weighted = [(i, w) for i, w, x in terms if x != 0]
        empty = [w for i, w in weighted
                 if model.norm(i) == 0 or not math.isfinite(model.norm(i))]
        if len(empty) == len(weighted):
            raise QueryError(f"{', '.join(repr(w) for w in dict.fromkeys(empty))} "
                             f"{'has' if len(set(empty)) == 1 else 'have'} no usable vector "
                             "in this model (all zero, NaN or infinite in its file), so the "
                             "query has no direction")
        raise QueryError(f"the terms of '{format_terms([Term(w, x) for _, w, x in terms])}' "
                         "cancel out: the query vector is zero")
    return mean, float(length)


def _scores_add(model: Model, mean: np.ndarray, clip: int) -> np.ndarray:
    return model.dot(mean, clip)


def mul_scores(model: Model, terms: list[tuple[int, str, float]], clip: int) -> np.ndarray:
    """3CosMul's score of each of the first ``clip`` rows (see the module's notes)."""
    rows, positive = _signed_rows(terms)
    # one matrix product for all terms, then gensim's formula
    return _cosmul(model.dot(model.rows(rows).T, clip), positive)


def mul_score_at(model: Model, terms: list[tuple[int, str, float]], row: int,
                 scores: np.ndarray) -> np.floating:
    """3CosMul's float32 score of ``row``, in the rounding of the rows' one product:
    ``scores`` (the first ``len(scores)`` rows') where it is among them, else a product of
    the rows up to it; a subword vector's (past the vocabulary) on its own."""
    if row < len(scores):
        return scores[row]
    if row < len(model):
        return mul_scores(model, terms, row + 1)[row]
    rows, positive = _signed_rows(terms)
    return _cosmul(model.rows([row]) @ model.rows(rows).T, positive)[0]  # as a row of dot's


def _signed_rows(terms: list[tuple[int, str, float]]) -> tuple[list[int], int]:
    """The terms' rows, the positive ones first, and how many those are."""
    positive = [i for i, _, w in terms if w > 0]
    return positive + [i for i, _, w in terms if w < 0], len(positive)


def _cosmul(cos: np.ndarray, positive: int) -> np.ndarray:
    """gensim's 3CosMul of (rows, terms) cosines, the positive terms first."""
    shifted = (1 + cos) / 2
    numerator = np.prod(shifted[:, :positive], axis=1)
    denominator = np.prod(shifted[:, positive:], axis=1) + np.float32(0.000001)
    return numerator / denominator


# --------------------------------------------------------------------------- ranked queries


@dataclass
class Plan:
    """A ranked query, resolved and checked: what one query and a batch both answer from."""

    terms: list[tuple[int, str, float]]
    method: str
    label: str
    top: int
    restrict: int | None
    clip: int
    include_inputs: bool
    mean: np.ndarray | None = None  # 3CosAdd's query vector
    vocabulary: int = 2**62  # the model's rows: a row past them is a subword vector's

    @property
    def inputs(self) -> list[int]:
        """The query's own rows, first occurrence first: the vocabulary's, since a word
        outside it (a fastText subword vector) is no candidate, so there is nothing to
        leave out (as in gensim's ``most_similar``)."""
        return list(dict.fromkeys(i for i, _, _ in self.terms if i < self.vocabulary))

    @property
    def vector(self) -> np.ndarray:
        """3CosAdd's query vector (a plan of another method has none)."""
        if self.mean is None:
            raise ValueError("only a 3CosAdd plan has a query vector")
        return self.mean

    @property
    def skip(self) -> set[int]:
        return set() if self.include_inputs else set(self.inputs)


def make_plan(model: Model, query: Query, resolve: Resolver, method: str, top: int,
              restrict: int | None, include_inputs: bool, label: str | None) -> Plan:
    """Resolve and check a ranked query; ``top`` beyond the vocabulary means all of it."""
    terms = _resolve_terms(query, resolve)
    clip = len(model) if restrict is None else min(restrict, len(model))
    plan = Plan(terms, method, label or method, min(top, len(model)), restrict, clip,
                include_inputs, vocabulary=len(model))
    if method == "add":
        plan.mean = _mean_vector(model, terms)
    elif method == "mul":
        if any(abs(w) != 1 for _, _, w in terms):
            raise UsageError("--method mul takes no weights: write the terms as + or - words")
        if not any(w > 0 for _, _, w in terms):
            raise UsageError("--method mul needs at least one '+' word")
    else:
        raise UsageError(f"unknown method '{method}' (use add or mul)")
    return plan


def _ranking(model: Model, plan: Plan, best: list[tuple[int, float]],
             excluded: list[tuple[int, int | None, float]]) -> Ranking:
    results = [Hit(r, model.word(i), score) for r, (i, score) in enumerate(best, 1)]
    left_out = [Excluded(model.word(i), rank, score) for i, rank, score in excluded]
    canonical = format_terms([Term(w, x) for _, w, x in plan.terms])
    return Ranking(canonical, model.name, plan.label, results, left_out, plan.restrict)


def rank_query(model: Model, query: Query, resolve: Resolver, *, method: str = "add",
               top: int = 10, restrict: int | None = None, include_inputs: bool = False,
               label: str | None = None) -> Ranking:
    """Answer an analogy or neighbour query.

    Parameters
    ----------
    method
        ``"add"`` (3CosAdd, gensim ``most_similar``) or ``"mul"`` (3CosMul, gensim
        ``most_similar_cosmul``).
    top
        How many answers.
    restrict
        Only the first ``restrict`` rows (most frequent words) are candidates.
    include_inputs
        Keep the query's own words among the answers (gensim always drops them).
    label
        The method name reported in the result (defaults to ``method``).

    Notes
    -----
    3CosAdd answers are ordered by exact scores (see ``margin_for``), so that
    :func:`rank_many` gives the same answers; equal scores put the more frequent word
    first (for both methods).
    """
    return rank_plan(model, make_plan(model, query, resolve, method, top, restrict,
                                      include_inputs, label))


def rank_plan(model: Model, plan: Plan) -> Ranking:
    """Answer one planned query (see :func:`rank_query`)."""
    clip = plan.clip
    if plan.method == "add":
        mean = plan.vector
        scores = _scores_add(model, mean, clip)

        def exact(rows: np.ndarray) -> np.ndarray:
            return exact_add(model.vectors, rows, mean)

        margin = margin_for(model.dim)

        def score_of(i: int) -> float:
            return float(exact(np.array([i]))[0])
    else:
        scores = mul_scores(model, plan.terms, clip)

        def exact(rows: np.ndarray) -> np.ndarray:
            return np.asarray(scores[rows], dtype=np.float64)

        margin = 0.0

        def score_of(i: int) -> float:
            return float(mul_score_at(model, plan.terms, i, scores))
    selected = select(scores, plan.top, plan.skip, exact, margin)
    best = selected.best
    excluded = []
    if not plan.include_inputs:
        for i in plan.inputs:
            score = score_of(i)
            rank = (count_above(scores, scores[i], score, exact, margin, selected) + 1
                    if i < clip else None)
            excluded.append((i, rank, score))
    return _ranking(model, plan, best, excluded)



def rank_many(model: Model, plans: Sequence[Plan]) -> list[Ranking]:
    """Answer many 3CosAdd plans together; the same answers as :func:`rank_query`.

    Queries with the same candidate range share one pass over the matrix (see
    :func:`embedcli.engine.scan.top_k`, with the margin of ``margin_for``); then the
    candidates and the rows close to a threshold are rescored exactly, all queries at once.
    """
    out: list[Ranking | None] = [None] * len(plans)
    margin = margin_for(model.dim)
    vectors = np.asarray(model.vectors)  # a plain view: a memmap's indexing is slower
    groups: dict[int, list[int]] = {}
    for j, plan in enumerate(plans):
        if plan.method != "add":
            raise ValueError("rank_many answers 3CosAdd plans only")
        groups.setdefault(plan.clip, []).append(j)
    for clip, members in groups.items():
        group = [plans[j] for j in members]
        n = len(group)
        inputs = [plan.inputs for plan in group]
        means = np.stack([plan.vector for plan in group]).astype(np.float32)
        means64 = means.astype(np.float64)
        left_out = [not plan.include_inputs for plan in group]
        ks = np.array([plan.top + (len(rows) if out_ else 0)
                       for plan, rows, out_ in zip(group, inputs, left_out, strict=True)],
                      dtype=np.intp)
        # each input's exact score (row by row the same sums as exact_add's), all at once
        flat_q = np.repeat(np.arange(n), [len(rows) for rows in inputs])
        flat_r = np.fromiter((i for rows in inputs for i in rows), dtype=np.intp,
                             count=flat_q.size)
        own = np.add.reduce(vectors[flat_r].astype(np.float64) * means64[flat_q], axis=1)
        # the thresholds: each excluded input's exact score, where it is a candidate
        counted = [[c for c, i in enumerate(rows) if i < clip] if out_ else []
                   for rows, out_ in zip(inputs, left_out, strict=True)]
        p = max((len(c) for c in counted), default=0)
        t64 = np.full((n, p), np.inf)
        first = np.concatenate([[0], np.cumsum([len(rows) for rows in inputs])[:-1]])
        column = np.full(flat_q.size, -1, dtype=np.intp)  # each input's threshold column
        for j, cs in enumerate(counted):
            for c, k in enumerate(cs):
                column[first[j] + k] = c
        has = column >= 0
        t64[flat_q[has], column[has]] = own[has]
        found = top_k(DotScorer(vectors, means), ks, clip, margin=margin,
                      thresholds=t64.astype(np.float32))
        counts = found.counts
        nq, nc, nr = found.near
        if nr.size:
            above = np.add.reduce(vectors[nr].astype(np.float64) * means64[nq], axis=1) > \
                t64[nq, nc]
            np.add.at(counts, (nq[above], nc[above]), 1)
        # every query's candidates by exact score (ties: the lower row), its own rows left
        # out, the first `top` kept: best_rows for all queries at once
        pool_q, pool_r = found.query, found.row
        exact = np.add.reduce(vectors[pool_r].astype(np.float64) * means64[pool_q], axis=1)
        order = np.lexsort((pool_r, -exact, pool_q))
        pool_q, pool_r, exact = pool_q[order], pool_r[order], exact[order]
        skipped = np.asarray(left_out)[flat_q]
        if skipped.any():
            rows_total = max(len(model), 1)
            drop = np.isin(pool_q * rows_total + pool_r,
                           flat_q[skipped] * rows_total + flat_r[skipped])
            pool_q, pool_r, exact = pool_q[~drop], pool_r[~drop], exact[~drop]
        starts = np.searchsorted(pool_q, np.arange(n + 1))
        place = np.arange(pool_q.size) - starts[pool_q]
        tops = np.array([plan.top for plan in group], dtype=np.intp)
        take = place < tops[pool_q]
        pool_r, exact = pool_r[take].tolist(), exact[take].tolist()
        bounds = np.searchsorted(pool_q[take], np.arange(n + 1)).tolist()
        counts_list, own_list = counts.tolist(), own.tolist()
        for j, plan in enumerate(group):
            a, b = bounds[j], bounds[j + 1]
            best = list(zip(pool_r[a:b], exact[a:b], strict=True))
            excluded = []
            if left_out[j]:
                c = 0
                for k, i in enumerate(inputs[j]):
                    rank = None
                    if i < clip:
                        rank = int(counts_list[j][c]) + 1
                        c += 1
                    excluded.append((i, rank, own_list[first[j] + k]))
            out[members[j]] = _ranking(model, plan, best, excluded)
    return [r for r in out if r is not None]


Side = str | Query  # a word as typed, or a parsed query


def query_vector(model: Model, side: Side, resolve: Resolver) -> tuple[str, np.ndarray]:
    """What a side of a similarity (or an end of an interpolation) stands for: its label and
    its unit vector (float32). A word, or a query of one word, is the word's own row, as
    gensim compares it; an expression is its 3CosAdd query vector, the normalised weighted
    mean of its terms' unit vectors."""
    if isinstance(side, Query) and len(side.terms) == 1 and side.terms[0].weight > 0:
        side = side.terms[0].word
    if isinstance(side, str):
        i, word = resolve(side)
        return word, model.rows([i])[0]
    terms = _resolve_terms(side, resolve)
    return format_terms([Term(w, x) for _, w, x in terms]), _mean_vector(model, terms)


def similarity(model: Model, a: Side, b: Side, resolve: Resolver) -> Similarity:
    """Cosine similarity of two words (gensim ``similarity``), or of two expressions'
    query vectors."""
    (wa, va), (wb, vb) = query_vector(model, a, resolve), query_vector(model, b, resolve)
    return Similarity(wa, wb, float(va @ vb))


def similarity_matrix(model: Model, sides: Sequence[Side], resolve: Resolver) -> SimilarityMatrix:
    """Pairwise cosine similarities of several words (or expressions)."""
    resolved = [query_vector(model, side, resolve) for side in sides]
    rows = np.stack([v for _, v in resolved])
    matrix = rows @ rows.T
    return SimilarityMatrix([w for w, _ in resolved], matrix.astype(float).tolist())


def _cosine(model: Model, i: int, j: int) -> float:
    """The float32 cosine of two rows (a float16 cache is widened first)."""
    a, b = model.rows([i, j])
    return float(a @ b)


def doesnt_match(model: Model, words: Sequence[str], resolve: Resolver) -> OddOneOut:
    """The word farthest from the mean of the words (gensim ``doesnt_match``).

    Follows gensim's ``rank_by_centrality`` step by step in float32: the mean of the unit
    vectors, normalised, then each word's cosine with it; the smallest cosine is the odd one
    out (equal cosines: the smaller word, as gensim's sort gives). Unlike gensim, an unknown
    word is an error (with suggestions), not silently dropped.
    """
    if len(words) < 3:
        raise UsageError("doesnt-match needs at least three words")
    resolved = [resolve(w) for w in words]
    rows = model.rows([i for i, _ in resolved])
    mean = np.zeros(model.dim, dtype=np.float32)
    for row in rows:  # gensim's get_mean_vector adds the rows one at a time, in float32
        mean += row
    mean = mean / np.float32(len(rows))
    length = float(np.sqrt(np.sum(mean.astype(np.float64) ** 2)))
    if length > 0:
        mean = (mean.astype(np.float64) * (1.0 / length)).astype(np.float32)
    cosines = rows @ mean
    order = sorted(zip(cosines.tolist(), [w for _, w in resolved], strict=True))
    ranked = [Centrality(r, w, 1.0 - c) for r, (c, w) in enumerate(order, 1)]
    return OddOneOut(ranked[0].word, model.name, ranked)


def word_rank(model: Model, a: str, b: str, resolve: Resolver) -> WordRank:
    """Where ``b`` stands among the neighbours of ``a`` (gensim ``rank(a, b)``).

    1 plus the number of words other than ``a`` closer to ``a`` than ``b`` is, so it is
    ``b``'s place in ``embedcli neighbors a --top N``. Closeness is the exact cosine (see
    ``margin_for``); gensim compares float32 distances, so where a word's cosine is within
    float32 rounding of ``b``'s the two can differ by such words.
    """
    (i, wa), (j, wb) = resolve(a), resolve(b)
    n = len(model)
    query = model.rows([i])[0]
    scores = model.dot(query)

    def exact(rows: np.ndarray) -> np.ndarray:
        return exact_add(model.vectors, rows, query)

    margin = margin_for(model.dim)
    if j < n:
        target, t32 = float(exact(np.array([j]))[0]), scores[j]
    else:  # b is outside the vocabulary (a subword vector): where it would stand
        b_row = model.rows([j])
        target, t32 = float(exact_add(b_row, [0], query)[0]), np.float32(b_row[0] @ query)
    count = count_above(scores, t32, target, exact, margin)
    if i < n and i != j and float(exact(np.array([i]))[0]) > target:  # a itself is not
        count -= 1  # among its neighbours
    return WordRank(wa, wb, count + 1, _cosine(model, i, j))


def word_ranks(model: Model, pairs: Sequence[tuple[tuple[int, str], tuple[int, str]]]
               ) -> list[WordRank]:
    """:func:`word_rank` for many resolved pairs ``((row of a, a), (row of b, b))`` at once:
    the same answers, from one blocked pass over the matrix for them all (no top-k, one
    threshold each: b's exact score)."""
    if not pairs:
        return []
    vectors = np.asarray(model.vectors)  # a plain view: a memmap's indexing is slower
    a = np.array([i for (i, _), _ in pairs], dtype=np.intp)
    b = np.array([j for _, (j, _) in pairs], dtype=np.intp)
    queries = np.asarray(vectors[a], dtype=np.float32)
    q64 = queries.astype(np.float64)
    # row by row the same sums as exact_add's
    own = np.add.reduce(vectors[a].astype(np.float64) * q64, axis=1)
    target = np.add.reduce(vectors[b].astype(np.float64) * q64, axis=1)
    found = top_k(DotScorer(vectors, queries), np.zeros(len(pairs), dtype=np.intp),
                  len(model), margin=margin_for(model.dim),
                  thresholds=target.astype(np.float32)[:, None])
    counts = found.counts[:, 0].copy()
    nq, _, nr = found.near
    if nr.size:
        above = np.add.reduce(vectors[nr].astype(np.float64) * q64[nq], axis=1) > target[nq]
        np.add.at(counts, nq[above], 1)
    counts -= (a != b) & (own > target)  # a itself is not among its neighbours
    return [WordRank(wa, wb, int(n) + 1, _cosine(model, i, j))
            for ((i, wa), (j, wb)), n in zip(pairs, counts.tolist(), strict=True)]


def word_vector(model: Model, word: str, resolve: Resolver) -> WordVector:
    """The word's vector as the source file had it: exactly, from a float32 cache (see
    ``Model.raw``); to float16 precision from a float16 one."""
    i, w = resolve(word)
    raw = model.raw(i)
    # str() of a float32 is its shortest round-trip decimal ("0.45281", not 0.452809989...)
    return WordVector(w, [float(str(x)) for x in raw])


def vocabulary(model: Model, *, prefix: str | None = None, contains: str | None = None,
               top: int | None = None, case_sensitive: bool = False) -> Vocabulary:
    """The words in frequency order, filtered by ``prefix`` and ``contains``.

    ``top`` keeps the first N that pass the filters. Without ``case_sensitive`` the
    filters ignore case. The entries are produced lazily, as they are read.
    """
    fold = (lambda x: x) if case_sensitive else str.lower
    want_prefix = fold(prefix) if prefix else None
    want_inside = fold(contains) if contains else None
    limit = len(model) if top is None else min(top, len(model))

    def entries() -> Iterator[VocabEntry]:
        if want_prefix is None and want_inside is None:
            for i in range(limit):
                yield VocabEntry(i + 1, model.word(i))
            return
        found = 0
        for i, word in enumerate(model.words()):
            if found >= limit:
                return
            key = fold(word)
            if want_prefix is not None and not key.startswith(want_prefix):
                continue
            if want_inside is not None and want_inside not in key:
                continue
            found += 1
            yield VocabEntry(i + 1, word)

    return Vocabulary(model.name, entries())


