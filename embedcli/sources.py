"""Where a vector file is, how to read it, and what it is read as: the plain records
that ``models.py`` keeps and ``readers.py`` fills. A query of a converted model imports
these, not the readers (nor the gzip, bz2 and zipfile modules they need).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    import numpy as np

    from embedcli.subwords import Settings


class Words(Sequence[str]):
    """A vocabulary as a reader gathers it, a block at a time: each block a list of words
    or an array of them as pyarrow parsed them (anything with ``to_pylist()`` whose items
    have ``as_py()``). pyarrow keeps a block's words in one buffer, some 12 bytes a word
    where a Python str takes 64: 2.2 M words held beside the matrix while it is read and
    written take about 26 MB, not 160 MB."""

    def __init__(self) -> None:
        self._blocks: list[Any] = []
        self._starts = [0]  # where each block starts, then the end

    def add(self, block: Any) -> None:
        if len(block):
            self._blocks.append(block)
            self._starts.append(self._starts[-1] + len(block))

    def __len__(self) -> int:
        return self._starts[-1]

    def _lists(self) -> Iterator[list[str]]:
        return map(_as_list, self._blocks)

    def __iter__(self) -> Iterator[str]:
        for words in self._lists():
            yield from words

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        k = bisect.bisect_right(self._starts, index) - 1
        word = self._blocks[k][index - self._starts[k]]
        return word if isinstance(word, str) else word.as_py()

    def __eq__(self, other: object) -> bool:  # as a list of the same words would be
        return isinstance(other, (Words, list)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # (mutable, as a list)

    def take(self, rows: list[int]) -> list[str]:
        """The words of ``rows`` (ascending), each block split at most once."""
        out: list[str] = []
        k = 0
        for block, start, stop in zip(self._blocks, self._starts, self._starts[1:]):
            if k == len(rows):
                break
            if rows[k] >= stop:
                continue
            words = _as_list(block)
            while k < len(rows) and rows[k] < stop:
                out.append(words[rows[k] - start])
                k += 1
        return out

    def joined(self, separator: str) -> str:
        """The words joined by ``separator``, a block at a time (``separator.join(self)``
        would first make a list of them all)."""
        return separator.join(separator.join(words) for words in self._lists())


def _as_list(block: Any) -> list[str]:
    """A block of Words as a list of its words."""
    return block if isinstance(block, list) else block.to_pylist()


@dataclass
class VectorSet:
    """What every reader returns: words in frequency order and their raw vectors."""

    words: Sequence[str]  # a list, or Words
    vectors: np.ndarray  # (n, d) float32
    notes: list[str] = field(default_factory=list)
    # a fastText model's n-gram settings and (bucket, d) float32 matrix (embedcli.subwords)
    subwords: tuple[Settings, np.ndarray] | None = None


@dataclass(frozen=True)
class ReadOptions:
    limit: int | None = None
    unicode_errors: str = "strict"  # or "replace"
    trust: bool = False


@dataclass(frozen=True)
class Location:
    """A file, or a member inside a zip archive (``archive.zip:member.txt``)."""

    path: Path
    member: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @property
    def name(self) -> str:
        return self.member or self.path.name
