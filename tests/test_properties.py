"""Property-based tests: arguments, model files and truncation, with hypothesis."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from embedcli.cli.app import app
from embedcli.errors import ExitStatus
from embedcli.models import load
from tests.conftest import write_small_model

TOKENS = st.sampled_from([
    "analogy", "neighbors", "similarity", "models", "list", "info", "--top", "-n", "0", "3",
    "-1", "abc", "--method", "mul", "add", "--format", "json", "yaml", "--restrict", "--",
    "-", "+", "*", ":", "::", "?", "king", "man", "woman", "kign", "0.5*paris", "", " ",
    "--case-sensitive", "--include-inputs", "-m", "nope", "--limit", "--dtype", "float16",
    "--help", "\x00", "é", "--version", "--trust"])

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.lists(TOKENS, max_size=7))
def test_random_argument_lists_never_produce_a_traceback(bundled, args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1, 2, 3), (args, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    if result.exit_code != 0:
        assert result.stderr.startswith("embedcli: error:"), (args, result.stderr)


WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                                      blacklist_characters="\x85\u200b\ufeff"),
               min_size=1, max_size=12)


@SETTINGS
@given(words=st.lists(WORD, min_size=1, max_size=30, unique=True),
       fmt=st.sampled_from(["word2vec", "glove", "binary"]), seed=st.integers(0, 2**32 - 1))
def test_a_model_written_then_loaded_gives_the_same_words_and_vectors(tmp_path, monkeypatch,
                                                                       words, fmt, seed):
    vectors = np.random.default_rng(seed).standard_normal((len(words), 5)).astype(np.float32)
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.setenv("EMBEDCLI_CACHE_DIR", str(case / "cache"))
    path = write_small_model(case / "v", words, vectors, fmt=fmt)
    model = load(str(path))
    assert model.words() == words
    raw = np.stack([model.raw(i) for i in range(len(model))])
    np.testing.assert_array_equal(raw, vectors)  # the values themselves, not near them
    assert [model.index(w) for w in words] == list(range(len(words)))


@SETTINGS
@given(words=st.lists(WORD, min_size=1, max_size=300), others=st.lists(WORD, max_size=20))
def test_the_vocabulary_hash_table_finds_each_words_first_row_and_nothing_else(words, others):
    from embedcli.models import Model, _vocab_bytes

    vocab, offsets = _vocab_bytes(words)
    model = Model("m", np.zeros((len(words), 2), np.float32), np.ones(len(words), np.float32),
                  vocab, offsets)
    for word in words + others:
        assert model.index(word) == (words.index(word) if word in words else None)
    assert model.index(words[0] + "\n" + words[-1]) is None
    assert model.words(len(words) // 2) == words[: len(words) // 2]


class _Colliding(str):
    """A word whose hash is one of four, so that different words share hashes."""

    def __hash__(self) -> int:
        return len(self) % 4


@SETTINGS
@given(words=st.lists(st.sampled_from(["a", "b", "ab", "ba", "abc", "x", "é", "aaaa"]),
                      max_size=40),
       colliding=st.booleans())
def test_the_duplicate_rows_are_those_whose_word_came_before(words, colliding):
    from embedcli.readers import _repeated

    if colliding:  # equal hashes for different words: only equal words are duplicates
        words = [_Colliding(w) for w in words]
    expected = [row for row, word in enumerate(words) if word in words[:row]]
    assert _repeated(words).tolist() == expected


@pytest.fixture(scope="module")
def whole_file(tmp_path_factory):
    """A real model file in each format, and the vectors it holds."""
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    vectors = rng.standard_normal((40, 6)).astype(np.float32)
    folder = tmp_path_factory.mktemp("whole")
    files = {fmt: write_small_model(folder / f"v.{fmt}", words, vectors, fmt=fmt).read_bytes()
             for fmt in ["word2vec", "glove", "binary"]}
    return words, vectors, files


def _container(data: bytes, container: str, folder: Path, cut: float) -> str:
    """The model file as ``container`` holds it, cut to ``cut`` of its bytes: the
    container's own bytes (plain, gz, bz2, zip), or the content before it is compressed
    (gz-of-cut, zip-of-cut: a valid archive of a cut-off file). Returns the --model value."""
    import bz2
    import gzip
    import io
    import zipfile

    inner = container.endswith("-of-cut")
    if inner:
        data = data[: int(len(data) * cut)]
    kind = container.removesuffix("-of-cut")
    if kind == "gz":
        data = gzip.compress(data, compresslevel=1)
    elif kind == "bz2":
        data = bz2.compress(data, compresslevel=1)
    elif kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("v.txt", data)
        data = buffer.getvalue()
    if not inner:
        data = data[: int(len(data) * cut)]
    path = folder / f"model.{kind}"
    path.write_bytes(data)
    return f"{path}:v.txt" if kind == "zip" else str(path)


def _status_and_one_error_line(args: list[str]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, ExitStatus.MODEL), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    if result.exit_code:
        errors = [ln for ln in result.stderr.splitlines() if ln.startswith("embedcli: error:")]
        assert len(errors) == 1 and result.stdout == "", result.stderr
    return result


@SETTINGS
@given(fraction=st.one_of(st.floats(0, 1), st.floats(0.97, 1), st.just(1.0)),
       fmt=st.sampled_from(["word2vec", "glove", "binary"]),
       container=st.sampled_from(["plain", "gz", "bz2", "zip", "gz-of-cut", "zip-of-cut"]))
def test_a_truncated_model_file_gives_an_error_or_a_correct_prefix(tmp_path, monkeypatch,
                                                                     whole_file, fraction, fmt,
                                                                     container):
    """Cut anywhere, in any container: status 0 or 3, never another; when 0, the words are
    a prefix of the file's, each with its very vector (no wrong answer)."""
    words, vectors, files = whole_file
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.setenv("EMBEDCLI_CACHE_DIR", str(case / "cache"))
    spec = _container(files[fmt], container, case, fraction)
    result = _status_and_one_error_line(["vocab", "-m", spec])
    event(f"{container}: status {result.exit_code}")
    if result.exit_code:
        return  # a clear error is fine
    model = load(spec)
    n = len(model)
    assert result.stdout.split() == model.words() == words[:n]  # a prefix of the words...
    raw = np.stack([model.raw(i) for i in range(n)])
    np.testing.assert_array_equal(raw, vectors[:n])  # ...with their very vectors
    if fraction == 1.0 and not container.endswith("-of-cut"):
        assert n == len(words)


