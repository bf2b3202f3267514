"""The fast text reader (pyarrow, a block at a time) against the careful one, line by line.

Every fault file the other tests build is read twice: as embedcli reads it (pyarrow for
the blocks it takes, the careful reader for the rest) and with the fast path turned off
(the careful reader for every line, today's reader unchanged): the words, the float32
values bit for bit, the notes and every error message must be the same. Blocks are made
tiny, so that clean and dirty lines fall in blocks of their own and both readers meet in
one file. Where gensim reads a file as it is, its load must give the same values too.
"""

from __future__ import annotations

import functools
import gzip
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedcli import readers
from embedcli.errors import ModelError
from embedcli.readers import Location, ReadOptions
from tests.conftest import write_small_model
from tests.test_faults import GOOD
from tests.test_hostile_files import CASES, VECTORS, WORDS


class Notes:
    """A reporter that keeps the notes (progress is not compared)."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def progress(self, description, total, unit=""):
        return _Progress()


class _Progress:
    def __enter__(self):
        return lambda n: None

    def __exit__(self, *exc):
        return False


def outcome(location: Location, options: ReadOptions) -> tuple:
    """What reading gives: (words, float32 bit patterns, notes, reporter notes) or the
    error's message."""
    reporter = Notes()
    try:
        vs = readers.read(location, options, reporter)
    except ModelError as exc:
        return ("error", str(exc))
    return (vs.words, np.ascontiguousarray(vs.vectors).view(np.uint32).tolist(), vs.notes,
            reporter.notes)


class Counted(readers.TextReader):
    """Counts, over every read, the lines each path took."""

    lines = {"fast": 0, "careful": 0}

    def read(self, stream):
        try:
            return super().read(stream)
        finally:
            Counted.lines["fast"] += self.fast_lines
            Counted.lines["careful"] += self.careful_lines


DEFAULT = ReadOptions()


def both_ways(monkeypatch, location: Location, options: ReadOptions = DEFAULT,
              block: int = 64) -> tuple[tuple, tuple, dict[str, int]]:
    """(embedcli's reading, the careful reader's alone, the lines the fast path took)."""
    Counted.lines = {"fast": 0, "careful": 0}
    with monkeypatch.context() as m:
        m.setattr(readers, "FAST_BLOCK", block)
        m.setattr(readers, "TextReader", Counted)
        fast = outcome(location, options)
    counted = dict(Counted.lines)
    with monkeypatch.context() as m:
        m.setattr(readers, "read_text", functools.partial(readers.read_text, fast=False))
        careful = outcome(location, options)
    return fast, careful, counted


def write(tmp_path: Path, data: bytes, name: str = "v.txt") -> Location:
    path = tmp_path / name
    path.write_bytes(data)
    return Location(path)


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("originals")
    return {fmt: write_small_model(folder / fmt, WORDS, VECTORS, fmt=fmt).read_bytes()
            for fmt in ("glove", "word2vec", "binary")}


# every file test_faults.py builds by hand (but the empty ones, which detect refuses before
# any reader runs), with the options it reads them with
FAULT_FILES = [
    (GOOD, ReadOptions()),
    (GOOD + ". . . 0 1 0.01\n", ReadOptions()),
    (GOOD + "new\u00a0york 0 1 0.01\n", ReadOptions()),
    ("\ufeff" + GOOD, ReadOptions()),
    (GOOD.replace("\n", "\r\n"), ReadOptions()),
    (GOOD + "cat 1 0 0\n", ReadOptions()),
    ("4 3\n" + GOOD + "cat 1 0 0\n", ReadOptions()),
    ("2 3\n" + GOOD, ReadOptions()),
    ("9 3\n" + GOOD, ReadOptions()),
    (GOOD + "bird 1 0\n", ReadOptions()),
    ("3 3\n" + GOOD.replace("cat 0 1 0", "cat 0 1"), ReadOptions()),
    ("the 1 2\ncat 1\n", ReadOptions()),
    (GOOD + "bird 1 zero 0\n", ReadOptions()),
    (GOOD.encode() + b"caf\xe9 0 1 0.01\n", ReadOptions()),
    (GOOD.encode() + b"caf\xe9 0 1 0.01\n", ReadOptions(unicode_errors="replace")),
    (GOOD + "bad nan 1 0\nworse inf 0 0\n", ReadOptions()),
    (GOOD + "nothing 0 0 0\n", ReadOptions()),
    ("3 3 \n" + GOOD.replace("\n", " \n"), ReadOptions()),
    (GOOD + "bird 0.5 0.25 0.125\n \t", ReadOptions()),
    (GOOD + "bird 0.5 0.25 0.12", ReadOptions()),
    (GOOD + "bird 0.5 0.2", ReadOptions()),
    (GOOD + "bird 0.5 0.25 0.12", ReadOptions(limit=100)),
    (GOOD + "bird 0.5 0.25 0.12", ReadOptions(limit=2)),
    ("cat 0.1 0.2 0.3", ReadOptions()),
    (GOOD + "bird 1 zero 0\n", ReadOptions(limit=3)),
    (GOOD * 3 + "a 1e39 1e-46 -0\nb 1_0 +.5 5.\nc -inf Infinity NaN\n", ReadOptions()),
]


