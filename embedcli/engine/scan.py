"""The blocked top-k pass over the matrix, and the exact order of 3CosAdd scores.

A float32 dot product is rounded differently by a matrix-vector product (one query), a
matrix-matrix product (a batch of queries) and different BLAS kernels, so two candidates
whose scores differ by 1e-7 could swap places between `neighbors` and `batch`. 3CosAdd
answers are therefore ordered by an exact score: the float64 sum of the products of the
float32 components (each product is exact in float64, and the sum is taken in the same
order for every row). The float32 scores only choose the candidates: every row whose
float32 score is within `margin` of the boundary is rescored exactly, so the answer is a
function of the exact scores alone. Equal exact scores: the more frequent word first.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


def margin_for(dim: int) -> float:
    """Twice the rounding error a float32 cosine of unit vectors can carry, and more.

    A float32 dot product of ``dim`` terms errs by at most ``dim * 2**-24`` times the
    product of the lengths (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1);
    two such scores (a candidate's and a threshold) differ from their exact order only
    within twice that. The factor 4 leaves room for lengths a little above 1.
    """
    return 4.0 * max(dim, 1) * 2.0 ** -24


def exact_add(vectors: np.ndarray, rows: np.ndarray | list[int], mean: np.ndarray) -> np.ndarray:
    """Exact-order 3CosAdd scores of ``rows`` (float64; the same for a row however asked)."""
    rows = np.asarray(rows, dtype=np.intp)
    block = np.asarray(vectors[rows], dtype=np.float64)
    return np.add.reduce(block * np.asarray(mean, dtype=np.float64), axis=1)


class Selected(NamedTuple):
    best: list[tuple[int, float]]  # the k best rows and their exact scores
    candidates: np.ndarray  # every row whose float32 score is at least ``floor``
    exact: np.ndarray  # their exact scores
    floor: float


def select(scores: np.ndarray, k: int, skip: set[int], exact: Callable[[np.ndarray], np.ndarray],
            margin: float) -> Selected:
    """The k best rows by exact score (ties: lower row first), leaving out ``skip``; and
    the candidates they were chosen from, every row scoring at least ``floor``."""
    n = len(scores)
    want = min(n, k + len(skip))
    if want <= 0 or k <= 0:
        return Selected([], np.zeros(0, np.intp), np.zeros(0), np.inf)
    if np.isnan(scores).any():  # rows a damaged cache made NaN never rank
        scores = np.where(np.isnan(scores), np.float32(-np.inf), scores)
    floor = -np.inf
    if want < n:
        floor = np.partition(scores, n - want)[n - want] - np.float32(margin)
        candidates = np.flatnonzero(scores >= floor)
    else:
        candidates = np.arange(n)
    found = exact(candidates)
    return Selected(best_rows(candidates, found, k, skip), candidates, found, float(floor))


def best_rows(rows: np.ndarray, exact: np.ndarray, k: int,
              skip: set[int]) -> list[tuple[int, float]]:
    best: list[tuple[int, float]] = []
    for o in np.lexsort((rows, -exact)):
        row = int(rows[o])
        if row not in skip and not np.isnan(exact[o]):  # a NaN row (damaged) never ranks
            best.append((row, float(exact[o])))
            if len(best) == k:
                break
    return best


def count_above(scores: np.ndarray, t32: np.floating, t64: float,
                 exact: Callable[[np.ndarray], np.ndarray], margin: float,
                 selected: Selected | None = None) -> int:
    """How many rows have an exact score above ``t64`` (``t32`` is its float32 estimate).
    When every row that can (its float32 score at least ``t32 - margin``) is among the
    candidates of ``selected``, they are counted there, without another pass."""
    m = np.float32(margin)
    if selected is not None and t32 - m >= selected.floor:
        return int(np.count_nonzero(selected.exact > t64))
    high = t32 + m
    count = int(np.count_nonzero(scores > high))
    if margin:  # above t - m but not above t + m: rescored (as a pass's tiles do)
        near = np.flatnonzero((scores > t32 - m) & (scores <= high))
        if near.size:
            count += int(np.count_nonzero(exact(near) > t64))
    return count



# --------------------------------------------------------------------------- the blocked pass
#
# One pass over the rows [0, clip) answers many queries at once: for each query, the rows
# that can be among its k best (a running top-k, within ``margin`` of the k-th best), and
# for each of its thresholds the number of rows that score above it. The queries are cut
# into blocks of at most ``_QUESTION_BLOCK``; a tile is a block of queries x a block of
# rows, scored by a :class:`Scorer`. Used by ``rank_many`` (3CosAdd batches, margin
# ``margin_for(dim)``, thresholds: the left-out inputs' scores), ``word_ranks`` (no top-k,
# one threshold) and ``evaluate`` (the eight best of every question by float32 score,
# margin 0, dead rows left out).
#
# What a tile costs beyond its matrix product is what decides a batch's speed: one read
# of the tile (each query's maximum) for the top-k and for thresholds near the top; one
# more (each query's minimum) for the queries with a threshold near the bottom (a
# negative term of an analogy is often behind 399,000 of 400,000 words); two comparisons
# over the query's row of the tile for a threshold in the middle. A probe of rows spread
# over the whole range tells which is which.

_QUESTION_BLOCK = 768  # queries a tile at most: a tile stays small however many queries
_TILE = 1 << 19  # scores a tile, about: 2 MB, within a core's L2 here (BLAS and reductions)
_PROBE_FIRST = 1024  # the most frequent rows, scored first to plan the pass ...
_PROBE_SPREAD = 4096  # ... and rows spread evenly over the rest of the range
_DENSE_AT = 256  # a threshold with more rows above it (estimated by the probe) ...
_BOTTOM_AT = 256  # ... and more below it is counted by comparison over the whole tile
_MERGE_HITS = 2048  # fold candidates into the running top-k this many at a time
_MAX_WORKERS = 8
_LOWEST = np.float32(-np.finfo(np.float32).max)  # above -inf: dead rows never pass a floor
_TOP, _BOTTOM, _DENSE = 2, 1, 0  # the kinds of threshold, in the order of a query's columns
_HOT_ROWS = 0.6  # with fewer queries that have rows to take out, copy their rows first


def block_rows(queries: int) -> int:
    """Rows a block, for a tile of ``queries`` queries: about ``_TILE`` scores in flight."""
    return int(min(1 << 16, max(1 << 9, _TILE // max(queries, 1))))


def probe_rows(clip: int) -> tuple[np.ndarray, int, float]:
    """The rows a plan scores first: the first ``_PROBE_FIRST`` rows, then up to
    ``_PROBE_SPREAD`` spread evenly over the rest of ``[0, clip)``; also how many rows
    are first, and how many rows of the rest each spread one stands for."""
    first = min(clip, _PROBE_FIRST)
    rest = clip - first
    spread = np.unique(np.linspace(first, clip - 1, min(rest, _PROBE_SPREAD)).astype(np.intp)) \
        if rest > 0 else np.empty(0, dtype=np.intp)
    return (np.concatenate([np.arange(first, dtype=np.intp), spread]), first,
            rest / max(spread.size, 1))


class Scorer:
    """Scores of queries against candidate rows, a tile (queries x rows, float32) at a time.

    ``candidates`` may be a float16 cache: a block is widened to float32 as it is used.
    :meth:`prepare` turns some queries (ids, in the order of the tile's rows) into what
    :meth:`scores` needs; nothing else is shared between calls, so threads can score at
    once. :meth:`pairs` scores (query, row) pairs one by one.

    Queries x rows, not the other way round: the matrix product costs the same here, and
    the reductions over each query's scores (the maxima, the counts) run along contiguous
    memory, up to twice as fast.
    """

    def __init__(self, candidates: np.ndarray):
        # a plain view of a memory map: slicing a np.memmap costs a Python call each time
        self.candidates = np.asarray(candidates) if candidates.dtype == np.float32 \
            else candidates
        self.rows = len(candidates)

    def block(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.candidates[start:stop], dtype=np.float32)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.candidates[rows], dtype=np.float32)

    def prepare(self, queries: np.ndarray) -> Any:
        raise NotImplementedError

    def scores(self, prepared: Any, block: np.ndarray,
               out: np.ndarray | None = None) -> np.ndarray:
        """The tile: the prepared queries x ``block`` (rows, float32), into ``out`` if given."""
        raise NotImplementedError

    def pairs(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The float32 score of each ``queries[i]`` with ``rows[i]``."""
        raise NotImplementedError


class DotScorer(Scorer):
    """Cosines with query vectors (``queries``, unit float32 rows): 3CosAdd."""

    def __init__(self, candidates: np.ndarray, queries: np.ndarray):
        super().__init__(candidates)
        self.queries = queries

    def prepare(self, queries: np.ndarray) -> np.ndarray:
        return np.asarray(self.queries[queries], dtype=np.float32)

    def scores(self, prepared: np.ndarray, block: np.ndarray,
               out: np.ndarray | None = None) -> np.ndarray:
        # a preallocated `out` matters: a fresh result per tile costs page faults
        return np.matmul(prepared, block.T, out=out)

    def pairs(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.prepare(queries), self.gather(rows))


@dataclass
class Found:
    """What :func:`top_k` found, by query (its position in the ``ks`` given).

    ``query``, ``row``, ``score``: the candidates, by query, then best float32 score
    first, then lower row first; a query's candidates include every row whose float32
    score is within ``margin`` of its k-th best (so all of its k best). ``counts[j, c]``:
    rows scoring above ``thresholds[j, c]`` by more than the margin; ``near`` (query,
    column, row): the rows within the margin of a threshold, for the caller to decide.
    """

    query: np.ndarray
    row: np.ndarray
    score: np.ndarray
    counts: np.ndarray
    near: tuple[np.ndarray, np.ndarray, np.ndarray]

    def best(self, k: int) -> np.ndarray:
        """(queries, k) rows: each query's k best by float32 score (ties: lower row
        first), -1 where it has fewer candidates."""
        n = len(self.counts)
        out = np.full((n, k), -1, dtype=np.int64)
        first = np.searchsorted(self.query, np.arange(n))
        place = np.arange(self.query.size) - first[self.query]
        take = place < k
        out[self.query[take], place[take]] = self.row[take]
        return out


class _Plan:
    """One block of queries, planned from a probe of rows spread over the range.

    The probe's k-th best of each query bounds its k-th best from below (``theta``), so
    that every block of rows, on any thread, only lets through what can still count.
    Each threshold is of one of three kinds, by the probe's estimate of the rows above
    and below it:

    * ``_TOP``: few rows above it. Counted among the rows a tile lets through (each
      query's floor is lowered to its lowest such threshold), after one read of the tile
      for each query's maximum, which the top-k needs anyway.
    * ``_BOTTOM``: few rows below it. The rows above are the rows scanned less those
      at or below it, which are taken out after one read of the tile for each query's
      minimum.
    * ``_DENSE``: many rows on both sides. Counted by comparisons over the query's row
      of each tile.

    A query's columns are ordered dense, bottom, top; the queries with more dense
    thresholds come first, then those with a bottom one, so that each dense column and
    each run of queries with a bottom threshold covers a contiguous slice of the tile.
    ``positions`` are the queries in that order (positions in the caller's ``ks``),
    ``cols`` each one's thresholds.
    """

    def __init__(self, scorer: Scorer, ids: np.ndarray, positions: np.ndarray, ks: np.ndarray,
                 thresholds: np.ndarray, clip: int, margin: float, dead: np.ndarray):
        h, p = len(ids), thresholds.shape[1]
        self.marg = marg = np.float32(margin)
        self.p = p
        prepared = scorer.prepare(ids)
        rows, first, scale = probe_rows(clip)
        probe = scorer.scores(prepared, scorer.gather(rows))  # (queries, probe rows)
        if dead.size:
            probe[:, np.isin(rows, dead)] = -np.inf
        if not np.isfinite(probe).all():  # (no NaN from finite rows; -inf: dead rows)
            np.nan_to_num(probe, copy=False, nan=-np.inf, posinf=np.inf, neginf=-np.inf)
        order = np.arange(h)
        self.reach: list[int] = [0] * p
        self.runs: list[tuple[int, int]] = []
        if p:
            kind = np.full((h, p), _TOP, dtype=np.int8)
            head, tail = probe[:, :first], probe[:, first:]
            live = np.count_nonzero(head > -np.inf, axis=1) + \
                scale * np.count_nonzero(tail > -np.inf, axis=1)
            for c in range(p):
                t = thresholds[:, c:c + 1]
                above = np.count_nonzero(head > t, axis=1) + \
                    scale * np.count_nonzero(tail > t, axis=1)
                below = live - above
                kind[:, c] = np.where(above <= _DENSE_AT, _TOP,
                                      np.where(below <= _BOTTOM_AT, _BOTTOM, _DENSE))
            cols = np.argsort(kind, axis=1, kind="stable")
            kind = np.take_along_axis(kind, cols, axis=1)
            dense = (kind == _DENSE).sum(axis=1)
            has_bottom = (kind == _BOTTOM).any(axis=1)
            order = np.lexsort((~has_bottom, -dense))
            kind, has_bottom = kind[order], has_bottom[order]
            self.cols = cols[order]
            self.table = np.take_along_axis(thresholds[order], self.cols, axis=1)
            self.reach = [int(np.count_nonzero(kind[:, c] == _DENSE)) for c in range(p)]
            # Every threshold t of every kind has the same two float32 bounds: a row scoring
            # above t + margin is counted above it, one above t - margin but not above
            # t + margin is close (the caller rescores it exactly), any other is not above.
            # Each dense column's bounds, for one comparison of its rows:
            self.bounds = [(self.table[:n, c:c + 1] + np.stack([marg, -marg])[:, None, None])
                           .astype(np.float32) for c, n in enumerate(self.reach)]
            sparse = np.where(kind == _TOP, self.table, np.float32(np.inf)).astype(np.float32)
            self.tmin = sparse.min(axis=1)
            self.top_hi, self.top_lo = sparse + marg, sparse - marg  # (inf: no such threshold)
            self.is_bottom = kind == _BOTTOM
            self.bottom_count = self.is_bottom.astype(np.int64)
            low = np.where(self.is_bottom, self.table, np.float32(-np.inf)).astype(np.float32)
            self.low_hi, self.low_lo = low + marg, low - marg  # (-inf: no such threshold)
            self.ceil = self.low_hi.max(axis=1)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], has_bottom.view(np.int8), [0]])))
            self.runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
            if (order != np.arange(h)).any():
                prepared = scorer.prepare(ids[order])
        theta = np.where(ks > 0, np.float32(-np.inf), np.float32(np.inf)).astype(np.float32)
        kth = len(rows) - ks
        ok = np.flatnonzero((kth >= 0) & (ks > 0))
        if ok.size:
            if ok.size < h:
                probe = probe[ok]
            probe.partition(np.unique(kth[ok]), axis=1)  # in place: the probe is done with
            bound = probe[np.arange(ok.size), kth[ok]]
            # a little lower: a row's score in another tile may differ in the last bits
            theta[ok] = np.where(np.isfinite(bound), bound - np.abs(bound) * np.float32(2 ** -16),
                                 bound)
        self.scorer, self.prepared, self.dead = scorer, prepared, dead
        self.positions, self.ks, self.theta = positions[order], ks[order], theta[order]
        self.h = h

    def scan(self, tally: _Tally, start: int, stop: int) -> None:
        """Score rows ``start:stop`` into ``tally``."""
        h, p, marg = self.h, self.p, self.marg
        w = stop - start
        buffer = tally.buffers.get(w)
        if buffer is None:
            buffer = tally.buffers[w] = np.empty((h, w), dtype=np.float32)
        tile = self.scorer.scores(self.prepared, self.scorer.block(start, stop), buffer)
        dead = self.dead
        if dead.size:
            lo, hi = np.searchsorted(dead, (start, stop))
            if hi > lo:
                tile[:, dead[lo:hi] - start] = -np.inf
        # each query's maximum says whether it has anything to take from this tile (after
        # the first blocks, the most frequent words, few have); a NaN in it is a row a
        # damaged cache made NaN, which never ranks: such rows become -inf, as dead ones
        best = np.max(tile, axis=1, out=tally.best)
        if np.isnan(best).any():
            tile[np.isnan(tile)] = -np.inf
            np.max(tile, axis=1, out=best)
        if p:
            if self.reach[0]:
                self._count_dense(tally, tile, start)
            if self.runs:
                self._count_bottom(tally, tile, start, w)
            floor = np.minimum(tally.theta, self.tmin) - marg
        else:
            floor = tally.theta - marg
        np.maximum(floor, _LOWEST, out=floor)
        hot = np.flatnonzero(best >= floor)
        if not hot.size:
            return
        if hot.size < _HOT_ROWS * h:
            sub = tile[hot]
            i, r = np.nonzero(sub >= floor[hot, None])
            q, s = hot[i], sub[i, r]
        else:
            q, r = np.nonzero(tile >= floor[:, None])
            s = tile[q, r]
        r = r + start
        if p:  # the thresholds near the top: count among the rows taken out
            above = s[:, None] > self.top_hi[q]
            tally.counts += np.bincount((q[:, None] * p + np.arange(p))[above],
                                        minlength=h * p).reshape(h, p)
            if marg:
                close = (s[:, None] > self.top_lo[q]) & ~above
                if close.any():
                    qi, ci = np.nonzero(close)
                    tally.near.append((q[qi], ci, r[qi]))
            keep = s >= tally.theta[q] - marg
            q, r, s = q[keep], r[keep], s[keep]
        if q.size:
            tally.take(q, r, s)

    def _count_dense(self, tally: _Tally, tile: np.ndarray, start: int) -> None:
        """The thresholds in the middle: each dense column's rows of the tile are compared
        with its threshold plus and minus the margin in one call (a row is above, close,
        or not above)."""
        count = np.uint16 if tile.shape[1] < 1 << 16 else np.uint32  # narrow sums are faster
        depth = 2 if self.marg else 1
        flags = tally.flags.get(tile.shape)
        if flags is None:
            flags = tally.flags[tile.shape] = np.empty((depth, *tile.shape), dtype=bool)
        for c in range(self.p):
            n = self.reach[c]
            if not n:
                break
            sides = np.greater(tile[:n], self.bounds[c][:depth], out=flags[:, :n])
            sums = sides.view(np.uint8).sum(axis=2, dtype=count)
            tally.counts[:n, c] += sums[0]
            if depth == 1:
                continue
            js = np.flatnonzero(sums[1] != sums[0])
            if js.size:  # the rows within the margin of the threshold, for the caller
                i, rows = np.nonzero(sides[1, js] > sides[0, js])
                tally.near.append((js[i], np.full(i.size, c), rows + start))

    def _count_bottom(self, tally: _Tally, tile: np.ndarray, start: int, w: int) -> None:
        """The thresholds near the bottom: every row scanned is above, but those at or
        below the threshold (plus the margin), taken out by each query's minimum."""
        marg, p = self.marg, self.p
        tally.counts += w * self.bottom_count
        for a, b in self.runs:
            sub, ceil = tile[a:b], self.ceil[a:b]
            worst = np.min(sub, axis=1, out=tally.worst[a:b])
            cold = np.flatnonzero(worst <= ceil)
            if not cold.size:
                continue
            sub = sub[cold]
            i, r = np.nonzero(sub <= ceil[cold, None])
            q, s = a + cold[i], sub[i, r]
            below = (s[:, None] <= self.low_hi[q]) & self.is_bottom[q]  # dead rows too
            tally.counts -= np.bincount((q[:, None] * p + np.arange(p))[below],
                                        minlength=self.h * p).reshape(self.h, p)
            if marg:
                close = below & (s[:, None] > self.low_lo[q])
                if close.any():
                    qi, ci = np.nonzero(close)
                    tally.near.append((q[qi], ci, r[qi] + start))


