"""The results the engine returns: plain dataclasses, with no numpy in them.

Renderers (``embedcli.render``) import these to draw them; nothing here computes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


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



@dataclass(frozen=True)
class AxisScore:
    word: str
    score: float  # cos(unit(word), the axis): -1 at the `start` end, +1 at the `end` end


@dataclass(frozen=True)
class Axis:
    """Words placed along a direction, sorted from its ``start`` end to its ``end`` end.

    ``start`` and ``end`` are the ends as one label each; for a direction of several pairs,
    each is the pairs' ends joined by ", " (``pairs`` holds them one by one). ``top`` is set
    when the words are the vocabulary's (or ``restrict``'s) furthest toward each end.
    """

    start: str
    end: str
    model: str
    words: list[AxisScore]
    pairs: list[tuple[str, str]] = field(default_factory=list)
    top: int | None = None
    restrict: int | None = None