@pytest.mark.parametrize("block", [1, 16, 64, 1 << 20])
@pytest.mark.parametrize("content,options", FAULT_FILES, ids=repr)
def test_every_hand_built_fault_file_reads_as_the_careful_reader_reads_it(
        monkeypatch, tmp_path, content, options, block):
    data = content.encode() if isinstance(content, str) else content
    fast, careful, _ = both_ways(monkeypatch, write(tmp_path, data), options, block)
    assert fast == careful


@pytest.mark.parametrize("container", ["plain", "gzip", "zip"])
@pytest.mark.parametrize("block", [16, 1 << 20])
@pytest.mark.parametrize("case,fmt", [(c, f) for c in CASES for f in c.formats], ids=str)
def test_every_hostile_file_reads_as_the_careful_reader_reads_it(
        monkeypatch, tmp_path, originals, case, fmt, block, container):
    data = case.fault(originals[fmt], fmt)
    location = write(tmp_path, data, "v.vec")
    if container == "gzip":
        location = write(tmp_path, gzip.compress(data, compresslevel=1), "v.gz")
    elif container == "zip":
        with zipfile.ZipFile(tmp_path / "v.zip", "w") as archive:
            archive.writestr("v.txt", data)
        location = Location(tmp_path / "v.zip", "v.txt")
    fast, careful, _ = both_ways(monkeypatch, location, block=block)
    assert fast == careful
    if case.ok:
        assert fast[0] != "error"


def test_the_fast_path_takes_clean_blocks_and_the_careful_reader_the_rest(monkeypatch,
                                                                         tmp_path):
    clean = "".join(f"w{i} {i} 0.5 -1e-3\n" for i in range(200))
    fast, careful, lines = both_ways(monkeypatch, write(tmp_path, clean.encode()), block=256)
    assert fast == careful
    assert lines == {"fast": 199, "careful": 1}  # the first line is always careful
    lines = clean.splitlines(keepends=True)
    dirty = "".join(lines[:100]) + "new york 1 2 3\n" + "tab\t1 2 3\n" + "".join(lines[100:])
    fast, careful, lines = both_ways(monkeypatch, write(tmp_path, dirty.encode()), block=256)
    assert fast == careful and "new york" in fast[0] and "tab" in fast[0]
    assert 0 < lines["careful"] < 60 and lines["fast"] + lines["careful"] == 202


def test_one_big_block_is_taken_whole_by_pyarrow(tmp_path):
    data = "".join(f"w{i} {i / 7!r} 0.5 -1e-3\n" for i in range(1000)).encode()
    reader = readers.TextReader("v.txt", readers.Detected("glove"), ReadOptions(), rows=1000)
    vs = reader.read(__import__("io").BytesIO(data))
    assert (reader.fast_lines, reader.careful_lines) == (999, 1)
    assert vs.vectors[5, 0] == np.float32(5 / 7)


@pytest.mark.parametrize("fmt", ["glove", "word2vec", "binary"])
def test_a_regular_file_reads_as_gensim_loads_it(tmp_path, fmt):
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(11)
    words = [f"w{i}" for i in range(3000)] + ["café", "日本"]
    vectors = (rng.standard_normal((len(words), 7)) * 3).astype(np.float32)
    path = write_small_model(tmp_path / f"m.{fmt}", words, vectors, fmt=fmt)
    reporter = Notes()
    vs = readers.read(Location(path), ReadOptions(), reporter)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=fmt == "binary",
                                           no_header=fmt == "glove")
    assert reporter.notes == [] and vs.notes == []
    assert vs.words == list(kv.index_to_key)
    assert np.array_equal(vs.vectors.view(np.uint32), kv.vectors.view(np.uint32))


