"""Words a user typed -> rows of the model: the lower-case fallback, fastText's subword
vectors for words outside the vocabulary, and spelling suggestions."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from embedcli.errors import UnknownWordError
from embedcli.models import Model


@dataclass
class Resolver:
    """Maps the words a user typed to rows, with the lower-case fallback.

    ``on_note`` is told once per word when a lower-cased form is used instead, and when a
    word outside the vocabulary of a fastText model with subwords gets the vector of its
    character n-grams (as gensim's ``get_vector`` gives it; ``subwords=False`` makes such
    a word unknown, as in any other model). The vocabulary comes first: a word, then its
    lower-case form, then its n-grams. ``is_word`` is vocabulary membership alone (the
    query language splits tokens that are not words; ``vocab --has`` reports it).
    ``memo`` > 0 remembers that many words' answers (lookups and suggestions), for a
    batch that asks about the same words again and again.
    """

    model: Model
    case_sensitive: bool = False
    on_note: Callable[[str], None] = lambda _m: None
    memo: int = 0
    subwords: bool = True
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
        found = self.model.subword_row(word) if self.subwords else None
        if found is not None:
            row, count = found
            if word not in self._noted:
                self._noted.add(word)
                grams = f"{count} character n-gram{'' if count == 1 else 's'}"
                self.on_note(f"'{word}' is not in the vocabulary of {self.model.name}; its "
                             f"vector comes from {grams}")
            return row, word
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

