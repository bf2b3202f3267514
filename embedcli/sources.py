"""Where a vector file is, how to read it, and what it is read as: the plain records
that ``models.py`` keeps and ``readers.py`` fills. A query of a converted model imports
these, not the readers (nor the gzip, bz2 and zipfile modules they need).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from embedcli.subwords import Settings


@dataclass
class VectorSet:
    """What every reader returns: words in frequency order and their raw vectors."""

    words: list[str]
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
