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


def select(scores: np.ndarray, k: int, skip: set[int], exact: Callable[[np.ndarray], np.ndarray],
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
    return best_rows(candidates, exact(candidates), k, skip)


def best_rows(rows: np.ndarray, exact: np.ndarray, k: int,
              skip: set[int]) -> list[tuple[int, float]]:
    best: list[tuple[int, float]] = []
    for o in np.lexsort((rows, -exact)):
        row = int(rows[o])
        if row not in skip:
            best.append((row, float(exact[o])))
            if len(best) == k:
                break
    return best


def count_above(scores: np.ndarray, t32: np.floating, t64: float,
                 exact: Callable[[np.ndarray], np.ndarray], margin: float) -> int:
    """How many rows have an exact score above ``t64`` (``t32`` is its float32 estimate)."""
    m = np.float32(margin)
    count = int(np.count_nonzero(scores > t32 + m))
    if margin:
        near = np.flatnonzero(np.abs(scores - t32) <= m)
        if near.size:
            count += int(np.count_nonzero(exact(near) > t64))
    return count



def block_rows(queries: int) -> int:
    """Vocabulary rows a block: about 4M scores (16 MB) in flight, whatever the batch."""
    return int(min(1 << 16, max(1 << 12, (1 << 22) // max(queries, 1))))


_PROBE_ROWS = 2048  # the most frequent rows, scored first to plan the pass
_DENSE_AT = 128  # a threshold with more probe rows above it is counted by comparison


class _Scan:
    """One pass over rows ``[0, clip)`` for many 3CosAdd queries at once.

    Each block of rows is scored against all queries with one matrix product. Per query,
    the pass keeps every row that can still be among its ``ks[j]`` best (a running top-k,
    with the margin of ``margin_for``) and, per threshold ``thresholds[j, c]`` (+inf: none),
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
        self.width = block_rows(m)
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


def scan_add(vectors: np.ndarray, means: np.ndarray, ks: np.ndarray, thresholds: np.ndarray,
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

