"""Words a user typed -> rows of the model: the lower-case fallback, fastText's subword
vectors for words outside the vocabulary, and spelling suggestions."""

from __future__ import annotations

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
    _rare_seen: set[str] = field(default_factory=set)
    _rare_notes: int = 0
    _frequent: frozenset[str] | None = None

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
            self._rare(index, word)
            return index, word
        if not self.case_sensitive:
            lower = word.lower()
            index = self._index(lower) if lower != word else None
            if index is not None:
                if word not in self._noted:
                    self._noted.add(word)
                    self.on_note(f"'{word}' is not in {self.model.name}; using '{lower}'")
                self._rare(index, lower)
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


    def _rare(self, index: int, word: str) -> None:
        """A typo can be a word too, a rare one (``wom``, #204,527): once per word, a note
        when a word ranks beyond RARE and a frequent word is one edit away; after
        RARE_NOTES of them, one more that says the notes stop (a batch of rare words would
        bury its stderr in them, and each check costs about 0.1 ms)."""
        if index < RARE or not word.isalpha() or len(word) > SUGGEST_MAX or \
                word in self._rare_seen or self._rare_notes > RARE_NOTES:
            return  # (numbers, urls and the like are no typos)
        self._rare_seen.add(word)
        if self._frequent is None:  # one set of the frequent words: a probe costs nothing
            self._frequent = frozenset(self.model.words(RARE))
        edits = one_edit(word.lower())
        edits.discard(word)
        close = sorted(edits & self._frequent,
                       key=lambda w: self._index(w) or 0)[:3]
        if close:
            self._rare_notes += 1
            if self._rare_notes > RARE_NOTES:
                self.on_note(f"more rare words that look like typos; no more notes of them "
                             f"in this run (after {RARE_NOTES})")
                return
            self.on_note(f"'{word}' is a rare word in {self.model.name} (#{index + 1:,} of "
                         f"{len(self.model):,} by frequency); did you mean "
                         f"{', '.join(close)}? (check the spelling)")


RARE = 100_000  # a query word ranked beyond this, close to a frequent word, gets a note
RARE_NOTES = 20  # such notes in one run (a batch, a shell session), at most
SUGGEST_MAX = 64  # characters; longer unknown words get no spelling suggestions


def one_edit(lower: str) -> set[str]:
    """The strings one edit from ``lower``: a letter deleted, two swapped, one replaced
    or inserted (Norvig's spelling corrector)."""
    letters = set("abcdefghijklmnopqrstuvwxyz") | set(lower)
    splits = [(lower[:i], lower[i:]) for i in range(len(lower) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
    edits |= {a + c + b for a, b in splits for c in letters}
    return edits


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
    edits = one_edit(lower)
    edits.discard(word)
    if len(edits) < 5000:
        ranked = sorted((i, w) for w in edits if w not in found and
                        (i := model.index(w)) is not None)
        found += [w for _, w in ranked]
    if len(found) < limit:
        pool_size = min(len(model), 50_000)
        words = model.words(pool_size)
        pool = [w for w in words if abs(len(w) - len(lower)) <= 2 and w not in found]
        import difflib  # only for a word not found: not on every run

        found += difflib.get_close_matches(lower, pool, n=limit - len(found), cutoff=0.75)
    return found[:limit]

