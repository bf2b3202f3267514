"""Reading vector files into words and a float32 matrix, as gensim would read them, right.

Formats are told apart by content, not by the file's name:

* GloVe text (no header), word2vec / fastText text (``COUNT DIM`` header): read by
  TextReader, a block of 8 MiB at a time: pyarrow's CSV parser (C++, on every core)
  takes a block of plain lines, the careful reader below any other, line by line, in
  file order; the values are those gensim's ``load_word2vec_format`` gives (a number
  parsed as float64, then rounded to float32), and what gensim gets wrong it gets right
  (a byte-order mark glued to the first word, the ``None`` key and zero row it leaves
  for a duplicate word, tokens with spaces as in glove.840B, a line with one number
  that gensim repeats across the row, a header that over- or under-counts);
* word2vec binary: its records, walked in Python and copied into the matrix;
* Facebook's fastText binary (``cc.en.300.bin``; its magic number): ``fasttext_bin.py``
  reads the words, their vectors and the n-gram buckets (``VectorSet.subwords``);
* gensim saves (``KeyedVectors.save``, ``Word2Vec``/``FastText`` ``.model``): pickles, read
  by gensim only when the caller trusts the file;
* gzip and bz2 compression of any of these, and members of a zip archive
  (``glove.6B.zip:glove.6B.100d.txt``).

Before a file is read, one quick pass checks it (``scan_text``, ``scan_binary``) and
counts its records, so that the matrix is allocated once, for the records the file
holds (never for what a header claims): it names the file, line and byte of anything
no reader can accept, and says what in it gensim would misread. Every fault of the file
itself, whatever the layer it shows in (a gzip stream cut off, a bad zip CRC, an I/O
error, a line of a gigabyte, a FIFO that would block) ends as a ModelError naming the
file; only a bug in embedcli ends otherwise. Every reader ends in ``_finish``: the
header's count checked, duplicates dropped (the first kept), NaN, infinite and
unmeasurable vectors zeroed, each with a note.

This module and ``models.py`` are the only ones that import gensim and pyarrow, always
lazily.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from embedcli.errors import ModelError
from embedcli.sources import Location, ReadOptions, VectorSet, Words
from embedcli.subwords import Settings

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 22
# The longest text line (or binary record) accepted: 4 MiB. A line of 300 float32 values
# takes about 3-4 KB, one of 100,000 about 1 MB; a longer line is damage or no vector
# file at all, and is an error naming it (instead of minutes spent gathering it).
MAX_LINE = 1 << 22
MAX_DIM = MAX_LINE // 4  # a binary record holds 4 bytes per value
# A vector whose squared length float32 cannot hold (over half its largest value), or
# whose largest value squares to less than float32's smallest normal number, has no
# usable length: it is set to zero, as NaN and infinite vectors are.
_LONGEST_SQUARE = float(np.finfo(np.float32).max) / 2
_SHORTEST_PEAK = float(np.sqrt(np.finfo(np.float32).tiny))
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEADER = re.compile(rb"[+-]?\d+")
_GENSIM_LINE = re.compile(rb"\S+(?: \S+)*\s*")  # fields gensim splits as we do
_NEWLINES_AFTER_SPACE = re.compile(" \n+")  # the newlines a binary file's word starts with


Advance = Callable[[int], None]


# --------------------------------------------------------------------------- opening


_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: Path) -> None:
    """Refuse, before anything opens it, a path that is not a regular file (or a link to
    one): opening a FIFO for reading blocks until a writer comes, a device never ends, and
    a model is read more than once."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ModelError(f"model file not found: {path}") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
    if kind == "a directory":
        raise ModelError(f"model path is a directory, not a vector file: {path}")
    raise ModelError(f"model path {path} is {kind}, not a regular file: embedcli reads a model "
                     "from a file (save the vectors to one first)")


def compression_of(path: Path) -> str | None:
    check_regular_file(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"\x1f\x8b"):
        return "gzip"
    if magic.startswith(b"BZh"):
        return "bz2"
    if magic.startswith(b"PK\x03\x04"):
        return "zip"
    return None


@contextmanager
def faults_named(location: Location | str) -> Iterator[None]:
    """Turn what a damaged or unreadable file raises, from any layer (gzip, bz2, zipfile,
    the operating system), into a ModelError naming the file."""
    try:
        yield
    except (ModelError, BrokenPipeError):
        raise
    except EOFError:  # gzip, bz2 and zipfile: the compressed stream ends before its end
        raise ModelError(f"{location} is cut off: its compressed data ends before its end "
                         "marker (an interrupted download?)") from None
    except zipfile.BadZipFile as exc:
        what = ("it looks like a zip archive, but is none (or a damaged one)"
                if "not a zip file" in str(exc) else "the zip archive is damaged")
        raise ModelError(f"cannot read {location}: {what} ({exc})") from None
    except zlib.error as exc:
        raise ModelError(f"cannot read {location}: its compressed data is corrupt "
                         f"({exc})") from None
    except OSError as exc:
        if exc.errno is None:  # gzip.BadGzipFile, bz2's "Invalid data stream": the data
            raise ModelError(f"cannot read {location}: its compressed data is corrupt "
                             f"({exc})") from None
        raise ModelError(f"cannot read {location}: {exc.strerror or exc}") from None
    except MemoryError:
        raise ModelError(f"not enough memory to read {location}") from None


def _member_info(archive: zipfile.ZipFile, location: Location) -> zipfile.ZipInfo:
    try:
        return archive.getinfo(location.member or "")
    except KeyError:
        names = ", ".join(n for n in archive.namelist() if not n.endswith("/"))
        raise ModelError(f"{location.path} has no member '{location.member}' "
                         f"(it holds: {names})") from None


