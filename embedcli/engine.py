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
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from embedcli.errors import QueryError, UnknownWordError, UsageError
from embedcli.expr import Query, Term, format_terms
from embedcli.models import Model


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
    """

    model: Model
    case_sensitive: bool = False
    on_note: Callable[[str], None] = lambda _m: None
    _noted: set[str] = field(default_factory=set)

    def is_word(self, word: str) -> bool:
        if self.model.index(word) is not None:
            return True
        return not self.case_sensitive and self.model.index(word.lower()) is not None

    def __call__(self, word: str) -> tuple[int, str]:
        index = self.model.index(word)
        if index is not None:
            return index, word
        if not self.case_sensitive:
            lower = word.lower()
            index = self.model.index(lower) if lower != word else None
            if index is not None:
                if word not in self._noted:
                    self._noted.add(word)
                    self.on_note(f"'{word}' is not in {self.model.name}; using '{lower}'")
                return index, lower
        raise UnknownWordError(word, self.model.name, len(self.model), suggest(self.model, word))


def suggest(model: Model, word: str, limit: int = 5) -> list[str]:
    """Up to ``limit`` vocabulary words close to ``word``, most likely first.

    Candidates one edit away (as in Norvig's spelling corrector) ranked by frequency,
    then difflib's close matches among the 50,000 most frequent words.
    """
    found: list[str] = []
    lower = word.lower()
    if lower != word and model.index(lower) is not None:
        found.append(lower)
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
        words = model.words()[:pool_size]
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
        raise QueryError(f"the terms of '{format_terms([Term(w, x) for _, w, x in terms])}' "
                         "cancel out: the query vector is zero")
    return (mean / length).astype(np.float32)


def _scores_add(model: Model, mean: np.ndarray, clip: int) -> np.ndarray:
    return model.vectors[:clip] @ mean


def _scores_mul(model: Model, terms: list[tuple[int, str, float]], clip: int) -> np.ndarray:
    candidates = model.vectors[:clip]
    pos = [i for i, _, w in terms if w > 0]
    neg = [i for i, _, w in terms if w < 0]
    # one matrix product for all terms, then gensim's formula
    cos = candidates @ np.asarray(model.vectors[pos + neg], dtype=np.float32).T
    shifted = (1 + cos) / 2
    numerator = np.prod(shifted[:, : len(pos)], axis=1)
    denominator = np.prod(shifted[:, len(pos):], axis=1) + np.float32(0.000001)
    return numerator / denominator


def _top(scores: np.ndarray, k: int, skip: set[int]) -> list[int]:
    """Indices of the k highest scores (best first), leaving out ``skip``."""
    want = min(len(scores), k + len(skip))
    if want <= 0:
        return []
    if want < len(scores):
        part = np.argpartition(-scores, want - 1)[:want]
    else:
        part = np.arange(len(scores))
    order = part[np.argsort(-scores[part], kind="stable")]
    return [int(i) for i in order if int(i) not in skip][:k]


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
    """
    terms = _resolve_terms(query, resolve)
    clip = len(model) if restrict is None else min(restrict, len(model))
    if method == "add":
        mean = _mean_vector(model, terms)
        scores = _scores_add(model, mean, clip)

        def score_of(i: int) -> float:
            return float(model.vectors[i] @ mean)
    elif method == "mul":
        if any(abs(w) != 1 for _, _, w in terms):
            raise UsageError("--method mul takes no weights: write the terms as + or - words")
        if not any(w > 0 for _, _, w in terms):
            raise UsageError("--method mul needs at least one '+' word")
        scores = _scores_mul(model, terms, clip)

        def score_of(i: int) -> float:
            return float(_scores_mul(model, terms, len(model))[i]) if i >= clip else float(
                scores[i])
    else:
        raise UsageError(f"unknown method '{method}' (use add or mul)")
    inputs: list[int] = []
    for i, _, _ in terms:
        if i not in inputs:
            inputs.append(i)
    skip = set() if include_inputs else set(inputs)
    best = _top(scores, top, skip)
    results = [Hit(r, model.word(i), float(scores[i])) for r, i in enumerate(best, 1)]
    excluded = []
    if not include_inputs:
        for i in inputs:
            rank = int((scores > scores[i]).sum()) + 1 if i < clip else None
            excluded.append(Excluded(model.word(i), rank, score_of(i)))
    canonical = format_terms([Term(w, x) for _, w, x in terms])
    return Ranking(canonical, model.name, label or method, results, excluded, restrict)


def similarity(model: Model, a: str, b: str, resolve: Resolver) -> Similarity:
    """Cosine similarity of two words (gensim ``similarity``)."""
    (i, wa), (j, wb) = resolve(a), resolve(b)
    return Similarity(wa, wb, float(model.vectors[i] @ model.vectors[j]))


def similarity_matrix(model: Model, words: Sequence[str], resolve: Resolver) -> SimilarityMatrix:
    """Pairwise cosine similarities of several words."""
    resolved = [resolve(w) for w in words]
    rows = np.asarray(model.vectors[[i for i, _ in resolved]], dtype=np.float32)
    matrix = rows @ rows.T
    return SimilarityMatrix([w for _, w in resolved], matrix.astype(float).tolist())