class _Tally:
    """What one task (a block of queries x a run of row blocks) has found."""

    def __init__(self, plan: _Plan):
        self.ks, self.marg = plan.ks, plan.marg
        self.theta = plan.theta.copy()  # this task's own k-th best: still a lower bound
        self.unset = bool(np.isneginf(self.theta).any())
        self.buffers: dict[int, np.ndarray] = {}
        self.flags: dict[tuple[int, ...], np.ndarray] = {}
        self.best = np.empty(plan.h, dtype=np.float32)  # each query's maximum in a tile
        self.worst = np.empty(plan.h, dtype=np.float32)  # and its minimum
        self.counts = np.zeros((plan.h, plan.p), dtype=np.int64)
        self.near: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending = 0
        self.pool_q = np.empty(0, dtype=np.intp)
        self.pool_r = np.empty(0, dtype=np.intp)
        self.pool_s = np.empty(0, dtype=np.float32)

    def take(self, q: np.ndarray, r: np.ndarray, s: np.ndarray) -> None:
        """Candidates, folded in a batch at a time (an out-of-date k-th best only lets
        more through); at once while a query has no k-th best yet."""
        self.found.append((q, r, s))
        self.pending += q.size
        if self.unset or self.pending >= _MERGE_HITS:
            self.merge()

    def merge(self) -> None:
        """Fold in the candidates taken, raise each k-th best, drop what cannot make it."""
        if not self.found:
            return
        pool_q = np.concatenate([self.pool_q, *(f[0] for f in self.found)])
        pool_r = np.concatenate([self.pool_r, *(f[1] for f in self.found)])
        pool_s = np.concatenate([self.pool_s, *(f[2] for f in self.found)])
        self.found, self.pending = [], 0
        by_query = np.lexsort((-pool_s, pool_q))
        pool_q, pool_r, pool_s = pool_q[by_query], pool_r[by_query], pool_s[by_query]
        sizes = np.bincount(pool_q, minlength=len(self.ks))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        full = np.flatnonzero((sizes >= self.ks) & (self.ks > 0))
        self.theta[full] = np.maximum(self.theta[full],
                                      pool_s[starts[full] + self.ks[full] - 1])
        self.unset = bool(np.isneginf(self.theta).any())
        keep = pool_s >= self.theta[pool_q] - self.marg
        self.pool_q, self.pool_r, self.pool_s = pool_q[keep], pool_r[keep], pool_s[keep]