@contextmanager
def open_stream(location: Location) -> Iterator[IO[bytes]]:
    """The decompressed bytes of a file or zip member."""
    kind = compression_of(location.path)
    if location.member is not None:
        if kind != "zip":
            raise ModelError(f"{location.path} is not a zip archive, so it has no member "
                             f"'{location.member}'")
        with zipfile.ZipFile(location.path) as archive:
            try:
                member = archive.open(_member_info(archive, location))
            except (NotImplementedError, RuntimeError) as exc:  # a method zipfile lacks,
                # or a member that needs a password
                raise ModelError(f"cannot read {location}: {exc}") from None
            with member:
                yield member
        return
    if kind == "zip":
        with zipfile.ZipFile(location.path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
        raise ModelError(f"{location.path} is a zip archive: name the file inside it, "
                         f"e.g. {location.path}:{names[0] if names else 'FILE'}")
    openers: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open}
    opener = openers.get(kind or "", open)
    with opener(location.path, "rb") as stream:
        yield stream


def total_size(location: Location) -> int:
    """Bytes the reader will see (uncompressed size of a zip member, else the file size)."""
    with faults_named(location):
        if location.member is not None:
            with zipfile.ZipFile(location.path) as archive:
                return _member_info(archive, location).file_size
        return location.path.stat().st_size


# --------------------------------------------------------------------------- detecting


@dataclass(frozen=True)
class Detected:
    kind: str  # "glove", "word2vec-text", "word2vec-binary", "gensim-save", "fasttext-binary"
    header: tuple[int, int] | None = None


def detect(location: Location) -> Detected:
    """Tell the formats apart by their first bytes."""
    with faults_named(location):
        return _detect(location)


def _detect(location: Location) -> Detected:
    from embedcli import fasttext_bin

    with open_stream(location) as stream:
        head = stream.read(1 << 16)
        first_line_end = head.find(b"\n")
        first = head if first_line_end < 0 else head[:first_line_end]
        if len(first) >= len(head) and len(head) == 1 << 16:
            first += stream.readline(1 << 20)
    if not head.strip():
        raise ModelError(f"model file {location} is empty")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return Detected("gensim-save")
    if fasttext_bin.looks_like(head):
        return Detected("fasttext-binary")
    if first.startswith(_BOM):
        first = first[len(_BOM):]
    fields = first.split()
    if len(fields) == 2 and all(_HEADER.fullmatch(f) for f in fields):
        count, dim = int(fields[0]), int(fields[1])
        if count < 0 or not 1 <= dim <= MAX_DIM:
            what = ("a count below zero" if count < 0 else
                    f"{dim:,} dimensions, where a model has 1 to {MAX_DIM:,}")
            raise ModelError(f"line 1 of {location}, '{first.strip().decode()}', is no "
                             f"'COUNT DIM' header: it says {what}")
        rest = head[first_line_end + 1:] if first_line_end >= 0 else b""
        return Detected("word2vec-text" if _looks_like_text(rest, dim) else "word2vec-binary",
                        (count, dim))
    try:
        [float(x) for x in fields[-2:]]
    except ValueError:
        raise ModelError(f"{location} is not a vector file embedcli knows: its first line is "
                         "neither a 'COUNT DIM' header nor a word followed by numbers") from None
    if len(fields) < 2:
        raise ModelError(f"{location} is not a vector file (line 1 has only one field)")
    return Detected("glove")


def _looks_like_text(rest: bytes, dim: int) -> bool:
    """Whether the line after a header is text: a word and numbers (DIM of them, or not:
    a text file whose header has the wrong dimension is still text, and its lines are
    then named by scan_text). Binary float32 values are no such line."""
    if not rest.strip():
        return True  # a header alone: no words, whatever the format
    line = next(line for line in rest.split(b"\n") if line.strip())
    try:
        parts = line.decode("utf-8").split()
    except UnicodeDecodeError:
        return False
    candidates = [parts[1:]] if len(parts) < dim + 1 else [parts[-dim:], parts[1:]]
    return any(numbers and all(_is_float(x) for x in numbers) for numbers in candidates)


