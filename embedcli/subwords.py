"""fastText's subword vectors: a word's character n-grams, hashed into buckets of a matrix.

A fastText model (Bojanowski et al. 2017) keeps, beside a vector for each vocabulary
word, a matrix of ``bucket`` rows for character n-grams: the n-grams of ``<word>`` (the
word between ``<`` and ``>``) of ``minn`` to ``maxn`` characters are hashed, each hash
taken modulo ``bucket``, and a word outside the vocabulary gets the mean of those rows.
This module does what gensim's ``FastTextKeyedVectors.get_vector`` does for such a word,
with numpy alone (so a query never imports gensim):

* the n-grams are those of gensim's ``compute_ngrams_bytes`` (Facebook's
  ``Dictionary::computeSubwords``): taken over the word's UTF-8 bytes, counting
  characters (a continuation byte never starts an n-gram, and an n-gram ends only at a
  character's end), with the single characters ``<`` and ``>`` left out;
* the hash is gensim's ``ft_hash_bytes`` (Facebook's ``Dictionary::hash``): 32-bit
  FNV-1a, except that each byte is read as a *signed* char, so a byte of 0x80 or more is
  sign-extended (0xe9 xors in 0xffffffe9), a quirk of the C++ code the models were
  trained with;
* the vector is the sum of the n-grams' rows (each n-gram as often as it occurs),
  divided by their number. A word with no n-gram at all has the zero vector.

Pure: no I/O, nothing of embedcli imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_MASK = 0xFFFFFFFF


def ngram_hashes(word: str, minn: int, maxn: int, bucket: int) -> list[int]:
    """The bucket rows of ``word``'s n-grams (gensim's ``ft_ngram_hashes``): the character
    n-grams of ``<word>`` as UTF-8 bytes, in gensim's order, each hashed as fastText does
    (FNV-1a over the bytes read as signed chars), the hash of a longer n-gram carried on
    from the shorter one that starts where it does (a conversion hashes millions of
    words: a pass over each n-gram's bytes took 4x longer)."""
    if bucket <= 0 or maxn <= 0:
        return []
    data = f"<{word}>".encode("utf-8", "surrogatepass")
    size = len(data)
    rows: list[int] = []
    for i in range(size):
        if data[i] & 0xC0 == 0x80:  # a continuation byte starts no character
            continue
        h, j, n = _FNV_OFFSET, i, 1
        while j < size and n <= maxn:
            while True:  # the character's bytes, into the hash
                b = data[j]
                h = ((h ^ (b | 0xFFFFFF00 if b & 0x80 else b)) * _FNV_PRIME) & _MASK
                j += 1
                if j >= size or data[j] & 0xC0 != 0x80:
                    break
            if n >= minn and not (n == 1 and (i == 0 or j == size)):
                rows.append(h % bucket)
            n += 1
    return rows


@dataclass(frozen=True)
class Settings:
    """A model's n-gram settings, as fastText's arguments name them."""

    minn: int
    maxn: int
    bucket: int

    def to_json(self) -> dict[str, int]:
        return {"minn": self.minn, "maxn": self.maxn, "bucket": self.bucket}

    @classmethod
    def from_json(cls, value: Any) -> Settings | None:
        """The settings a meta.json holds, or None if they are not three sound numbers."""
        if not isinstance(value, dict) or sorted(value) != ["bucket", "maxn", "minn"]:
            return None
        if not all(type(v) is int for v in value.values()):
            return None
        minn, maxn, bucket = value["minn"], value["maxn"], value["bucket"]
        if not (1 <= minn <= maxn <= 1024 and 1 <= bucket <= 2**31 - 1):
            return None
        return cls(minn, maxn, bucket)


def subword_vector(ngrams: Any, settings: Settings, word: str) -> tuple[Any, int]:
    """``word``'s vector from its n-grams and how many n-grams it has.

    ``ngrams`` is the (bucket, d) matrix (float32, or float16 widened here). The result is
    float32, gensim's ``get_vector(word)`` for a word outside the vocabulary: the rows
    summed, then divided by their number (the zero vector when there is no n-gram).
    """
    import numpy as np

    rows = ngram_hashes(word, settings.minn, settings.maxn, settings.bucket)
    vector = np.zeros(ngrams.shape[1], dtype=np.float32)
    if not rows:
        return vector, 0
    # float32 additions one row at a time, in gensim's order (its loop does the same)
    block = np.asarray(ngrams[np.asarray(rows, dtype=np.intp)], dtype=np.float32)
    for row in block:
        vector += row
    return vector / np.float32(len(rows)), len(rows)