def top_k(scorer: Scorer, ks: np.ndarray | Sequence[int], clip: int, *, margin: float = 0.0,
          thresholds: np.ndarray | None = None, dead: np.ndarray | None = None,
          queries: np.ndarray | None = None,
          progress: Callable[[int, int], None] | None = None) -> Found:
    """One blocked pass over rows ``[0, clip)`` for many queries: each query's ``ks[j]``
    best rows (within ``margin``) and its rows above ``thresholds[j]`` (+inf: none).

    ``queries``: the scorer's ids of the queries (default ``0 .. len(ks) - 1``). ``dead``
    rows are never candidates and never counted. ``margin`` 0 orders by float32 score
    (ties: the lower row); otherwise the caller rescores the candidates exactly (see
    :func:`margin_for`). ``progress`` is called with (queries done, queries), from the
    calling thread.

    Each block of queries (at most ``_QUESTION_BLOCK``) is a task, or, when there are
    fewer blocks than twice the workers, a few tasks each over a run of the row blocks;
    tasks run on a worker thread per core (numpy and BLAS release the GIL), each with a
    one-thread BLAS (see :func:`one_blas_thread`; without threadpoolctl, one worker).
    """
    ks = np.asarray(ks, dtype=np.intp)
    n = len(ks)
    ids = np.arange(n) if queries is None else np.asarray(queries, dtype=np.intp)
    table = (np.full((n, 0), np.inf, dtype=np.float32) if thresholds is None
             else np.asarray(thresholds, dtype=np.float32).reshape(n, -1))
    p = table.shape[1]
    dead = (np.empty(0, dtype=np.intp) if dead is None
            else np.unique(np.asarray(dead, dtype=np.intp)))
    bounds = query_blocks(n)
    blocks = len(bounds) - 1
    plans: list[_Plan | None] = [None] * blocks
    locks = [threading.Lock() for _ in range(blocks)]

    def plan_of(b: int) -> _Plan:
        with locks[b]:  # the runs of one block of queries share its plan
            plan = plans[b]
            if plan is None:
                at = np.arange(bounds[b], bounds[b + 1])
                plan = plans[b] = _Plan(scorer, ids[at], at, ks[at], table[at], clip, margin,
                                        dead)
            return plan

    def run(b: int, starts: list[int], width: int) -> _Tally:
        plan = plan_of(b)
        tally = _Tally(plan)
        for start in starts:
            plan.scan(tally, start, min(start + width, clip))
        tally.merge()
        tally.buffers.clear()  # kept until the join: only what was found
        tally.flags.clear()
        return tally

    if progress:
        progress(0, n)
    tallies: list[list[_Tally]] = [[] for _ in range(blocks)]
    with one_blas_thread() as can:
        workers = worker_count(_MAX_WORKERS) if can else 1
        tasks = schedule(bounds, clip, workers)
        # progress: a block's queries, in proportion to its row blocks scanned (a block's
        # runs end together near the end of the pass, see schedule)
        total = [0] * blocks
        for b, starts, _ in tasks:
            total[b] += len(starts)
        scanned = [0] * blocks
        credited = [0] * blocks

        def finished(b: int, tally: _Tally, starts: list[int]) -> None:
            tallies[b].append(tally)
            scanned[b] += len(starts)
            if progress:
                credited[b] = (bounds[b + 1] - bounds[b]) * scanned[b] // max(total[b], 1)
                progress(sum(credited), n)

        if workers == 1 or len(tasks) <= 1:
            for b, starts, width in tasks:
                finished(b, run(b, starts, width), starts)
        else:
            from concurrent.futures import ThreadPoolExecutor, as_completed

            pool = ThreadPoolExecutor(min(workers, len(tasks)), thread_name_prefix="embedcli")
            try:
                futures = {pool.submit(run, *task): task for task in tasks}
                for future in as_completed(futures):
                    b, starts, _ = futures[future]
                    finished(b, future.result(), starts)
            finally:  # on an error or Ctrl-C, do not start the tasks still queued
                pool.shutdown(wait=True, cancel_futures=True)
    return _join(plans, tallies, n, p, margin)