def test_glove_text_with_many_digits_reads_as_gensim_loads_it(tmp_path):
    """Numbers whose float32 rounding depends on parsing them as float64 first."""
    from gensim.models import KeyedVectors

    rng = np.random.default_rng(12)
    low = rng.standard_normal(4000).astype(np.float32)
    mid = (low.astype(np.float64) + np.nextafter(low, np.float32(np.inf))) / 2
    lines = [f"w{i} " + " ".join(f"{v:.25g}" for v in mid[i * 4:i * 4 + 4]) for i in range(1000)]
    path = tmp_path / "g.txt"
    path.write_text("\n".join(lines) + "\n")
    vs = readers.read(Location(path), ReadOptions(), Notes())
    kv = KeyedVectors.load_word2vec_format(str(path), no_header=True)
    assert np.array_equal(vs.vectors.view(np.uint32), kv.vectors.view(np.uint32))


# ---------------------------------------------------------------- random files

WORD = st.sampled_from(["a", "b", "cat", "new york", "caf\u00e9", "x\u00a0y", ". . .", "a"])
NUMBER = st.one_of(
    st.floats(width=32, allow_nan=False).map(repr),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["0.5", "-0", "1e39", "1e-46", "nan", "inf", "1_0", "+.5", "5.", "x",
                     "0.12345678901234567890123"]))
SPACE = st.sampled_from([" "] * 12 + ["\t", "  "])
END = st.sampled_from(["\n"] * 10 + ["\r\n", " \n", "\n\n"])


@st.composite
def vector_files(draw) -> bytes:
    dim = draw(st.integers(1, 4))
    lines = []
    for _ in range(draw(st.integers(1, 30))):
        fields = [draw(WORD)] + [draw(NUMBER) for _ in range(dim)]
        if draw(st.integers(0, 30)) == 0:  # a field missing or one more
            fields = fields[:-1] if draw(st.booleans()) else fields + ["0.5"]
        text = fields[0]
        for f in fields[1:]:
            text += draw(SPACE) + f
        lines.append(text + draw(END))
    body = "".join(lines)
    if draw(st.booleans()):
        body = body.rstrip("\n")  # the last line cut off
    head = draw(st.sampled_from(["", "", f"{len(lines)} {dim}\n", f"3 {dim}\n", "\ufeff"]))
    raw = (head + body).encode()
    if draw(st.integers(0, 20)) == 0:
        raw += b"bad\xff 1" + b" 1" * (dim - 1) + b"\n"
    return raw


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=vector_files(), block=st.sampled_from([1, 8, 40, 200, 1 << 20]),
       options=st.sampled_from([ReadOptions(), ReadOptions(limit=5),
                                ReadOptions(unicode_errors="replace")]))
def test_random_files_of_clean_and_dirty_lines_read_alike(monkeypatch, data, block, options):
    with tempfile.TemporaryDirectory() as tmp:
        try:
            location = write(Path(tmp), data)
            readers.detect(location)
        except ModelError:
            return  # refused before any reader runs, whichever it is
        fast, careful, _ = both_ways(monkeypatch, location, options, block)
    assert fast == careful


def test_a_bad_number_after_a_blank_line_names_its_own_line(tmp_path):
    # found by the property test: the careful reader counted the lines of its block of
    # 4,096 words from the first, so a blank line before the bad one shifted the number
    path = tmp_path / "v.txt"
    path.write_bytes(b"a 0 0 0\nb 0 0 0\n\nc 0 0 x\n")
    for fast in (True, False):
        with pytest.raises(ModelError, match=f"line 4 of {path}: 'x' is not a number"), \
                path.open("rb") as stream:
            readers.read_text(stream, str(path), readers.Detected("glove"), ReadOptions(),
                              fast=fast)


@pytest.mark.parametrize("header,end", [("", "\n"), ("200 3 \n", " \n")])
def test_fasttext_vec_lines_ending_in_a_space_take_the_fast_path(monkeypatch, tmp_path,
                                                                 header, end):
    body = "".join(f"w{i} {i} 0.5 -1e-3{end}" for i in range(200))
    fast, careful, lines = both_ways(monkeypatch, write(tmp_path, (header + body).encode()),
                                     block=1 << 20)
    assert fast == careful and fast[2] == []
    assert lines["fast"] >= 199 and lines["careful"] <= 1


