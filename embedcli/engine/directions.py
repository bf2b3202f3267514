"""Directions in the space: the axis from one end to another, and words placed along it.

A direction ``A -> B`` is ``unit(B) - unit(A)``; a direction of several pairs
``(a_1, b_1) ... (a_n, b_n)`` is the mean of the pair differences,
``mean_i (unit(b_i) - unit(a_i))`` (Bolukbasi et al. 2016). ``unit`` of a word is its
unit vector (its row); of an expression, its 3CosAdd query vector (see
``ranking.query_vector``). A word's score along the direction ``d`` is
``cos(unit(word), d)``: from -1 (toward the A ends) to +1 (toward the B ends).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedcli.engine.ranking import query_vector
from embedcli.engine.results import Axis, AxisScore
from embedcli.engine.words import Resolver
from embedcli.errors import QueryError, UsageError
from embedcli.expr import Direction
from embedcli.models import Model


def direction_vector(model: Model, directions: Sequence[Direction],
                     resolve: Resolver) -> np.ndarray:
    """The unit vector (float64) of ``mean_i (unit(end_i) - unit(start_i))``.

    Raises
    ------
    QueryError
        When the mean difference is zero (the ends are the same point).
    UsageError
        When no direction is given.
    """
    if not directions:
        raise UsageError("a direction needs at least one pair of ends")
    diffs = np.zeros((len(directions), model.dim), dtype=np.float64)
    for k, d in enumerate(directions):
        _, a = query_vector(model, d.start, resolve)
        _, b = query_vector(model, d.end, resolve)
        diffs[k] = b.astype(np.float64) - a.astype(np.float64)
    mean = diffs.mean(axis=0)
    length = float(np.linalg.norm(mean))
    if not np.isfinite(length) or length < 1e-9:
        shown = "; ".join(str(d) for d in directions)
        raise QueryError(f"the ends of '{shown}' are the same point, so it has no direction")
    return mean / length


def along(model: Model, direction: np.ndarray, rows: Sequence[int] | np.ndarray) -> np.ndarray:
    """The scores (float64) of ``rows`` along the unit ``direction``: each row's cosine
    with it (rows are unit vectors; a row with no usable vector scores 0)."""
    vectors = model.rows([int(r) for r in rows]).astype(np.float64)
    # summed row by row, not by BLAS: the same bits whatever the threads (a batch runs
    # with one BLAS thread per worker, a command with all of them)
    return np.asarray(np.add.reduce(vectors * direction, axis=1), dtype=np.float64)


def _label(model: Model, directions: Sequence[Direction], resolve: Resolver
           ) -> tuple[str, str, list[tuple[str, str]]]:
    pairs = [(query_vector(model, d.start, resolve)[0], query_vector(model, d.end, resolve)[0])
             for d in directions]
    return ", ".join(a for a, _ in pairs), ", ".join(b for _, b in pairs), pairs


def axis(model: Model, directions: Sequence[Direction], words: Sequence[str],
         resolve: Resolver, *, top: int | None = None, restrict: int | None = None) -> Axis:
    """Where ``words`` lie along the direction (see the module's notes), sorted from the
    start end to the end end (equal scores: in the order given; a word with no usable
    vector, whose score is NaN, last).

    With ``top``, the ``top`` words of the vocabulary (or of its first ``restrict`` rows)
    furthest toward each end are added (the ends' own words left out, as gensim leaves a
    query's words out of its neighbours); each word is listed once.
    """
    d = direction_vector(model, directions, resolve)
    start, end, pairs = _label(model, directions, resolve)
    rows = dict.fromkeys(resolve(w) for w in words)
    if top is not None:
        clip = len(model) if restrict is None else min(restrict, len(model))
        ends = {resolve(t.word)[0] for dd in directions for q in (dd.start, dd.end)
                for t in q.terms}
        # a row with no usable vector (NaN in its file) lies at neither end
        scores = np.nan_to_num(model.dot(d.astype(np.float32), clip), nan=0.0)
        order = np.argsort(scores, kind="stable")
        kept: list[int] = order[~np.isin(order, list(ends))].tolist()
        n = min(top, len(kept))
        for i in (kept[:n] + kept[len(kept) - n:]) if n else []:
            rows.setdefault((i, model.word(i)), None)
    found = list(rows)
    scores64 = along(model, d, [i for i, _ in found]) if found else np.zeros(0)
    # a word with no usable vector (NaN) has no place on the axis: it goes last
    placed = sorted(range(len(found)), key=lambda k: (bool(np.isnan(scores64[k])),
                                                      float(np.nan_to_num(scores64[k]))))
    return Axis(start, end, model.name,
                [AxisScore(found[k][1], float(scores64[k])) for k in placed],
                pairs if len(directions) > 1 else [], top, restrict)