def _is_float(text: str | bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- reading


def read(location: Location, options: ReadOptions, reporter: Any) -> VectorSet:
    """Read any supported file, with progress (bytes read) through ``reporter``."""
    with faults_named(location):
        return _read(location, options, reporter)


def _read(location: Location, options: ReadOptions, reporter: Any) -> VectorSet:
    detected = detect(location)
    if detected.kind == "gensim-save":
        return _read_gensim_save(location, options)
    if detected.kind == "fasttext-binary":
        return _read_fasttext_binary(location, options, reporter)
    size = total_size(location)
    binary = detected.kind == "word2vec-binary"
    if binary and (location.member is not None or compression_of(location.path) is None):
        # one pass: the matrix is allocated for the header's count, or for the most
        # records the stream's size can hold if that is fewer (it grows if the header
        # under-counts); only the pages the records fill are ever touched
        count, dim = detected.header if detected.header else (0, 1)
        bound = size // (1 + 4 * max(1, dim)) + 1
        with reporter.progress(f"reading {location.name}", size, "bytes") as adv:
            with _counting(open_stream(location), adv) as stream:
                return read_binary(stream, str(location), detected, options,
                                   rows=min(bound, count) if count > 0 else bound,
                                   on_walked=lambda s: _note_irregular(reporter, location, s))
    scan, own = (scan_binary, read_binary) if binary else (scan_text, read_text)
    with reporter.progress(f"checking {location.name}", size, "bytes") as adv:
        with _counting(open_stream(location), adv) as stream:
            scanned = scan(stream, str(location), detected, options)
    _note_irregular(reporter, location, scanned)
    with reporter.progress(f"reading {location.name}", size, "bytes") as adv:
        with _counting(open_stream(location), adv) as stream:
            if binary:
                return read_binary(stream, str(location), detected, options,
                                   rows=scanned.records)
            return read_text(stream, str(location), detected, options, rows=scanned.records)


def _note_irregular(reporter: Any, location: Location, scanned: Scanned) -> None:
    if scanned.irregular:
        reporter.note(f"gensim would misread {location.name} ({scanned.irregular}); embedcli "
                      "reads it as it is")


class _Rows:
    """The float32 matrix a reader fills in file order: allocated once, for the records a
    checking pass counted or an estimate of them (pages never filled are never touched,
    so they cost no memory), and grown, by a copy, only if there are more."""

    def __init__(self, expected: int | None):
        self._expected = expected or 0
        self._array: np.ndarray | None = None
        self.count = 0

    def room(self, dim: int, rows: int) -> np.ndarray:
        """The next ``rows`` rows, to be filled by the caller; counted as filled."""
        need = self.count + rows
        if self._array is None:
            self._array = np.empty((max(self._expected, need), dim), dtype=np.float32)
        elif need > len(self._array):
            grown = np.empty((max(need, len(self._array) * 2), dim), dtype=np.float32)
            grown[: self.count] = self._array[: self.count]
            self._array = grown
        start, self.count = self.count, need
        return self._array[start:need]

    def add(self, values: np.ndarray) -> None:
        with np.errstate(over="ignore"):  # 1e39: infinite in float32, zeroed by _finish
            self.room(values.shape[1], len(values))[...] = values

    def result(self, dim: int) -> np.ndarray:
        if self._array is None:
            return np.zeros((0, dim), dtype=np.float32)
        return self._array[: self.count]


class _Lines:
    """The lines of a text stream (without their newline), a block at a time, in time
    linear in the stream: a line that spans chunks is gathered once, not copied again
    with every chunk, and a line longer than MAX_LINE is an error naming it.

    After the iteration, ``tail`` holds what followed the last newline (b"" if nothing).
    """

    def __init__(self, stream: IO[bytes], name: str, chunk: int = _CHUNK):
        self._stream = stream
        self._name = name
        self._chunk = chunk
        self.tail = b""
        self.count = 0  # lines yielded so far
        self._before = 0

    def __iter__(self) -> Iterator[tuple[list[bytes], bytes]]:
        """Blocks of (lines, the bytes they were split from)."""
        for data, lines in self._blocks(split=True):
            yield lines, data

    def blocks(self) -> Iterator[tuple[bytes, int]]:
        """Blocks of (whole lines, each without its last newline; how many lines)."""
        for data, _ in self._blocks(split=False):
            yield data, self.count - self._before

    def _blocks(self, split: bool) -> Iterator[tuple[bytes, list[bytes]]]:
        parts: list[bytes] = []  # the line under way, in pieces
        size = 0
        while True:
            chunk = self._stream.read(self._chunk)
            if not chunk:
                break
            last = chunk.rfind(b"\n")
            if last < 0:
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_LINE:
                    self._too_long(self.count + 1)
                continue
            if parts:
                parts.append(chunk[:last])
                data = b"".join(parts)
            else:
                data = chunk[:last]
            lines: list[bytes] = []
            self._before = self.count
            if split:
                lines = data.split(b"\n")
                if len(data) > MAX_LINE:
                    lengths = list(map(len, lines))
                    longest = max(lengths)
                    if longest > MAX_LINE:
                        self._too_long(self.count + lengths.index(longest) + 1)
                self.count += len(lines)
            else:
                self.count += self._walk(data)
            rest = chunk[last + 1:]
            chunk = b""  # not held while the block is read
            parts, size = ([rest], len(rest)) if rest else ([], 0)
            yield data, lines
        self.tail = b"".join(parts)

    def _walk(self, data: bytes) -> int:
        """The lines in ``data``, each checked against MAX_LINE (in C, a line at a time:
        faster than bytes.count, and without a copy of the block as split makes)."""
        start = 0
        k = 0
        while True:
            end = data.find(b"\n", start, start + MAX_LINE + 1)
            if end < 0:
                if len(data) - start > MAX_LINE:
                    self._too_long(self.count + k + 1)
                return k + 1
            start = end + 1
            k += 1

    def _too_long(self, line_no: int) -> None:
        raise ModelError(f"line {line_no:,} of {self._name} is longer than "
                         f"{MAX_LINE >> 20} MiB (a line of 300 numbers takes about 3 KB): it "
                         "is no vector file, or it is damaged")


@dataclass(frozen=True)
class Scanned:
    """What the checking pass found: the records the reader will read (up to the limit)
    and, if any, what in the file gensim's reader would misread."""

    records: int
    irregular: str | None = None


def scan_text(stream: IO[bytes], name: str, detected: Detected,
              options: ReadOptions) -> Scanned:
    """Check a text file's lines before parsing any number: a quick pass.

    Raises ModelError for what no reader can accept: a line with too few fields, invalid
    UTF-8 in strict mode, a line longer than MAX_LINE, and lines that disagree with the
    dimension (from the header, or from the first line): a line with more fields than a
    word and DIM numbers holds a word with spaces (glove.840B's ``. . .``) only if its
    would-be word does not end in a number, and only if most lines do not.

    Returns the lines to read and why gensim's text reader would misread the file (it keeps
    a byte-order mark inside the first word, broadcasts a line's lone number across the
    vector, fails on tokens with spaces, trusts the header's count), if it would.
    """
    header = detected.header
    dim = header[1] if header else 0
    dim_line = 0  # the line the dimension was taken from (0: the header)
    reasons: list[str] = []
    line_no = 0
    offset = 0
    words = 0
    spaced = 0  # lines whose word holds spaces
    irregular = False  # a line gensim would split otherwise
    first_spaced = (0, 0)  # (line, fields) of the first
    limit = options.limit or 0
    lines = _Lines(stream, name)
    done = False
    for block, data in lines:
        alike = _split_alike(data)
        for raw in block:
            line_no += 1
            start = offset
            offset += len(raw) + 1
            if line_no == 1:
                if raw.startswith(_BOM):
                    reasons.append("a byte-order mark before the first word")
                    raw = raw[len(_BOM):]
                    start += len(_BOM)
                if header:
                    continue
            # Our reader splits a line at any white space, gensim at each single space
            # (once the line's end is stripped). Where the quick count of spaces says a
            # word and DIM numbers, with no space at the line's start and at most one at
            # its end, both split the line alike (a run of spaces that hides a missing
            # field makes gensim fail on the empty field: our reader then names it);
            # other lines are split as our reader splits them, and one that gensim would
            # split otherwise is read by our reader.
            quick = False
            if dim and alike and raw[:1] != b" ":
                spaces = raw.count(b" ")
                quick = (spaces == dim and raw[-1:] != b" " or
                         spaces == dim + 1 and raw[-1:] == b" " and raw[-2:-1] != b" ")
            fields = dim + 1 if quick else len(raw.split())
            if fields == 0:
                if not any(r.startswith("blank") for r in reasons):
                    reasons.append(f"blank line {line_no}")
                continue
            if dim == 0:
                dim, dim_line = fields - 1, line_no
                if dim < 1:
                    raise ModelError(f"line {line_no} of {name} has no numbers after the word")
            if not quick and not irregular and fields == dim + 1 and \
                    not _GENSIM_LINE.fullmatch(raw):
                irregular = True
                reasons.append(f"tabs or runs of spaces between fields, as on line {line_no}")
            if fields < dim + 1:
                if header and not words:  # the first line after it: the header is wrong
                    raise ModelError(_dimension_disagrees(name, line_no, fields, dim, 0))
                raise ModelError(f"line {line_no} of {name} has {fields} fields; expected a "
                                 f"word and {dim} numbers")
            if fields > dim + 1:
                word = raw.rsplit(None, dim)[0]
                if _NUMBER.fullmatch(word.rsplit(None, 1)[-1]):
                    raise ModelError(_dimension_disagrees(name, line_no, fields, dim, dim_line))
                spaced += 1
                if spaced == 1:
                    first_spaced = (line_no, fields)
                    reasons.append(f"words with spaces, as on line {line_no}")
            else:
                word = raw[: raw.find(b" ")] if quick else raw.split(None, 1)[0]
            try:
                word.decode("utf-8", options.unicode_errors)
            except UnicodeDecodeError as exc:
                raise ModelError(
                    f"invalid UTF-8 at byte {start + exc.start:,} (line {line_no}) of {name}; "
                    "use --unicode-errors replace to read on") from None
            words += 1
            if limit and words >= limit:
                done = True
                break
        if done:
            break
    if not done and lines.tail.strip():  # the last line has no newline: left out (read_text)
        reasons.append("the last line has no newline: the file looks cut off")
    if spaced * 2 > max(words, 2):
        source = f"line {dim_line}" if dim_line else "the header"
        raise ModelError(
            f"cannot read {name}: {spaced:,} of its {words:,} lines have more fields than a "
            f"word and {dim} numbers (the dimension, from {source}), as line "
            f"{first_spaced[0]:,} does ({first_spaced[1]} fields): the dimension is wrong, "
            "or this is no GloVe or word2vec file")
    if header:
        expected = min(header[0], limit) if limit else header[0]
        if words != expected:
            real = f"{words:,}" if not limit or words < limit else "more"
            reasons.append(f"the header says {header[0]:,} words but the file has {real}")
    return Scanned(words, "; ".join(reasons) or None)


def _split_alike(data: bytes) -> bool:
    """Whether the white space in ``data`` is spaces and newlines only (CRs only before a
    newline, with no space before them), so that a count of spaces can tell how gensim
    and our reader split each line. Checked for a whole block at once, at memchr speed."""
    if b"\t" in data or b"\x0b" in data or b"\x0c" in data:
        return False
    crs = data.count(b"\r")
    return not crs or (crs == data.count(b"\r\n") + data.endswith(b"\r")
                       and b" \r" not in data)


def _dimension_disagrees(name: str, line_no: int, fields: int, dim: int, dim_line: int) -> str:
    said = (f"line {dim_line} has a word and {dim}" if dim_line
            else f"its header says {dim} dimensions")
    return (f"cannot read {name}: line {line_no:,} has a word and {fields - 1} numbers, but "
            f"{said} (numbers missing or extra, or a wrong dimension)")


# --------------------------------------------------------------------------- binary word2vec


class _Records:
    """The records of a word2vec binary stream, walked as gensim walks them: a header
    line, then for each word its bytes up to a space (a newline before it, as the C tool
    writes, is dropped) and DIM float32 values. Yields blocks of words; when ``rows`` is
    given, their vectors are copied into it, record by record, straight from the bytes
    read.

    A record that does not end before the stream does (the file is cut off, or its
    header's dimension is wrong), a word longer than MAX_LINE and invalid UTF-8 in strict
    mode are errors naming the file and the byte. ``count`` is the records walked, and
    ``bom`` whether a byte-order mark came before the header.
    """

    def __init__(self, stream: IO[bytes], name: str, detected: Detected,
                 options: ReadOptions, rows: _Rows | None = None):
        self._stream = stream
        self._name = name
        self._dim = self.dim = detected.header[1] if detected.header else 0
        self._options = options
        self._rows = rows
        self.count = 0
        self.bom = False

    def __iter__(self) -> Iterator[_Spaced]:
        name, dim = self._name, self._dim
        limit = self._options.limit or 0
        size = dim * 4
        buf = self._stream.read(_CHUNK)
        self.bom = buf.startswith(_BOM)
        while b"\n" not in buf[:MAX_LINE]:
            more = self._stream.read(_CHUNK)
            if not more or len(buf) > MAX_LINE:
                raise ModelError(f"{name}: its header line has no end")
            buf += more
        pos = buf.index(b"\n") + 1
        base = 0  # the stream's offset of buf[0]
        while True:
            words: list[bytes] = []
            begins: list[int] = []  # where each word's DIM values begin in buf
            end = len(buf)
            find, add_word, add_begin = buf.find, words.append, begins.append
            stop = False
            while True:
                space = find(b" ", pos, pos + MAX_LINE + 1)
                if space < 0 or space + 1 + size > end:
                    break
                add_word(buf[pos:space])
                pos = space + 1 + size
                add_begin(space + 1)
                if limit and self.count + len(words) >= limit:
                    stop = True
                    break
            if space < 0 and end - pos > MAX_LINE:
                raise ModelError(f"cannot read {name} as a word2vec binary file: the word at "
                                 f"byte {base + pos:,} is longer than {MAX_LINE >> 20} MiB")
            decoded = self._decode(words, begins, base)
            if self._rows is not None and words:
                self._copy(buf, begins, size)
            self.count += len(words)
            yield decoded
            if stop:
                return
            chunk = self._stream.read(_CHUNK)
            if not chunk:
                break
            base += pos
            buf = buf[pos:] + chunk
            pos = 0
        if buf[pos:].strip():
            raise ModelError(
                f"cannot read {name} as a word2vec binary file: it ends in the middle of "
                f"record {self.count + 1:,} (byte {base + pos:,}): it looks truncated, or its "
                f"header's dimension ({dim:,}) is wrong")

    def _copy(self, buf: bytes, begins: list[int], size: int) -> None:
        assert self._rows is not None
        room = self._rows.room(self._dim, len(begins))
        with room.reshape(-1).view(np.uint8).data as target, memoryview(buf) as source:
            at = 0
            for begin in begins:
                target[at:at + size] = source[begin:begin + size]
                at += size

    def _decode(self, words: list[bytes], begins: list[int], base: int) -> _Spaced:
        """The words as text, each without the newlines before it (the C tool writes one
        after each vector). Decoded as one text: no word holds a space, and decoding
        makes a space of nothing but a space, so splitting the text at its spaces gives
        each word's own decoding."""
        errors = self._options.unicode_errors
        try:
            text = b" ".join(words).decode("utf-8", errors)
        except UnicodeDecodeError:
            self._undecodable(words, begins, base)
        if "\n" in text:
            text = _NEWLINES_AFTER_SPACE.sub(" ", " " + text)[1:]
        return _Spaced(text, len(words))

    def _undecodable(self, words: list[bytes], begins: list[int], base: int) -> NoReturn:
        for k, (w, begin) in enumerate(zip(words, begins)):
            stripped = w.lstrip(b"\n")
            try:
                stripped.decode("utf-8", self._options.unicode_errors)
            except UnicodeDecodeError as exc:
                at = base + begin - 1 - len(stripped) + exc.start
                raise ModelError(
                    f"invalid UTF-8 at byte {at:,} (word {self.count + k + 1:,}) of "
                    f"{self._name} (or its header's dimension, {self._dim:,}, is wrong); "
                    "use --unicode-errors replace to read on") from None
        raise AssertionError("unreachable")  # pragma: no cover


class _Spaced:
    """A block of words as one text, separated by spaces (which no word of a word2vec
    binary file holds): one string for thousands of words, split when they are used
    (a block of sources.Words)."""

    def __init__(self, text: str, count: int) -> None:
        self.text, self._count = text, count

    def __len__(self) -> int:
        return self._count

    def to_pylist(self) -> list[str]:
        return self.text.split(" ") if self._count else []

    def __getitem__(self, index: int) -> str:
        return self.to_pylist()[index]


def scan_binary(stream: IO[bytes], name: str, detected: Detected,
                options: ReadOptions) -> Scanned:
    """Walk a word2vec binary file's records (as gensim would) before reading them, where
    its size does not bound them (a compressed stream): errors as _Records says."""
    records = _Records(stream, name, detected, options)
    for _ in records:
        pass
    return _binary_scanned(records, detected, options)


def _binary_scanned(records: _Records, detected: Detected, options: ReadOptions) -> Scanned:
    """The records walked, and why gensim would misread the file (a byte-order mark, or a
    header that over- or under-counts: gensim keeps only the counted words, or fails)."""
    reasons = ["a byte-order mark before the header"] if records.bom else []
    count = detected.header[0] if detected.header else 0
    limit = options.limit or 0
    expected = min(count, limit) if limit else count
    if records.count != expected:
        real = f"{records.count:,}" if not limit or records.count < limit else "more"
        reasons.append(f"the header says {count:,} words but the file has {real}")
    return Scanned(records.count, "; ".join(reasons) or None)


def read_binary(stream: IO[bytes], name: str, detected: Detected, options: ReadOptions, *,
                rows: int | None = None,
                on_walked: Callable[[Scanned], None] | None = None) -> VectorSet:
    """Read every complete record of a word2vec binary file, whatever its header's count,
    into one matrix (of ``rows``: the records a checking pass counted, or an estimate).
    Without a checking pass, ``on_walked`` is told what _binary_scanned says of the
    records once they are all walked, before the last checks (which may fail)."""
    matrix = _Rows(rows)
    records = _Records(stream, name, detected, options, matrix)
    words = Words()
    for block in records:
        words.add(block)
    if on_walked is not None:
        on_walked(_binary_scanned(records, detected, options))
    if not words:
        raise ModelError(f"{name} holds no vectors")
    count = detected.header[0] if detected.header else 0
    return _finish(words, matrix.result(records.dim), [], name,
                   header_count=None if options.limit else count)


# --------------------------------------------------------------------------- gensim saves


def untrusted(location: Location) -> ModelError:
    """The error of a gensim save read without --trust."""
    return ModelError(
        f"{location} is a gensim save (a pickle): loading it runs code stored in the file. "
        "If you trust it, run again with --trust (or register it: embedcli models add "
        "NAME PATH --trust)")


def _read_gensim_save(location: Location, options: ReadOptions) -> VectorSet:
    if not options.trust:
        raise untrusted(location)
    if location.member is not None:
        raise ModelError("a gensim save cannot be read from inside a zip archive; extract it")
    from gensim.utils import SaveLoad

    try:
        obj = SaveLoad.load(str(location.path))
    except Exception as exc:  # unpickling can raise anything the file's classes raise
        raise ModelError(f"cannot load the gensim save {location}: {exc}") from None
    kv = getattr(obj, "wv", obj)  # Word2Vec / FastText models keep their vectors in .wv
    if not hasattr(kv, "index_to_key") or not hasattr(kv, "vectors"):
        raise ModelError(f"{location} is a gensim save of a {type(obj).__name__}, which holds "
                         "no word vectors")
    words = [str(w) for w in kv.index_to_key]
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    if options.limit:
        words, vectors = words[: options.limit], vectors[: options.limit]
    vs = _finish(words, vectors, [], str(location))
    if int(getattr(kv, "bucket", 0) or 0) > 0 and getattr(kv, "vectors_ngrams", None) is not None:
        settings = Settings(int(kv.min_n), int(kv.max_n), int(kv.bucket))  # a FastText save
        _with_subwords(vs, settings, np.asarray(kv.vectors_ngrams, dtype=np.float32))
    return vs


def _read_fasttext_binary(location: Location, options: ReadOptions, reporter: Any) -> VectorSet:
    """A Facebook fastText binary (cc.en.300.bin): embedcli.fasttext_bin reads it, and
    embedcli.subwords hashes the n-grams (gensim's compiled hashing is about twice as
    fast, but importing gensim costs some 80 MB, which a conversion of cc.en.300's shape
    does not have to spare)."""
    from embedcli import fasttext_bin

    with reporter.progress(f"reading {location.name} (fastText)", total_size(location),
                           "bytes") as adv:
        with open_stream(location) as stream:
            found = fasttext_bin.read(stream, str(location), limit=options.limit,
                                      unicode_errors=options.unicode_errors, advance=adv,
                                      words_only=True)
    if found.settings.bucket > 0:
        with reporter.progress(f"adding the n-grams of {len(found.words):,} words",
                               len(found.words)) as adv:
            fasttext_bin.add_ngrams(found.vectors, found.ngrams, found.words, found.settings,
                                    advance=adv)
    vs = _finish(found.words, found.vectors, found.notes, str(location))
    if found.settings.bucket > 0 and found.settings.maxn > 0:
        _with_subwords(vs, found.settings, found.ngrams)
    return vs


def _with_subwords(vs: VectorSet, settings: Settings, ngrams: np.ndarray) -> None:
    """Attach a fastText model's n-gram buckets to what was read; rows holding NaN or
    infinity are set to zero (as word vectors are), with a note."""
    if ngrams.ndim != 2 or ngrams.shape != (settings.bucket, vs.vectors.shape[1]) \
            or not 1 <= settings.minn <= settings.maxn:
        vs.notes.append("its n-gram settings do not match its n-gram matrix, so words "
                        "outside the vocabulary get no vectors")
        return
    finite = _row_checks(ngrams)[0]
    bad = int((~finite).sum())
    if bad:
        if not ngrams.flags.writeable:
            ngrams = ngrams.copy()
        ngrams[~finite] = 0
        vs.notes.append(f"{bad:,} n-gram vectors hold NaN or infinity; they are set to zero")
    vs.subwords = (settings, ngrams)


def _repeated(words: Sequence[str]) -> np.ndarray:
    """The rows (ascending) whose word an earlier row holds too. Found by sorting the
    words' hashes, then comparing the words of equal hashes: a few arrays of the
    vocabulary's length, not a set of all its words (some 90 MB at 2.2 M words, held
    beside the matrix)."""
    hashes = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
    order = np.argsort(hashes, kind="stable")  # rows of equal hashes stay ascending
    hashes = hashes[order]
    ties = np.flatnonzero(hashes[1:] == hashes[:-1])
    del hashes
    runs: list[list[int]] = []  # positions in ``order`` of each run of equal hashes
    for k, tie in enumerate(ties.tolist()):
        if k == 0 or ties[k - 1] != tie - 1:
            runs.append([tie])
        runs[-1].append(tie + 1)
    rows = [order[run].tolist() for run in runs]
    tied = sorted(row for run in rows for row in run)
    text = dict(zip(tied, words.take(tied) if isinstance(words, Words)
                    else [words[row] for row in tied]))  # one walk over the blocks
    later: list[int] = []
    for run_rows in rows:
        seen: set[str] = set()
        for row in run_rows:
            if text[row] in seen:
                later.append(row)
            seen.add(text[row])
    return np.sort(np.array(later, dtype=np.int64))


def _dedupe(words: Sequence[str], vectors: np.ndarray,
            repeated: np.ndarray) -> tuple[list[str], np.ndarray]:
    keep_mask = np.ones(len(words), dtype=bool)
    keep_mask[repeated] = False
    keep = np.flatnonzero(keep_mask)
    kept = [w for w, k in zip(words, keep_mask.tolist()) if k]  # (one walk over Words)
    if not vectors.flags.writeable:
        return kept, vectors[keep]
    # moved up in place, a block at a time (row keep[i] >= i, so no row is overwritten
    # before it is moved), not copied whole
    for start in range(0, len(keep), _FINISH_ROWS):
        part = keep[start:start + _FINISH_ROWS]
        vectors[start:start + len(part)] = vectors[part]
    return kept, vectors[: len(keep)]


def _finish(words: Sequence[str], vectors: np.ndarray, notes: list[str], name: str, *,
            header_count: int | None = None) -> VectorSet:
    """Every reader's last step: the header's count checked against the words read (when
    given), duplicates dropped, then the shape, the words and the values checked."""
    if header_count is not None and header_count != len(words):
        notes.append(f"the header says {header_count:,} words but the file has "
                     f"{len(words):,}; read all {len(words):,}")
    repeated = _repeated(words)
    if len(repeated):
        notes.append(f"{len(repeated):,} duplicate words; kept the first of each")
        words, vectors = _dedupe(words, vectors, repeated)
    if not words:
        raise ModelError(f"{name} holds no vectors")
    if vectors.ndim != 2 or vectors.shape[0] != len(words) or vectors.shape[1] < 1:
        raise ModelError(f"{name} holds no vectors of one dimension for its words (read as "
                         f"{len(words):,} words and a {' x '.join(map(str, vectors.shape))} "
                         "matrix)")
    bad = [w for w in words if "\n" in w or "\r" in w]
    if bad:
        raise ModelError(f"{name}: the word {bad[0]!r} contains a line break")
    finite, unusable = _row_checks(vectors)
    if not finite.all():
        count = int((~finite).sum())
        vectors = vectors.copy() if not vectors.flags.writeable else vectors
        vectors[~finite] = 0
        notes.append(f"{count:,} vectors hold NaN or infinity; they are set to zero")
    if unusable.any():
        vectors = vectors.copy() if not vectors.flags.writeable else vectors
        vectors[unusable] = 0
        notes.append(f"{int(unusable.sum()):,} vectors have a length float32 cannot hold (it "
                     "overflows or underflows, as for values such as 1e30 or 1e-30 in every "
                     "dimension); they are set to zero")
    zero = int((~vectors.any(axis=1)).sum())
    if zero:
        notes.append(f"{zero:,} vectors are all zero: they are similar to nothing (score 0)")
    return VectorSet(words, vectors, notes)


_FINISH_ROWS = 1 << 16  # rows checked (or moved) at a time: no temporary of the whole matrix


def _row_checks(vectors: np.ndarray, block: int = _FINISH_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are finite, and which finite rows have a length that float32 cannot
    carry: the squared length overflows (then the length is infinite: the unit vector all
    zero, the raw one NaN), or the largest value's square underflows (the length comes
    out zero or imprecise, and the row "normalised" by it is no unit vector).

    One pass of float32 squared lengths, a block of rows at a time, with a margin of a
    factor two below the overflow. Only rows that it cannot clear are looked at again: a
    NaN or infinite value makes the squared length NaN or infinite, and a squared length
    of at least 2 * DIM * tiny means the largest value squares to at least tiny."""
    n, d = vectors.shape[0], (vectors.shape[1] if vectors.ndim == 2 else 0)
    finite = np.ones(n, dtype=bool)
    unusable = np.zeros(n, dtype=bool)
    tiny = float(np.finfo(np.float32).tiny)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for start in range(0, n, block):
            rows = np.asarray(vectors[start:start + block], dtype=np.float32)
            squares = np.einsum("ij,ij->i", rows, rows)
            odd = np.flatnonzero(~(squares < _LONGEST_SQUARE) | (squares < 2 * d * tiny))
            if not odd.size:
                continue
            these = rows[odd]
            ok = np.isfinite(these).all(axis=1)
            # the largest magnitude, without a temporary copy for abs()
            peak = (np.maximum(these.max(axis=1), -these.min(axis=1)) if d
                    else np.zeros(len(odd)))
            finite[start + odd] = ok
            unusable[start + odd] = ok & (~(squares[odd] < _LONGEST_SQUARE)
                                          | ((peak > 0) & (peak < _SHORTEST_PEAK)))
    return finite, unusable


# --------------------------------------------------------------------------- our text reader


# A block the fast parser takes holds no white space but spaces and newlines (pyarrow
# would keep a tab in a word, or skip it before a number), and pyarrow refuses what else
# the careful reader would split otherwise: a run of spaces or a blank line (an empty
# field, no number), a line that begins with a space (an empty word, checked below). Its
# lines are then split alike by pyarrow (at each space) and by the careful reader (at any
# white space), so both read the same word and the same DIM numbers.
_NOT_FAST = (b"\t", b"\r", b"\x0b", b"\x0c")
FAST_BLOCK = 1 << 23  # 8 MiB of text at a time (16 to 64: no faster, and more memory)


class TextReader:
    """GloVe or word2vec text, accepting what real files hold and naming what it cannot.

    * A line is a word and then DIM numbers; the word may itself hold spaces (glove.840B
      has such tokens), so the vector is the last DIM fields.
    * A byte-order mark, CRLF line ends and non-breaking spaces inside words are accepted.
    * Duplicate words: the first is kept. A header's count is only a hint.
    * Anything else (too few fields, a field that is not a number, invalid UTF-8) is an
      error naming the file, the line and, for UTF-8, the byte offset.

    The text comes a block of whole lines at a time (``FAST_BLOCK``). A block of plain
    lines (one word, single spaces, DIM numbers) is parsed by pyarrow's CSV reader, in C++
    on every core, numbers as float64 then cast to float32 (as numpy's and gensim's own
    parsing of a number does: the same float32, bit for bit); any block pyarrow refuses
    or that holds anything else (see ``_NOT_FAST``) is read line by line by the careful
    reader, whose rules and messages are the only ones. ``fast_lines`` and
    ``careful_lines`` count the lines each took.
    """

    def __init__(self, name: str, detected: Detected, options: ReadOptions, *,
                 rows: int | None = None, fast: bool = True):
        self._name = name
        self._header = detected.header
        self._options = options
        self._fast_allowed = fast
        self._rows = _Rows(rows)
        self.words = Words()
        self.dim = detected.header[1] if detected.header else 0
        self.line_no = 0
        self.offset = 0
        self.first = True
        self.done = False  # the limit is reached
        self.fast_lines = 0
        self.careful_lines = 0
        self._block_words: list[str] = []
        self._block_values: list[bytes] = []
        self._block_lines: list[int] = []  # the line of each word in the block

    def read(self, stream: IO[bytes]) -> VectorSet:
        lines = _Lines(stream, self._name, chunk=FAST_BLOCK if self._fast_allowed else _CHUNK)
        for data, count in lines.blocks():
            if self.first:  # the first line: a byte-order mark, or the header
                cut = data.find(b"\n")
                self._careful([data if cut < 0 else data[:cut]])
                data = b"" if cut < 0 else data[cut + 1:]
                count -= 1
            if count and not self.done and not (data and self._fast(data, count)):
                self._careful(data.split(b"\n"))
            if self.done:
                break
        if self.fast_lines:  # what pyarrow's allocator keeps for the next block: not needed
            import pyarrow as pa

            pa.default_memory_pool().release_unused()
        # GloVe and word2vec files end their lines with a newline: a last line without one
        # was cut off, and may hold a number cut short (0.78131 -> 0.78) that no count of
        # fields can catch: it is left out, and the note says so.
        unterminated = self.line_no + 1 if not self.done and lines.tail.strip() else 0
        self._flush()
        name = self._name
        if not self.words and unterminated:
            raise ModelError(f"{name} holds no complete vectors: it ends in the middle of line "
                             f"{unterminated}, so it looks truncated")
        if not self.words:
            raise ModelError(f"{name} holds no vectors")
        notes: list[str] = []
        if unterminated:
            notes.append(f"the file ends in the middle of line {unterminated}: it looks "
                         "truncated; that line is left out")
        counted = self._header is not None and not self._options.limit
        return _finish(self.words, self._rows.result(self.dim), notes, name,
                       header_count=self._header[0] if counted and self._header else None)

    # ---------------------------------------------------------------- line by line

    def _careful(self, block: list[bytes]) -> None:
        name, options = self._name, self._options
        limit = options.limit or None
        for raw in block:
            self.line_no += 1
            self.careful_lines += 1
            line_no = self.line_no
            start = self.offset
            self.offset += len(raw) + 1
            line = raw
            if self.first:
                self.first = False
                if line.startswith(_BOM):
                    line = line[len(_BOM):]
                    start += len(_BOM)
                if self._header:
                    continue
            line = line.rstrip(b"\r")
            if not line.strip():
                continue
            if line[:1].isspace():  # white space before the word is no part of it
                stripped = line.lstrip()
                start += len(line) - len(stripped)
                line = stripped
            if self.dim == 0:
                self.dim = len(line.split()) - 1
                if self.dim < 1:
                    raise ModelError(f"line {line_no} of {name} has no numbers after the word")
            dim = self.dim
            parts = line.rsplit(None, dim)
            if len(parts) != dim + 1:
                raise ModelError(f"line {line_no} of {name} has {len(parts)} fields; expected a "
                                 f"word and {dim} numbers")
            try:
                word = parts[0].decode("utf-8", options.unicode_errors)
            except UnicodeDecodeError as exc:
                raise ModelError(
                    f"invalid UTF-8 at byte {start + exc.start:,} (line {line_no}) of {name}; "
                    "use --unicode-errors replace to read on") from None
            self._block_lines.append(line_no)
            self._block_words.append(word)
            self._block_values.extend(parts[1:])
            if limit and len(self.words) + len(self._block_words) >= limit:
                self.done = True
                return
            if len(self._block_words) >= 4096:
                self._flush()

    def _flush(self) -> None:
        if not self._block_words:
            return
        try:
            with np.errstate(over="ignore"):  # 1e39: infinite in float32, zeroed by _finish
                values = np.array(self._block_values, dtype=np.float32)
        except ValueError:
            _raise_bad_number(self._block_values, self._block_lines, self.dim, self._name)
        self._rows.add(values.reshape(len(self._block_words), self.dim))
        self.words.add(self._block_words)
        self._block_words, self._block_values, self._block_lines = [], [], []

    # ---------------------------------------------------------------- a block at a time

    def _fast(self, data: bytes, count: int) -> bool:
        """Read ``data`` (``count`` whole lines, without the last newline) through pyarrow,
        if it takes them all as the careful reader would; False (nothing read) if not."""
        dim = self.dim
        if not self._fast_allowed or not dim or data.endswith(b"\n") or data[:1] == b" " \
                or any(bad in data for bad in _NOT_FAST):
            return False
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as csv

        trailing = data.endswith(b" ")  # fastText ends each line with a space: one more,
        # empty, field (or a line with one field more, which the check below refuses)
        names = [str(i) for i in range(dim + 1 + trailing)]
        types = {name: pa.float64() for name in names[1:]}
        types[names[0]] = pa.binary()
        if trailing:
            types[names[-1]] = pa.binary()
        try:
            table = csv.read_csv(
                pa.py_buffer(data),
                read_options=csv.ReadOptions(column_names=names, block_size=1 << 22),
                parse_options=csv.ParseOptions(delimiter=" ", quote_char=False,
                                               escape_char=False, double_quote=False,
                                               newlines_in_values=False,
                                               ignore_empty_lines=False),
                convert_options=csv.ConvertOptions(column_types=types, null_values=[],
                                                   strings_can_be_null=False,
                                                   quoted_strings_can_be_null=False,
                                                   check_utf8=False))
            if table.num_rows != count or pc.min(pc.binary_length(table.column(0))).as_py() == 0 \
                    or trailing and pc.max(pc.binary_length(table.column(dim + 1))).as_py() != 0:
                return False
            words = pc.cast(table.column(0), pa.string())  # checks the UTF-8
        except pa.ArrowInvalid:  # a line pyarrow cannot take: the careful reader names it
            return False
        self._flush()  # the careful reader's lines before, in file order
        limit = self._options.limit or 0
        take = min(count, limit - len(self.words)) if limit else count
        room = self._rows.room(dim, take)
        with np.errstate(over="ignore"):  # 1e39: infinite in float32, zeroed by _finish
            for j in range(dim):
                room[:, j] = table.column(j + 1).to_numpy()[:take]
        self.words.add(words.slice(0, take) if take < count else words)
        self.line_no += count
        self.offset += len(data) + 1
        self.fast_lines += count
        self.done = bool(limit) and len(self.words) >= limit
        return True


def read_text(stream: IO[bytes], name: str, detected: Detected, options: ReadOptions, *,
              rows: int | None = None, fast: bool = True) -> VectorSet:
    """Read GloVe or word2vec text (see TextReader); ``rows``: how many records the
    checking pass counted, so that the matrix is allocated once."""
    return TextReader(name, detected, options, rows=rows, fast=fast).read(stream)


def _raise_bad_number(values: list[bytes], lines: list[int], dim: int, name: str) -> None:
    for k, value in enumerate(values):
        try:
            float(value)
        except ValueError:
            text = value.decode("utf-8", "replace")
            raise ModelError(f"line {lines[k // dim]} of {name}: '{text}' is not a "
                             "number") from None
    raise ModelError(f"{name}: a number near line {lines[0]} cannot be read")


# --------------------------------------------------------------------------- progress


@contextmanager
def _counting(stream_cm: Any, advance: Advance) -> Iterator[IO[bytes]]:
    with stream_cm as stream:
        yield _CountingReader(stream, advance)  # type: ignore[misc]  # a binary stream


class _CountingReader(io.RawIOBase):
    def __init__(self, inner: IO[bytes], advance: Advance):
        self._inner = inner
        self._advance = advance

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._advance(len(data))
        return data