def test_words_gathered_in_blocks_act_as_the_list_of_them():
    """The vocabulary a reader gathers (lists from the careful reader, pyarrow arrays from
    the fast one) indexes, slices, iterates, joins and compares as the plain list."""
    import pyarrow as pa

    from embedcli.models import _vocab_bytes
    from embedcli.readers import _Spaced
    from embedcli.sources import Words

    plain = ["the", "café", "new\u00a0york", "a b", "x", "日本", "z"]
    words = Words()
    words.add(plain[:2])
    words.add(pa.chunked_array([pa.array(plain[2:4]), pa.array(plain[4:6])]))
    words.add([])
    words.add(pa.array(plain[6:]))
    words.add(_Spaced("bé ab", 2))  # a binary file's block: one text, split at spaces
    plain += ["bé", "ab"]
    assert len(words) == len(plain) and list(words) == plain and words == plain
    assert [words[i] for i in range(-len(plain), len(plain))] == plain + plain
    assert words[1:6:2] == plain[1:6:2] and words[::-1] == plain[::-1]
    with pytest.raises(IndexError):
        words[len(plain)]
    assert words.joined("\n") == "\n".join(plain)
    assert _vocab_bytes(words)[0] == _vocab_bytes(plain)[0]
    assert np.array_equal(_vocab_bytes(words)[1], _vocab_bytes(plain)[1])


def test_duplicate_words_of_a_binary_file_keep_the_first_of_each(tmp_path, fresh_cache):
    """Duplicates in a word2vec binary file (its words are blocks of one text each) keep
    the first row of each word, in order, with its own values."""
    from embedcli.models import load

    rng = np.random.default_rng(8)
    words = [f"w{i % 700}" for i in range(1_000)] + ["caf\u00e9", "w3"]
    vectors = rng.standard_normal((len(words), 4)).astype(np.float32)
    path = tmp_path / "d.bin"  # by hand, as the C tool writes: gensim's writer keeps one
    # vector for each word (its last), so it cannot write duplicates with their own
    path.write_bytes(b"%d 4\n" % len(words) + b"".join(
        w.encode() + b" " + v.tobytes() + b"\n" for w, v in zip(words, vectors)))
    model = load(str(path))
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    rows = sorted(first.values())
    assert model.words() == [words[i] for i in rows]
    assert "301 duplicate words; kept the first of each" in model.meta["notes"]
    np.testing.assert_array_equal(np.stack([model.raw(i) for i in range(len(rows))]),
                                  vectors[rows])


def test_many_duplicates_in_a_binary_file_split_each_block_a_few_times(tmp_path, fresh_cache,
                                                                       monkeypatch):
    """Finding 10,000 duplicates among 20,000 records looks up the tied words in one walk
    over the blocks (each block's text split a few times in all), not a split of a whole
    block for each duplicate (which took 15 s here)."""
    from embedcli import readers
    from embedcli.models import load

    splits = []
    split = readers._Spaced.to_pylist

    def counted(self):
        splits.append(len(self))
        return split(self)

    monkeypatch.setattr(readers._Spaced, "to_pylist", counted)
    words = [f"w{i % 10_000}" for i in range(20_000)]
    vectors = np.arange(20_000 * 5, dtype=np.float32).reshape(-1, 5)
    path = tmp_path / "dups.bin"
    path.write_bytes(b"20000 5\n" + b"".join(w.encode() + b" " + v.tobytes() + b"\n"
                                            for w, v in zip(words, vectors)))
    model = load(str(path))
    assert model.words() == words[:10_000]
    assert "10,000 duplicate words; kept the first of each" in model.meta["notes"]
    np.testing.assert_array_equal(model.raw(9_999), vectors[9_999])
    # the file is one block (580 KB, under a read's 4 MiB): a handful of splits in all,
    # where a split for each tied word would be 20,000
    assert set(splits) == {20_000} and len(splits) <= 8, len(splits)


def test_a_binary_word_after_very_many_newlines_is_read(tmp_path, fresh_cache):
    """Newlines before a word (the C tool writes one) are dropped in one pass over the
    block, however many there are."""
    from embedcli.models import load

    one = np.ones(3, dtype=np.float32).tobytes()
    path = tmp_path / "nl.bin"
    path.write_bytes(b"2 3\n" + b"a " + one + b"\n" * 200_000 + b"b " + one + b"\n")
    assert load(str(path)).words() == ["a", "b"]
