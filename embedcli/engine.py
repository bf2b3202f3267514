"""Neighbours, analogies and similarity over a unit-normalised matrix.

Every function returns a dataclass and never prints. The arithmetic follows gensim 4's
``KeyedVectors`` so that answers are the same (to float32 rounding):

* 3CosAdd (``most_similar``): the query is the weighted mean of the unit vectors of the
  terms, normalised; a candidate's score is its cosine with that query.
* 3CosMul (``most_similar_cosmul``, Levy and Goldberg 2014, eq. 4 with cosines shifted to
  [0, 1]): ``prod((1 + cos(c, p)) / 2 for p in positive) /
  (prod((1 + cos(c, n)) / 2 for n in negative) + 1e-6)``.

``restrict`` keeps the first N rows (the most frequent words) as candidates for both
methods; gensim ignores it for cosmul, we do not.

3CosAdd answers are ordered by exact scores (see ``_margin``), so that one query
(:func:`rank_query`) and a batch answered in one pass over the matrix (:func:`rank_many`,
used by :func:`answer_batch`) give the same words in the same order with the same scores.
Also here: ``doesnt_match``, ``word_rank``, ``word_vector`` and ``vocabulary``.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from embedcli.errors import EmbedcliError, ExpressionError, QueryError, UnknownWordError, UsageError
from embedcli.expr import Query, Term, format_terms, parse
from embedcli.models import Model

if TYPE_CHECKING:
    from embedcli.batch import Spec


@dataclass(frozen=True)
class Hit:
    rank: int
    word: str
    score: float


@dataclass(frozen=True)
class Excluded:
    """An input word left out of the results, and where it would have ranked.

    ``rank`` is None when the word is not a candidate (outside ``restrict``).
    """

    word: str
    rank: int | None
    score: float


@dataclass(frozen=True)
class Ranking:
    query: str
    model: str
    method: str
    results: list[Hit]
    excluded: list[Excluded] = field(default_factory=list)
    restrict: int | None = None


@dataclass(frozen=True)
class Similarity:
    a: str
    b: str
    similarity: float


@dataclass(frozen=True)
class SimilarityMatrix:
    words: list[str]
    matrix: list[list[float]]


# --------------------------------------------------------------------------- words


@dataclass
class Resolver:
    """Maps the words a user typed to rows, with the lower-case fallback.

    ``on_note`` is told once per word when a lower-cased form is used instead.
    ``memo`` > 0 remembers that many words' answers (lookups and suggestions), for a
    batch that asks about the same words again and again.
    """

    model: Model
    case_sensitive: bool = False
    on_note: Callable[[str], None] = lambda _m: None
    memo: int = 0
    _noted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._index: Callable[[str], int | None] = self.model.index
        self._suggest: Callable[[str], list[str]] = lambda w: suggest(self.model, w)
        if self.memo:
            self._index = functools.lru_cache(self.memo)(self._index)
            self._suggest = functools.lru_cache(max(1, self.memo // 16))(self._suggest)

    def is_word(self, word: str) -> bool:
        if self._index(word) is not None:
            return True
        return not self.case_sensitive and self._index(word.lower()) is not None

    def __call__(self, word: str) -> tuple[int, str]:
        index = self._index(word)
        if index is not None:
            return index, word
        if not self.case_sensitive:
            lower = word.lower()
            index = self._index(lower) if lower != word else None
            if index is not None:
                if word not in self._noted:
                    self._noted.add(word)
                    self.on_note(f"'{word}' is not in {self.model.name}; using '{lower}'")
                return index, lower
        raise UnknownWordError(word, self.model.name, len(self.model), list(self._suggest(word)))


SUGGEST_MAX = 64  # characters; longer unknown words get no spelling suggestions


def suggest(model: Model, word: str, limit: int = 5) -> list[str]:
    """Up to ``limit`` vocabulary words close to ``word``, most likely first.

    Candidates one edit away (as in Norvig's spelling corrector) ranked by frequency,
    then difflib's close matches among the 50,000 most frequent words. A word longer than
    SUGGEST_MAX characters gets none: its edits alone would take memory that grows with
    the square of its length (a 1 MB line took gigabytes).
    """
    found: list[str] = []
    lower = word.lower()
    if lower != word and model.index(lower) is not None:
        found.append(lower)
    if len(word) > SUGGEST_MAX:
        return found
    letters = set("abcdefghijklmnopqrstuvwxyz") | set(lower)
    splits = [(lower[:i], lower[i:]) for i in range(len(lower) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
    edits |= {a + c + b for a, b in splits for c in letters}
    edits.discard(word)
    if len(edits) < 5000:
        ranked = sorted((i, w) for w in edits if w not in found and
                        (i := model.index(w)) is not None)
        found += [w for _, w in ranked]
    if len(found) < limit:
        pool_size = min(len(model), 50_000)
        words = model.words(pool_size)
        pool = [w for w in words if abs(len(w) - len(lower)) <= 2 and w not in found]
        found += difflib.get_close_matches(lower, pool, n=limit - len(found), cutoff=0.75)
    return found[:limit]


# --------------------------------------------------------------------------- queries


def _resolve_terms(query: Query, resolve: Resolver) -> list[tuple[int, str, float]]:
    return [(*resolve(t.word), t.weight) for t in query.terms]


def _mean_vector(model: Model, terms: list[tuple[int, str, float]]) -> np.ndarray:
    """gensim's ``get_mean_vector(pre_normalize=True, post_normalize=True)``."""
    weights = np.array([w for _, _, w in terms], dtype=np.float64)
    scale = np.abs(weights).max()
    if scale == 0:
        raise QueryError("every term has weight 0, so the query has no direction")
    weights = weights / scale  # the result is normalised: scaling only avoids overflow
    rows = np.asarray(model.vectors[[i for i, _, _ in terms]], dtype=np.float64)
    mean = weights @ rows / np.abs(weights).sum()
    length = np.linalg.norm(mean)
    if not np.isfinite(length) or length < 1e-9:
        weighted = [(i, w) for i, w, x in terms if x != 0]
        empty = [w for i, w in weighted
                 if float(model.norms[i]) == 0 or not math.isfinite(float(model.norms[i]))]
        if len(empty) == len(weighted):
            raise QueryError(f"{', '.join(repr(w) for w in dict.fromkeys(empty))} "
                             f"{'has' if len(set(empty)) == 1 else 'have'} no usable vector "
                             "in this model (all zero, NaN or infinite in its file), so the "
                             "query has no direction")
        raise QueryError(f"the terms of '{format_terms([Term(w, x) for _, w, x in terms])}' "
                         "cancel out: the query vector is zero")
    return (mean / length).astype(np.float32)


def _scores_add(model: Model, mean: np.ndarray, clip: int) -> np.ndarray:
    return model.dot(mean, clip)


def _scores_mul(model: Model, terms: list[tuple[int, str, float]], clip: int) -> np.ndarray:
    pos = [i for i, _, w in terms if w > 0]
    neg = [i for i, _, w in terms if w < 0]
    # one matrix product for all terms, then gensim's formula
    cos = model.dot(np.asarray(model.vectors[pos + neg], dtype=np.float32).T, clip)
    shifted = (1 + cos) / 2
    numerator = np.prod(shifted[:, : len(pos)], axis=1)
    denominator = np.prod(shifted[:, len(pos):], axis=1) + np.float32(0.000001)
    return numerator / denominator


# --------------------------------------------------------------------------- exact order
#
# A float32 dot product is rounded differently by a matrix-vector product (one query), a
# matrix-matrix product (a batch of queries) and different BLAS kernels, so two candidates
# whose scores differ by 1e-7 could swap places between `neighbors` and `batch`. 3CosAdd
# answers are therefore ordered by an exact score: the float64 sum of the products of the
# float32 components (each product is exact in float64, and the sum is taken in the same
# order for every row). The float32 scores only choose the candidates: every row whose
# float32 score is within `_margin` of the boundary is rescored exactly, so the answer is a
# function of the exact scores alone. Equal exact scores: the more frequent word first.


def _margin(dim: int) -> float:
    """Twice the rounding error a float32 cosine of unit vectors can carry, and more.

    A float32 dot product of ``dim`` terms errs by at most ``dim * 2**-24`` times the
    product of the lengths (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1);
    two such scores (a candidate's and a threshold) differ from their exact order only
    within twice that. The factor 4 leaves room for lengths a little above 1.
    """
    return 4.0 * max(dim, 1) * 2.0 ** -24


def _exact_add(vectors: np.ndarray, rows: np.ndarray | list[int], mean: np.ndarray) -> np.ndarray:
    """Exact-order 3CosAdd scores of ``rows`` (float64; the same for a row however asked)."""
    rows = np.asarray(rows, dtype=np.intp)
    block = np.asarray(vectors[rows], dtype=np.float64)
    return np.add.reduce(block * np.asarray(mean, dtype=np.float64), axis=1)


def _select(scores: np.ndarray, k: int, skip: set[int], exact: Callable[[np.ndarray], np.ndarray],
            margin: float) -> list[tuple[int, float]]:
    """The k best rows by exact score (ties: lower row first), leaving out ``skip``."""
    n = len(scores)
    want = min(n, k + len(skip))
    if want <= 0 or k <= 0:
        return []
    if want < n:
        kth = np.partition(scores, n - want)[n - want]
        candidates = np.flatnonzero(scores >= kth - np.float32(margin))
    else:
        candidates = np.arange(n)
    return _best(candidates, exact(candidates), k, skip)


def _best(rows: np.ndarray, exact: np.ndarray, k: int, skip: set[int]) -> list[tuple[int, float]]:
    best: list[tuple[int, float]] = []
    for o in np.lexsort((rows, -exact)):
        row = int(rows[o])
        if row not in skip:
            best.append((row, float(exact[o])))
            if len(best) == k:
                break
    return best


def _count_above(scores: np.ndarray, t32: np.floating, t64: float,
                 exact: Callable[[np.ndarray], np.ndarray], margin: float) -> int:
    """How many rows have an exact score above ``t64`` (``t32`` is its float32 estimate)."""
    m = np.float32(margin)
    count = int(np.count_nonzero(scores > t32 + m))
    if margin:
        near = np.flatnonzero(np.abs(scores - t32) <= m)
        if near.size:
            count += int(np.count_nonzero(exact(near) > t64))
    return count


# --------------------------------------------------------------------------- ranked queries


@dataclass
class _Plan:
    """A ranked query, resolved and checked: what one query and a batch both answer from."""

    terms: list[tuple[int, str, float]]
    method: str
    label: str
    top: int
    restrict: int | None
    clip: int
    include_inputs: bool
    mean: np.ndarray | None = None  # 3CosAdd's query vector

    @property
    def inputs(self) -> list[int]:
        """The query's own rows, first occurrence first."""
        return list(dict.fromkeys(i for i, _, _ in self.terms))

    @property
    def skip(self) -> set[int]:
        return set() if self.include_inputs else set(self.inputs)


def _plan(model: Model, query: Query, resolve: Resolver, method: str, top: int,
          restrict: int | None, include_inputs: bool, label: str | None) -> _Plan:
    terms = _resolve_terms(query, resolve)
    clip = len(model) if restrict is None else min(restrict, len(model))
    plan = _Plan(terms, method, label or method, top, restrict, clip, include_inputs)
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


def _ranking(model: Model, plan: _Plan, best: list[tuple[int, float]],
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
    3CosAdd answers are ordered by exact scores (see ``_margin``), so that
    :func:`rank_many` gives the same answers; equal scores put the more frequent word
    first (for both methods).
    """
    plan = _plan(model, query, resolve, method, top, restrict, include_inputs, label)
    clip = plan.clip
    if plan.method == "add":
        mean = plan.mean
        scores = _scores_add(model, mean, clip)

        def exact(rows: np.ndarray) -> np.ndarray:
            return _exact_add(model.vectors, rows, mean)

        margin = _margin(model.dim)

        def score_of(i: int) -> float:
            return float(exact(np.array([i]))[0])
    else:
        scores = _scores_mul(model, plan.terms, clip)

        def exact(rows: np.ndarray) -> np.ndarray:
            return np.asarray(scores[rows], dtype=np.float64)

        margin = 0.0

        def score_of(i: int) -> float:
            return float(_scores_mul(model, plan.terms, len(model))[i]) if i >= clip else float(
                scores[i])
    best = _select(scores, plan.top, plan.skip, exact, margin)
    excluded = []
    if not plan.include_inputs:
        for i in plan.inputs:
            score = score_of(i)
            rank = (_count_above(scores, scores[i], score, exact, margin) + 1
                    if i < clip else None)
            excluded.append((i, rank, score))
    return _ranking(model, plan, best, excluded)


def _block_rows(queries: int) -> int:
    """Vocabulary rows a block: about 4M scores (16 MB) in flight, whatever the batch."""
    return int(min(1 << 16, max(1 << 12, (1 << 22) // max(queries, 1))))


_PROBE_ROWS = 2048  # the most frequent rows, scored first to plan the pass
_DENSE_AT = 128  # a threshold with more probe rows above it is counted by comparison


class _Scan:
    """One pass over rows ``[0, clip)`` for many 3CosAdd queries at once.

    Each block of rows is scored against all queries with one matrix product. Per query,
    the pass keeps every row that can still be among its ``ks[j]`` best (a running top-k,
    with the margin of ``_margin``) and, per threshold ``thresholds[j, c]`` (+inf: none),
    counts the rows that score above it, listing the rows too close to call for exact
    rescoring.

    A threshold far down the ranking (a negative term of an analogy is often behind
    100,000 words) would bring too many rows into the candidate lists, so the first rows
    (a probe) sort the thresholds: those with many rows above them are counted by a
    comparison over the whole block, the others along with the candidates.

    Blocks are independent: :meth:`run` may be called from several threads, each with its
    own :class:`_Tally`; :meth:`merge` joins the tallies.
    """

    def __init__(self, vectors: np.ndarray, means: np.ndarray, ks: np.ndarray,
                 thresholds: np.ndarray, clip: int, margin: float):
        m, p = len(means), thresholds.shape[1]
        self.vectors, self.clip, self.m, self.p = vectors, clip, m, p
        self.marg = np.float32(margin)
        theta = np.full(m, -np.inf, dtype=np.float32)  # a lower bound on each k-th best
        probe_rows = min(clip, _PROBE_ROWS)
        probe = means @ np.asarray(vectors[:probe_rows], dtype=np.float32).T
        kth = probe_rows - ks
        ok = np.flatnonzero(kth >= 0)
        if ok.size:  # the k-th best of the most frequent rows bounds each k-th best
            part = np.partition(probe[ok], np.unique(kth[ok]), axis=1)
            theta[ok] = part[np.arange(ok.size), kth[ok]]
        dense = np.zeros((m, p), dtype=bool)
        for c in range(p):
            dense[:, c] = np.count_nonzero(probe > thresholds[:, c:c + 1], axis=1) > _DENSE_AT
        # dense thresholds first in each row, and queries with more of them first, so that
        # each comparison covers a contiguous slice of the score block
        cols = np.argsort(~dense, axis=1, kind="stable")
        order = np.argsort(-dense.sum(axis=1), kind="stable")
        self.order, self.cols = order, cols[order]
        self.means, self.ks, self.theta = means[order], ks[order], theta[order]
        self.table = np.take_along_axis(thresholds[order], self.cols, axis=1)
        dense = np.take_along_axis(dense[order], self.cols, axis=1)
        self.reach = [int(np.count_nonzero(dense[:, c])) for c in range(p)]
        self.sparse = np.where(dense, np.float32(np.inf), self.table).astype(np.float32)
        self.tmin = (self.sparse.min(axis=1) if p
                     else np.full(m, np.inf, dtype=np.float32))
        self.width = _block_rows(m)
        self.starts = list(range(0, clip, self.width))

    def tally(self) -> _Tally:
        return _Tally(self)

    def run(self, tally: _Tally, start: int) -> None:
        """Score the block at ``start`` into ``tally``."""
        m, p, marg = self.m, self.p, self.marg
        stop = min(start + self.width, self.clip)
        w = stop - start
        block = np.asarray(self.vectors[start:stop], dtype=np.float32)
        scores = tally.buffer if w == self.width else np.empty((m, w), dtype=np.float32)
        np.matmul(self.means, block.T, out=scores)
        count = np.uint16 if w < 1 << 16 else np.uint32  # narrow sums are faster
        for c in range(p):  # dense thresholds: count by comparison
            n = self.reach[c]
            if not n:
                continue
            sub, t = scores[:n], self.table[:n, c:c + 1]
            high = np.greater(sub, t + marg).view(np.uint8).sum(axis=1, dtype=count)
            low = np.greater(sub, t - marg).view(np.uint8).sum(axis=1, dtype=count)
            tally.counts[:n, c] += high
            for j in np.flatnonzero(low != high):
                rows = np.flatnonzero(np.abs(sub[j] - t[j, 0]) <= marg)
                tally.near.append((np.full(rows.size, j), np.full(rows.size, c), rows + start))
        theta = tally.theta
        floor = np.minimum(theta, self.tmin) - marg
        flat = np.flatnonzero(scores >= floor[:, None])
        q = flat // w
        s = scores.reshape(-1)[flat]
        r = flat - q * w + start
        if p:  # the other thresholds: count among the rows taken out
            t = self.sparse[q]
            above = s[:, None] > t + marg
            tally.counts += np.bincount((q[:, None] * p + np.arange(p))[above],
                                        minlength=m * p).reshape(m, p)
            close = np.abs(s[:, None] - t) <= marg
            if close.any():
                qi, ci = np.nonzero(close)
                tally.near.append((q[qi], ci, r[qi]))
        keep = s >= theta[q] - marg
        if keep.any():
            tally.add(q[keep], r[keep], s[keep])

    def merge(self, tallies: Sequence[_Tally]):
        """``(pool_q, pool_r, counts, near)`` in the callers' order of queries and thresholds:
        the candidates (query, row) sorted by query, the counts (m, p), and ``near`` as
        arrays (query, column, row)."""
        pool_q = self.order[np.concatenate([t.pool_q for t in tallies])]
        pool_r = np.concatenate([t.pool_r for t in tallies])
        by_query = np.argsort(pool_q, kind="stable")
        counts = np.zeros((self.m, self.p), dtype=np.int64)
        counts[self.order[:, None], self.cols] = sum(t.counts for t in tallies)
        near = [(self.order[nq], self.cols[nq, nc], nr) for t in tallies for nq, nc, nr in t.near]
        return pool_q[by_query], pool_r[by_query], counts, near


class _Tally:
    """What one thread of a :class:`_Scan` has found: candidates, counts, close calls."""

    def __init__(self, scan: _Scan):
        self.ks = scan.ks
        self.marg = scan.marg
        self.theta = scan.theta.copy()  # this thread's own k-th best: still a lower bound
        self.buffer = np.empty((scan.m, scan.width), dtype=np.float32)
        self.counts = np.zeros((scan.m, scan.p), dtype=np.int64)
        self.near: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pool_q = np.empty(0, dtype=np.intp)
        self.pool_r = np.empty(0, dtype=np.intp)
        self.pool_s = np.empty(0, dtype=np.float32)

    def add(self, q: np.ndarray, r: np.ndarray, s: np.ndarray) -> None:
        """Take in candidates, raise each k-th best, and drop what can no longer make it."""
        pool_q = np.concatenate([self.pool_q, q])
        pool_r = np.concatenate([self.pool_r, r])
        pool_s = np.concatenate([self.pool_s, s])
        by_query = np.lexsort((-pool_s, pool_q))
        pool_q, pool_r, pool_s = pool_q[by_query], pool_r[by_query], pool_s[by_query]
        sizes = np.bincount(pool_q, minlength=len(self.ks))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        full = np.flatnonzero(sizes >= self.ks)
        self.theta[full] = np.maximum(self.theta[full],
                                      pool_s[starts[full] + self.ks[full] - 1])
        keep = pool_s >= self.theta[pool_q] - self.marg
        self.pool_q, self.pool_r, self.pool_s = pool_q[keep], pool_r[keep], pool_s[keep]


def worker_count(cap: int) -> int:
    """Threads for a pass over the matrix: one per core this process may use, at most cap."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, cap))


@contextlib.contextmanager
def one_blas_thread() -> Iterator[bool]:
    """Limit BLAS to one thread, if threadpoolctl can; say whether it could.

    A pass runs its blocks on several Python threads, each with a one-thread BLAS, so
    that a core another process holds for a while slows one block, not every product: a
    multi-threaded BLAS splits each product and its threads wait for each other (spinning
    for one that has no core), which makes a busy machine many times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield True


def _scan_add(vectors: np.ndarray, means: np.ndarray, ks: np.ndarray, thresholds: np.ndarray,
              clip: int, margin: float):
    """Run a :class:`_Scan` over all its blocks, on a thread per core where it can."""
    scan = _Scan(vectors, means, ks, thresholds, clip, margin)
    with one_blas_thread() as can:
        workers = min(worker_count(4) if can else 1, len(scan.starts))
        tallies = [scan.tally() for _ in range(max(workers, 1))]
        if workers <= 1:
            for start in scan.starts:
                scan.run(tallies[0], start)
        else:
            blocks = iter(scan.starts)
            lock = threading.Lock()
            failures: list[BaseException] = []

            def work(tally: _Tally) -> None:
                try:
                    while True:
                        with lock:
                            start = next(blocks, None)
                        if start is None or failures:
                            return
                        scan.run(tally, start)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    failures.append(exc)

            threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in tallies]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if failures:
                raise failures[0]
    return scan.merge(tallies)


def rank_many(model: Model, plans: Sequence[_Plan]) -> list[Ranking]:
    """Answer many 3CosAdd plans together; the same answers as :func:`rank_query`.

    Queries with the same candidate range share one pass over the matrix (see
    :class:`_Scan`); then the candidates and the rows close to a threshold are rescored
    exactly, all queries at once.
    """
    out: list[Ranking | None] = [None] * len(plans)
    margin = _margin(model.dim)
    vectors = np.asarray(model.vectors)  # a plain view: a memmap's indexing is slower
    groups: dict[int, list[int]] = {}
    for j, plan in enumerate(plans):
        if plan.method != "add":
            raise ValueError("rank_many answers 3CosAdd plans only")
        groups.setdefault(plan.clip, []).append(j)
    for clip, members in groups.items():
        group = [plans[j] for j in members]
        means = np.stack([plan.mean for plan in group]).astype(np.float32)
        ks = np.array([plan.top + len(plan.skip) for plan in group], dtype=np.intp)
        # the thresholds: each excluded input's exact score, where it is a candidate
        counted = [[i for i in plan.inputs if i < clip] if not plan.include_inputs else []
                   for plan in group]
        own = [_exact_add(vectors, plan.inputs, plan.mean) for plan in group]
        p = max((len(c) for c in counted), default=0)
        t64 = np.full((len(group), p), np.inf)
        for j, (plan, rows) in enumerate(zip(group, counted, strict=True)):
            for c, i in enumerate(rows):
                t64[j, c] = own[j][plan.inputs.index(i)]
        pool_q, pool_r, counts, near = _scan_add(vectors, means, ks, t64.astype(np.float32),
                                                 clip, margin)
        # exact scores of every candidate at once (row by row the same sums as _exact_add)
        means64 = means.astype(np.float64)
        exact = np.add.reduce(vectors[pool_r].astype(np.float64) * means64[pool_q], axis=1)
        if near:
            nq, nc, nr = (np.concatenate(parts) for parts in zip(*near, strict=True))
            above = np.add.reduce(vectors[nr].astype(np.float64) * means64[nq], axis=1) > \
                t64[nq, nc]
            np.add.at(counts, (nq[above], nc[above]), 1)
        bounds = np.searchsorted(pool_q, np.arange(len(group) + 1))
        for j, plan in enumerate(group):
            a, b = bounds[j], bounds[j + 1]
            best = _best(pool_r[a:b], exact[a:b], plan.top, plan.skip)
            excluded = []
            if not plan.include_inputs:
                for k, i in enumerate(plan.inputs):
                    rank = int(counts[j, counted[j].index(i)]) + 1 if i < clip else None
                    excluded.append((i, rank, float(own[j][k])))
            out[members[j]] = _ranking(model, plan, best, excluded)
    return [r for r in out if r is not None]


def _cosine(model: Model, i: int, j: int) -> float:
    """The float32 cosine of two rows (a float16 cache is widened first)."""
    a, b = (np.asarray(model.vectors[k], dtype=np.float32) for k in (i, j))
    return float(a @ b)


def similarity(model: Model, a: str, b: str, resolve: Resolver) -> Similarity:
    """Cosine similarity of two words (gensim ``similarity``)."""
    (i, wa), (j, wb) = resolve(a), resolve(b)
    return Similarity(wa, wb, _cosine(model, i, j))


def similarity_matrix(model: Model, words: Sequence[str], resolve: Resolver) -> SimilarityMatrix:
    """Pairwise cosine similarities of several words."""
    resolved = [resolve(w) for w in words]
    rows = np.asarray(model.vectors[[i for i, _ in resolved]], dtype=np.float32)
    matrix = rows @ rows.T
    return SimilarityMatrix([w for _, w in resolved], matrix.astype(float).tolist())


# --------------------------------------------------------------------------- more queries


@dataclass(frozen=True)
class Centrality:
    """A word of a doesnt-match query and its cosine distance to the words' mean."""

    rank: int  # 1: the farthest from the mean, the odd one out
    word: str
    distance: float


@dataclass(frozen=True)
class OddOneOut:
    odd: str
    model: str
    words: list[Centrality]  # farthest first


@dataclass(frozen=True)
class WordRank:
    """Where ``b`` stands among the neighbours of ``a`` (1: nearest)."""

    a: str
    b: str
    rank: int
    similarity: float


@dataclass(frozen=True)
class WordVector:
    word: str
    values: list[float]  # each the shortest decimal that reads back as the same float32


@dataclass(frozen=True)
class VocabEntry:
    rank: int  # 1-based row: the frequency rank
    word: str


@dataclass(frozen=True)
class Vocabulary:
    """A listing of the vocabulary, produced lazily (it may be 400,000 words)."""

    model: str
    entries: Iterable[VocabEntry]


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
    rows = np.asarray(model.vectors[[i for i, _ in resolved]], dtype=np.float32)
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
    ``_margin``); gensim compares float32 distances, so where a word's cosine is within
    float32 rounding of ``b``'s the two can differ by such words.
    """
    (i, wa), (j, wb) = resolve(a), resolve(b)
    query = np.asarray(model.vectors[i], dtype=np.float32)
    scores = model.dot(query)

    def exact(rows: np.ndarray) -> np.ndarray:
        return _exact_add(model.vectors, rows, query)

    margin = _margin(model.dim)
    own, target = exact(np.array([i, j]))
    count = _count_above(scores, scores[j], float(target), exact, margin)
    if i != j and own > target:  # a itself is not among its neighbours
        count -= 1
    return WordRank(wa, wb, count + 1, _cosine(model, i, j))


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


# --------------------------------------------------------------------------- batches

BatchResult = Ranking | Similarity | SimilarityMatrix | OddOneOut | WordRank | WordVector


def check_neighbors_query(query: Query) -> None:
    """``neighbors`` takes one word or an expression, not an analogy's other forms."""
    if query.form != "expression":
        raise ExpressionError("neighbors takes a word or an expression joined by + and -; "
                              "for an analogy use 'embedcli analogy'", query.text, 0)


def answer_batch(model: Model, specs: Sequence[Spec],
                 resolve: Resolver) -> list[BatchResult | EmbedcliError]:
    """Answer batch lines (``embedcli.batch.Spec``), in order; a failed line's error in place.

    Every 3CosAdd query (analogies by default, and all neighbours) is answered together
    by :func:`rank_many`, one pass over the matrix for the lot; 3CosMul analogies and the
    other commands are answered one at a time (they are cheap, or, for 3CosMul, would need
    as many products per candidate as the query has words).
    """
    out: list[BatchResult | EmbedcliError | None] = [None] * len(specs)
    pending: list[tuple[int, _Plan]] = []
    for k, spec in enumerate(specs):
        try:
            cmd = spec.command
            if cmd in ("analogy", "neighbors"):
                query = parse(" ".join(spec.words), resolve.is_word)
                if cmd == "neighbors":
                    check_neighbors_query(query)
                method = spec.method if cmd == "analogy" else "add"
                label = None if cmd == "analogy" else "cosine"
                plan = _plan(model, query, resolve, method, spec.top, spec.restrict,
                             spec.include_inputs, label)
                if plan.method == "add":
                    pending.append((k, plan))
                else:
                    out[k] = rank_query(model, query, resolve, method=method, top=spec.top,
                                        restrict=spec.restrict,
                                        include_inputs=spec.include_inputs)
            elif cmd == "similarity":
                words = spec.words
                out[k] = (similarity(model, words[0], words[1], resolve) if len(words) == 2
                          else similarity_matrix(model, words, resolve))
            elif cmd == "doesnt-match":
                out[k] = doesnt_match(model, spec.words, resolve)
            elif cmd == "rank":
                out[k] = word_rank(model, spec.words[0], spec.words[1], resolve)
            elif cmd == "vector":
                out[k] = word_vector(model, spec.words[0], resolve)
            else:
                raise UsageError(f"unknown command '{cmd}'")
        except EmbedcliError as exc:
            out[k] = exc
    if pending:
        for (k, _), ranking in zip(pending, rank_many(model, [p for _, p in pending]),
                                  strict=True):
            out[k] = ranking
    return [r for r in out if r is not None]


# the results of the commands above, for render's type hints
MoreResult = OddOneOut | WordRank | WordVector | Vocabulary
