"""Reading Facebook's fastText binary format (``cc.en.300.bin``, ``wiki.en.bin``).

The layout is the one gensim's ``gensim/models/_fasttext_bin.py`` reads (and fastText's
``FastText::saveModel`` writes), all little-endian:

* int32 magic 793712314 and int32 version (12);
* the arguments: 12 int32 (dim, ws, epoch, min_count, neg, word_ngrams, loss, model,
  bucket, minn, maxn, lr_update_rate) and a double (t);
* the dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx_size; then
  ``size`` entries, each the word's UTF-8 bytes and a NUL, an int64 count and an int8
  type (0 a word, 1 a label); then ``pruneidx_size`` pairs of int32;
* the input matrix: a bool (quantised?), int64 rows and columns, rows x columns float32:
  the ``nwords`` word rows, then the ``bucket`` n-gram rows;
* the output matrix, the same way (not needed for word vectors, but it must be there:
  a file that ends early is cut off).

gensim's ``load_facebook_vectors`` reads the same file, but holds the input matrix and
two copies of its halves, and adds each word's n-grams in a Python loop: for a model of
cc.en.300.bin's shape that is about four times the matrix. Here the input matrix is read
once into one array; each word's vector (the word's row plus its n-grams' rows, divided
by their number plus one, as gensim's ``adjust_vectors`` computes it) is written over the
word's row, a block of words at a time, so the word rows and the bucket rows are two
views of that one array. The sizes are checked against the header before anything large
is allocated, and every fault is a ModelError naming the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from embedcli.errors import ModelError
from embedcli.subwords import Settings, ngram_hashes

MAGIC = 793712314
MAGIC_BYTES = struct.pack("<i", MAGIC)
VERSION = 12
_ARGS = struct.Struct("<12id")
_DICT = struct.Struct("<3iqq")
_ENTRY_TAIL = 9  # int64 count, int8 type
_MATRIX = struct.Struct("<?qq")
_BLOCK_WORDS = 2048
_MAX_WORD = 1 << 20


@dataclass
class FastTextFile:
    """What a Facebook binary holds for word vectors."""

    words: list[str]
    vectors: Any  # (nwords, d) float32: the words' vectors as gensim's kv[word] gives them
    ngrams: Any  # (bucket, d) float32: the n-gram buckets
    settings: Settings
    notes: list[str] = field(default_factory=list)


class _Reader:
    """Exact reads from a stream, counting bytes; running short is a cut-off file."""

    def __init__(self, stream: IO[bytes], name: str, advance: Callable[[int], None]):
        self.stream, self.name, self.advance = stream, name, advance
        self.offset = 0  # of the next byte to hand out, in the file
        self.buffer = b""
        self.at = 0  # of the next byte to hand out, in the buffer

    def cut(self, what: str) -> ModelError:
        return ModelError(f"{self.name} is cut off: it ends at byte {self.offset:,}, inside "
                          f"{what} (an interrupted download?)")

    def _more(self, what: str) -> None:
        chunk = self.stream.read(1 << 20)
        if not chunk:
            self.offset += len(self.buffer) - self.at
            raise self.cut(what)
        self.buffer = self.buffer[self.at:] + chunk
        self.at = 0

    def take(self, size: int, what: str) -> bytes:
        while len(self.buffer) - self.at < size:
            self._more(what)
        out = self.buffer[self.at:self.at + size]
        self.at += size
        self.offset += size
        self.advance(size)
        return out

    def word(self, number: int) -> bytes:
        """One NUL-terminated word (its bytes)."""
        while True:
            end = self.buffer.find(b"\0", self.at)
            if end >= 0:
                return self.take(end + 1 - self.at, f"word {number + 1:,}")[:-1]
            if len(self.buffer) - self.at > _MAX_WORD:
                raise ModelError(f"{self.name}: word {number + 1:,} of the dictionary is longer "
                                 f"than {_MAX_WORD:,} bytes: the file is damaged")
            self._more(f"word {number + 1:,} of the dictionary")

    def into(self, array: Any, what: str) -> None:
        """Fill ``array`` (C-contiguous) from the stream."""
        view = memoryview(array).cast("B")
        done = min(len(self.buffer) - self.at, len(view))
        view[:done] = self.buffer[self.at:self.at + done]
        self.at += done
        self.advance(done)
        while done < len(view):
            got = self.stream.readinto(view[done:done + (1 << 24)])  # type: ignore[attr-defined]
            if not got:
                self.offset += done
                raise self.cut(what)
            done += got
            self.advance(got)
        self.offset += len(view)

    def rest(self) -> int:
        """Bytes left after what was read."""
        left = len(self.buffer) - self.at
        self.buffer, self.at = b"", 0
        while True:
            chunk = self.stream.read(1 << 20)
            if not chunk:
                return left
            left += len(chunk)


def looks_like(head: bytes) -> bool:
    """Whether a file's first bytes are a fastText binary's (magic, then version)."""
    return head[:4] == MAGIC_BYTES


def read(stream: IO[bytes], name: str, *, limit: int | None = None,
         unicode_errors: str = "strict", advance: Callable[[int], None] = lambda _n: None,
         words_only: bool = False) -> FastTextFile:
    """Read a fastText binary from ``stream`` (see the module's docstring). With
    ``words_only`` the word rows are left as the file has them (the caller then calls
    :func:`add_ngrams`, with progress of its own)."""
    import numpy as np

    r = _Reader(stream, name, advance)
    magic, version = struct.unpack("<2i", r.take(8, "the header"))
    if magic != MAGIC:
        raise ModelError(f"{name} is not a fastText binary (it does not start with "
                         "fastText's magic number)")
    if version > VERSION:
        raise ModelError(f"{name} is a fastText binary of version {version}, newer than the "
                         f"{VERSION} embedcli reads")
    (dim, _ws, _epoch, _min_count, _neg, _word_ngrams, _loss, _model, bucket, minn, maxn,
     _lr, _t) = _ARGS.unpack(r.take(_ARGS.size, "the header"))
    size, nwords, nlabels, _ntokens, pruneidx = _DICT.unpack(r.take(_DICT.size,
                                                                    "the dictionary"))
    if not (1 <= dim <= 1 << 20) or bucket < 0 or size < 0 or nwords < 0 or nlabels < 0 \
            or nwords + nlabels != size or pruneidx < -1:
        raise ModelError(f"{name} is damaged: its header is not that of a fastText model "
                         f"({dim:,} dimensions, {nwords:,} words, {nlabels:,} labels, "
                         f"{bucket:,} buckets)")
    if nlabels:
        raise ModelError(f"{name} is a supervised fastText model (a classifier with "
                         f"{nlabels:,} labels), not word vectors")
    if pruneidx > 0:
        raise ModelError(f"{name} is a quantised fastText model (.ftz), which embedcli does "
                         "not read; use the full .bin")
    words: list[str] = []
    for i in range(size):
        raw = r.word(i)
        try:
            words.append(raw.decode("utf-8", unicode_errors))
        except UnicodeDecodeError as exc:
            raise ModelError(f"{name}: word {i + 1:,} of the dictionary is not UTF-8 (byte "
                             f"{exc.start} of {raw!r}); --unicode-errors replace reads on"
                             ) from None
        r.take(_ENTRY_TAIL, f"entry {i + 1:,} of the dictionary")
    quantised, rows, cols = _MATRIX.unpack(r.take(_MATRIX.size, "the input matrix's header"))
    if quantised:
        raise ModelError(f"{name} is a quantised fastText model (.ftz), which embedcli does "
                         "not read; use the full .bin")
    if rows != nwords + bucket or cols != dim:
        raise ModelError(f"{name} is damaged: its input matrix is {rows:,} x {cols:,}, but "
                         f"its header says {nwords:,} words and {bucket:,} buckets of "
                         f"{dim:,} dimensions")
    try:
        matrix = np.empty((rows, cols), dtype=np.float32)
    except (MemoryError, ValueError):
        raise ModelError(f"not enough memory to read {name} ({rows:,} x {cols:,})") from None
    r.into(matrix, "the input matrix")
    _quantised, out_rows, out_cols = _MATRIX.unpack(r.take(_MATRIX.size,
                                                           "the output matrix's header"))
    left = r.rest()
    wanted = out_rows * out_cols * 4
    if out_rows < 0 or out_cols != dim or left < wanted:
        raise ModelError(f"{name} is cut off or damaged: its output matrix should hold "
                         f"{max(wanted, 0):,} bytes, and {left:,} are left")
    notes = []
    if left > wanted:
        notes.append(f"{left - wanted:,} bytes after the model's end are ignored")
    settings = Settings(minn, maxn, bucket)
    vectors, ngrams = matrix[:nwords], matrix[nwords:]
    if limit:
        words, vectors = words[:limit], vectors[:limit]
    if bucket and not words_only:
        add_ngrams(vectors, ngrams, words, settings)
    return FastTextFile(words, vectors, ngrams, settings, notes)


def add_ngrams(vectors: Any, ngrams: Any, words: list[str], settings: Settings,
               advance: Callable[[int], None] = lambda _n: None) -> None:
    """Turn each word row into the word's vector, in place, a block of words at a time:
    (its row + its n-grams' rows) / (number of n-grams + 1), gensim's ``adjust_vectors``.
    A word's n-gram rows are embedcli.subwords' (the tests check them against gensim's
    ``ft_ngram_hashes``)."""
    import numpy as np

    for start in range(0, len(words), _BLOCK_WORDS):
        block = words[start:start + _BLOCK_WORDS]
        found = [ngram_hashes(w, settings.minn, settings.maxn, settings.bucket) for w in block]
        counts = np.fromiter((len(h) for h in found), dtype=np.intp, count=len(found))
        width = int(counts.max()) if len(counts) else 0
        if not width:
            advance(len(block))
            continue
        table = np.full((len(block), width), -1, dtype=np.intp)  # row k: word k's n-grams
        table[np.arange(width) < counts[:, None]] = np.fromiter(
            (x for h in found for x in h), dtype=np.intp, count=int(counts.sum()))
        # float32 sums in gensim's order: the word's row, then each n-gram's in turn
        sums = np.array(vectors[start:start + len(block)], dtype=np.float32)
        for k in range(width):
            has = np.flatnonzero(table[:, k] >= 0)
            sums[has] += ngrams[table[has, k]]
        sums /= (counts + 1).astype(np.float32)[:, None]
        vectors[start:start + len(block)] = sums
        advance(len(block))