def query_blocks(n: int) -> list[int]:
    """The bounds of the blocks of a pass's ``n`` queries (at most ``_QUESTION_BLOCK``
    each, as even as they come)."""
    blocks = -(-n // _QUESTION_BLOCK)
    return [n * b // blocks for b in range(blocks + 1)] if n else [0]


def schedule(bounds: list[int], clip: int, workers: int) -> list[tuple[int, list[int], int]]:
    """The tasks of a pass over rows ``[0, clip)`` on ``workers`` threads, for the blocks
    of queries of ``bounds``: (the block, the first rows of its row blocks, their width).
    A block of queries is one task, or, with fewer blocks than twice the workers, a few
    over runs of its rows. The first run of every block comes first: the task that starts
    a block plans it (see :class:`_Plan`) while the others wait, so the blocks' plans are
    made on different threads at once. (scripts/bench.py's bare product runs the same
    tasks.)"""
    blocks = len(bounds) - 1
    runs = 1 if workers == 1 else -(-2 * workers // max(blocks, 1))
    tasks = []
    for b in range(blocks):
        width = block_rows(bounds[b + 1] - bounds[b])
        starts = list(range(0, clip, width))
        parts = min(runs, len(starts)) or 1
        for part in range(parts):
            lo, hi = len(starts) * part // parts, len(starts) * (part + 1) // parts
            tasks.append((part, b, starts[lo:hi], width))
    return [(b, starts, width) for _, b, starts, width in sorted(tasks, key=lambda t: t[:2])]


def _join(plans: Sequence[_Plan | None], tallies: Sequence[Sequence[_Tally]], n: int, p: int,
          margin: float) -> Found:
    """The tasks' tallies, in the callers' order of queries and thresholds."""
    parts_q, parts_r, parts_s = [], [], []
    counts = np.zeros((n, p), dtype=np.int64)
    near: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for plan, runs in zip(plans, tallies, strict=True):
        if plan is None:
            continue
        marg = plan.marg
        theta = np.max([t.theta for t in runs], axis=0)  # every run's k-th best bounds it
        q = np.concatenate([t.pool_q for t in runs])
        keep = np.concatenate([t.pool_s for t in runs]) >= theta[q] - marg
        parts_q.append(plan.positions[q[keep]])
        parts_r.append(np.concatenate([t.pool_r for t in runs])[keep])
        parts_s.append(np.concatenate([t.pool_s for t in runs])[keep])
        if p:
            counts[plan.positions[:, None], plan.cols] = sum(t.counts for t in runs)
            near += [(plan.positions[nq], plan.cols[nq, nc], nr)
                     for t in runs for nq, nc, nr in t.near]
    query = np.concatenate([np.empty(0, dtype=np.intp), *parts_q])
    row = np.concatenate([np.empty(0, dtype=np.intp), *parts_r])
    score = np.concatenate([np.empty(0, dtype=np.float32), *parts_s])
    order = np.lexsort((row, -score, query))
    empty = np.empty(0, dtype=np.intp)
    nq, nc, nr = (np.concatenate([empty, *(x[k] for x in near)]) for k in range(3))
    return Found(query[order], row[order], score[order], counts, (nq, nc, nr))


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
