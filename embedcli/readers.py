"""Reading vector files into words and a float32 matrix: gensim first, ours where it fails.

Formats are told apart by content, not by the file's name:

* GloVe text (no header), word2vec / fastText text (``COUNT DIM`` header), word2vec binary:
  read by gensim's ``load_word2vec_format``; its result is then checked and repaired
  where gensim is silently wrong (a byte-order mark glued to the first word, the ``None``
  key and zero row it leaves for a duplicate word, NaN values, a header that
  under-counts the words);
* gensim saves (``KeyedVectors.save``, ``Word2Vec``/``FastText`` ``.model``): pickles, read
  by gensim only when the caller trusts the file;
* gzip and bz2 compression of any of these, and members of a zip archive
  (``glove.6B.zip:glove.6B.100d.txt``).

Where gensim cannot parse a real file (a header that over-counts, tokens with spaces as
in glove.840B, a line with too few fields, invalid UTF-8, a zip member), our own text
reader below reads it and names the file, line and byte of anything it cannot accept.

This module and ``models.py`` are the only ones that import gensim, always lazily.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from embedcli.errors import ModelError

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 22


@dataclass
class VectorSet:
    """What every reader returns: words in frequency order and their raw vectors."""

    words: list[str]
    vectors: np.ndarray  # (n, d) float32
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReadOptions:
    limit: int | None = None
    unicode_errors: str = "strict"  # or "replace"
    trust: bool = False


Advance = Callable[[int], None]


# --------------------------------------------------------------------------- opening


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


def compression_of(path: Path) -> str | None:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"\x1f\x8b"):
        return "gzip"
    if magic.startswith(b"BZh"):
        return "bz2"
    if magic.startswith(b"PK\x03\x04"):
        return "zip"
    return None


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
            with archive.open(_member_info(archive, location)) as member:
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
    if location.member is not None:
        with zipfile.ZipFile(location.path) as archive:
            return _member_info(archive, location).file_size
    return location.path.stat().st_size


# --------------------------------------------------------------------------- detecting


@dataclass(frozen=True)
class Detected:
    kind: str  # "glove", "word2vec-text", "word2vec-binary" or "gensim-save"
    header: tuple[int, int] | None = None


def detect(location: Location) -> Detected:
    """Tell the formats apart by their first bytes."""
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
    if first.startswith(_BOM):
        first = first[len(_BOM):]
    fields = first.split()
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        count, dim = int(fields[0]), int(fields[1])
        rest = head[first_line_end + 1:] if first_line_end >= 0 else b""
        line = rest.split(b"\n", 1)[0]
        try:
            parts = line.decode("utf-8").split()
            [float(x) for x in parts[-dim:]]
            text = len(parts) >= dim + 1
        except (UnicodeDecodeError, ValueError):
            text = False
        return Detected("word2vec-text" if text else "word2vec-binary", (count, dim))
    try:
        [float(x) for x in fields[-2:]]
    except ValueError:
        raise ModelError(f"{location} is not a vector file embedcli knows: its first line is "
                         "neither a 'COUNT DIM' header nor a word followed by numbers") from None
    if len(fields) < 2:
        raise ModelError(f"{location} is not a vector file (line 1 has only one field)")
    return Detected("glove")


# --------------------------------------------------------------------------- reading


def read(location: Location, options: ReadOptions, reporter: Any) -> VectorSet:
    """Read any supported file, with progress (bytes read) through ``reporter``."""
    detected = detect(location)
    if detected.kind == "gensim-save":
        return _read_gensim_save(location, options)
    size = total_size(location)
    if detected.kind == "word2vec-binary":
        with reporter.progress(f"reading {location.name} with gensim", size, "bytes") as adv:
            try:
                return _read_word2vec_with_gensim(location, detected, options, adv)
            except _GensimFailed as failed:
                raise ModelError(f"cannot read {location} as a word2vec binary file: "
                                 f"{failed.reason}") from None
    with reporter.progress(f"checking {location.name}", size, "bytes") as adv:
        with _counting(open_stream(location), adv) as stream:
            why_not_gensim = scan_text(stream, str(location), detected, options)
    if location.member is not None:
        why_not_gensim = why_not_gensim or "gensim cannot open a member of a zip archive"
    if not why_not_gensim:
        with reporter.progress(f"reading {location.name} with gensim", size, "bytes") as adv:
            try:
                return _read_word2vec_with_gensim(location, detected, options, adv)
            except _GensimFailed as failed:
                why_not_gensim = failed.reason
    reporter.note(f"gensim cannot read {location.name} as it is ({why_not_gensim}); "
                  "reading it with embedcli's own reader")
    with reporter.progress(f"reading {location.name}", size, "bytes") as adv:
        with _counting(open_stream(location), adv) as stream:
            return read_text(stream, str(location), detected, options)


def scan_text(stream: IO[bytes], name: str, detected: Detected,
              options: ReadOptions) -> str | None:
    """Check a text file's lines before parsing any number: a quick pass.

    Raises ModelError for what no reader can accept (a line with too few fields, invalid
    UTF-8 in strict mode). Returns why gensim's text reader would misread the file (it
    keeps a byte-order mark inside the first word, broadcasts a line's lone number across
    the vector, fails on tokens with spaces, trusts the header's count), or None.
    """
    dim = detected.header[1] if detected.header else 0
    reasons: list[str] = []
    line_no = 0
    offset = 0
    words = 0
    pending = b""
    limit = options.limit or 0
    while True:
        chunk = stream.read(_CHUNK)
        data = pending + chunk
        lines = data.split(b"\n")
        pending = lines.pop() if chunk else b""
        if not chunk and not data:
            break
        if not chunk and data.strip():  # the last line has no newline: left out (read_text)
            lines.pop()
            reasons.append("the last line has no newline: the file looks cut off")
        for raw in lines:
            line_no += 1
            start = offset
            offset += len(raw) + 1
            if line_no == 1:
                if raw.startswith(_BOM):
                    reasons.append("a byte-order mark before the first word")
                    raw = raw[len(_BOM):]
                    start += len(_BOM)
                if detected.header:
                    continue
            fields = raw.count(b" ") + 1
            if fields != dim + 1 or b"\t" in raw:
                fields = len(raw.split())
                if fields == 0:
                    if not any(r.startswith("blank") for r in reasons):
                        reasons.append(f"blank line {line_no}")
                    continue
            if dim == 0:
                dim = fields - 1
            if fields < dim + 1:
                raise ModelError(f"line {line_no} of {name} has {fields} fields; expected a "
                                 f"word and {dim} numbers")
            if fields > dim + 1 and not any(r.startswith("words with") for r in reasons):
                reasons.append(f"words with spaces, as on line {line_no}")
            cut = len(raw) - len(raw.rsplit(None, dim)[0]) if fields > dim + 1 else None
            word = raw[: -cut] if cut else raw[: raw.find(b" ")]
            try:
                word.decode("utf-8", options.unicode_errors)
            except UnicodeDecodeError as exc:
                raise ModelError(
                    f"invalid UTF-8 at byte {start + exc.start:,} (line {line_no}) of {name}; "
                    "use --unicode-errors replace to read on") from None
            words += 1
            if limit and words >= limit:
                return "; ".join(reasons) or None
        if not chunk:
            break
    if detected.header and detected.header[0] != words and not limit:
        reasons.append(f"the header says {detected.header[0]:,} words but the file has "
                       f"{words:,}")
    return "; ".join(reasons) or None


class _GensimFailed(Exception):
    def __init__(self, reason: str):
        self.reason = reason


def _read_word2vec_with_gensim(location: Location, detected: Detected, options: ReadOptions,
                               advance: Advance) -> VectorSet:
    from gensim.models import KeyedVectors

    binary = detected.kind == "word2vec-binary"
    kwargs: dict[str, Any] = {"binary": binary, "no_header": detected.kind == "glove",
                              "unicode_errors": options.unicode_errors}
    if options.limit:
        kwargs["limit"] = options.limit
    try:
        with _named_for_gensim(location.path) as path, _watch_progress(path, advance):
            kv = KeyedVectors.load_word2vec_format(str(path), **kwargs)
    except (ValueError, EOFError, UnicodeDecodeError, IndexError, AssertionError) as exc:
        raise _GensimFailed(str(exc).split("\n")[0] or type(exc).__name__) from None
    words = list(kv.index_to_key)
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    notes: list[str] = []
    if None in words:  # gensim 4.4 keeps the first of each duplicate, then a None key
        keep = [i for i, w in enumerate(words) if w is not None]
        notes.append(f"{len(words) - len(keep):,} duplicate words; kept the first of each")
        words = [words[i] for i in keep]
        vectors = vectors[keep]
    if words and words[0].startswith("\ufeff"):  # a byte-order mark gensim kept in a word
        words[0] = words[0][1:]
    return _finish(words, vectors, notes, str(location))


@contextmanager
def _named_for_gensim(path: Path) -> Iterator[Path]:
    """A name whose ending tells gensim the truth about compression.

    gensim opens files through smart_open, which decompresses by the file's ending
    alone; for a gzip file named ``.txt`` (or a plain file named ``.gz``) it is given a
    symbolic link with the right ending instead.
    """
    compression = compression_of(path)
    wanted = {"gzip": ".gz", "bz2": ".bz2"}.get(compression or "", "")
    known = (".gz", ".bz2", ".xz", ".zst", ".lzma")
    if (path.suffix == wanted) if wanted else path.suffix.lower() not in known:
        yield path
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="embedcli-") as tmp:
        link = Path(tmp) / (path.stem + wanted if path.suffix.lower() in known
                            else path.name + wanted)
        link.symlink_to(path.resolve())
        yield link


def _read_gensim_save(location: Location, options: ReadOptions) -> VectorSet:
    if not options.trust:
        raise ModelError(
            f"{location} is a gensim save (a pickle): loading it runs code stored in the file. "
            "If you trust it, run again with --trust (or register it: embedcli models add "
            "NAME PATH --trust)")
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
    notes = _dedupe_notes(words)
    if notes:
        words, vectors = _dedupe(words, vectors)
    return _finish(words, vectors, notes, str(location))


def _dedupe_notes(words: list[str]) -> list[str]:
    dupes = len(words) - len(set(words))
    return [f"{dupes:,} duplicate words; kept the first of each"] if dupes else []


def _dedupe(words: list[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    seen: dict[str, int] = {}
    for i, w in enumerate(words):
        seen.setdefault(w, i)
    keep = sorted(seen.values())
    return [words[i] for i in keep], vectors[keep]


def _finish(words: list[str], vectors: np.ndarray, notes: list[str], name: str) -> VectorSet:
    if not words:
        raise ModelError(f"{name} holds no vectors")
    bad = [w for w in words if "\n" in w or "\r" in w]
    if bad:
        raise ModelError(f"{name}: the word {bad[0]!r} contains a line break")
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        count = int((~finite).sum())
        vectors = vectors.copy() if not vectors.flags.writeable else vectors
        vectors[~finite] = 0
        notes.append(f"{count:,} vectors hold NaN or infinity; they are set to zero")
    zero = int((~vectors.any(axis=1)).sum())
    if zero:
        notes.append(f"{zero:,} vectors are all zero: they are similar to nothing (score 0)")
    return VectorSet(words, vectors, notes)


# --------------------------------------------------------------------------- our text reader


def read_text(stream: IO[bytes], name: str, detected: Detected,
              options: ReadOptions) -> VectorSet:
    """Read GloVe or word2vec text, accepting what real files hold and naming what it cannot.

    * A line is a word and then DIM numbers; the word may itself hold spaces (glove.840B
      has such tokens), so the vector is the last DIM fields.
    * A byte-order mark, CRLF line ends and non-breaking spaces inside words are accepted.
    * Duplicate words: the first is kept. A header's count is only a hint.
    * Anything else (too few fields, a field that is not a number, invalid UTF-8) is an
      error naming the file, the line and, for UTF-8, the byte offset.
    """
    rows: list[np.ndarray] = []
    words: list[str] = []
    dim = detected.header[1] if detected.header else 0
    offset = 0
    line_no = 0
    block_words: list[str] = []
    block_values: list[bytes] = []
    block_first_line = 1
    limit = options.limit or None
    pending = b""
    first = True
    unterminated = 0  # the number of a last line cut off (no newline), if any
    header = detected.header is not None

    def flush() -> None:
        nonlocal block_words, block_values
        if not block_words:
            return
        try:
            values = np.array(block_values, dtype=np.float32)
        except ValueError:
            _raise_bad_number(block_values, block_first_line, dim, name)
        rows.append(values.reshape(len(block_words), dim))
        words.extend(block_words)
        block_words, block_values = [], []

    done = False
    while not done:
        chunk = stream.read(_CHUNK)
        if not chunk:
            done = True
            data = pending
            if not data.strip():
                break
            # GloVe and word2vec files end their lines with a newline: a last line without
            # one was cut off, and may hold a number cut short (0.78131 -> 0.78) that no
            # count of fields can catch: it is left out, and the note says so.
            unterminated = line_no + 1
            break
        else:
            data = pending + chunk
            lines = data.split(b"\n")
            pending = lines.pop()
        for raw in lines:
            line_no += 1
            start = offset
            offset += len(raw) + 1
            line = raw
            if first:
                first = False
                if line.startswith(_BOM):
                    line = line[len(_BOM):]
                    start += len(_BOM)
                if header:
                    continue
            line = line.rstrip(b"\r")
            if not line.strip():
                continue
            if dim == 0:
                dim = len(line.split()) - 1
                if dim < 1:
                    raise ModelError(f"line {line_no} of {name} has no numbers after the word")
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
            if not block_words:
                block_first_line = line_no
            block_words.append(word)
            block_values.extend(parts[1:])
            if limit and len(words) + len(block_words) >= limit:
                done = True
                break
            if len(block_words) >= 4096:
                flush()
    flush()
    if not words and unterminated:
        raise ModelError(f"{name} holds no complete vectors: it ends in the middle of line "
                         f"{unterminated}, so it looks truncated")
    if not words:
        raise ModelError(f"{name} holds no vectors")
    vectors = np.concatenate(rows) if len(rows) > 1 else rows[0]
    notes: list[str] = []
    if unterminated:
        notes.append(f"the file ends in the middle of line {unterminated}: it looks "
                     "truncated; that line is left out")
    if header and detected.header and detected.header[0] != len(words) and not limit:
        notes.append(f"the header says {detected.header[0]:,} words but the file has "
                     f"{len(words):,}; read all {len(words):,}")
    dupes = _dedupe_notes(words)
    if dupes:
        notes += dupes
        words, vectors = _dedupe(words, vectors)
    return _finish(words, vectors, notes, name)


def _raise_bad_number(values: list[bytes], first_line: int, dim: int, name: str) -> None:
    for k, value in enumerate(values):
        try:
            float(value)
        except ValueError:
            line = first_line + k // dim
            text = value.decode("utf-8", "replace")
            raise ModelError(f"line {line} of {name}: '{text}' is not a number") from None
    raise ModelError(f"{name}: a number near line {first_line} cannot be read")


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


@contextmanager
def _watch_progress(path: Path, advance: Advance) -> Iterator[None]:
    """Report how far gensim has read ``path``, from the file offset Linux shows in /proc.

    gensim takes a file name and opens it itself, so the only way to see its progress is
    to watch the offset of the file descriptor it opened. Elsewhere: no progress, no harm.
    """
    fdinfo = Path("/proc/self/fdinfo")
    if not fdinfo.is_dir():
        yield
        return
    stop = threading.Event()
    target = os.path.realpath(path)

    def watch() -> None:
        reported = 0
        fd = None
        while not stop.wait(0.2):
            try:
                if fd is None:
                    for entry in os.listdir("/proc/self/fd"):
                        if os.path.realpath(f"/proc/self/fd/{entry}") == target:
                            fd = entry
                            break
                    continue
                text = (fdinfo / fd).read_text()
                position = int(text.split("pos:", 1)[1].split()[0])
            except (OSError, ValueError, IndexError):
                fd = None
                continue
            if position > reported:
                advance(position - reported)
                reported = position

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