MAGIC = st.sampled_from([b"", b"3 4\n", b"2 3\n", b"the 1 2\n", b"\x1f\x8b", b"BZh",
                         b"PK\x03\x04", b"\xef\xbb\xbf", b"\x80\x04", b"-3 3\n", b"1 0\n"])
TEXTISH = st.lists(st.sampled_from([b"a", b"b", b"1", b"0.5", b"-2e3", b"1e39", b"nan", b" ",
                                    b"  ", b"\t", b"\n", b"\r\n", b"\xc3", b"\x00", b". ."]),
                   max_size=40).map(b"".join)


@SETTINGS
@given(head=MAGIC, body=st.one_of(st.binary(max_size=300), TEXTISH),
       name=st.sampled_from(["v.txt", "v.bin", "v.gz", "v.bz2"]))
def test_random_bytes_as_a_model_file_are_read_or_refused_in_one_line(tmp_path, monkeypatch,
                                                                       head, body, name):
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.setenv("EMBEDCLI_CACHE_DIR", str(case / "cache"))
    path = case / name
    path.write_bytes(head + body)
    result = _status_and_one_error_line(["vocab", "-m", str(path)])
    event(f"status {result.exit_code}")
    if result.exit_code == 0:
        model = load(str(path))  # what was answered: finite unit rows and lengths
        assert np.isfinite(model.vectors).all() and np.isfinite(model.norms).all()
        lengths = np.linalg.norm(model.vectors.astype(np.float64), axis=1)
        assert np.all((np.abs(lengths - 1) < 1e-5) | (lengths == 0))
