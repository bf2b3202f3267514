"""Property-based tests: arguments, model files and truncation, with hypothesis."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from embedcli.cli.app import app
from embedcli.errors import ModelError
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


@pytest.fixture(scope="module")
def whole_file(tmp_path_factory):
    """A real model file and the vectors it holds."""
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    vectors = rng.standard_normal((40, 6)).astype(np.float32)
    folder = tmp_path_factory.mktemp("whole")
    files = {fmt: write_small_model(folder / f"v.{fmt}", words, vectors, fmt=fmt).read_bytes()
             for fmt in ["word2vec", "glove", "binary"]}
    return words, vectors, files


@SETTINGS
@given(fraction=st.one_of(st.floats(0, 1), st.floats(0.97, 1)),
       fmt=st.sampled_from(["word2vec", "glove", "binary"]))
def test_a_truncated_model_file_gives_an_error_or_a_correct_prefix(tmp_path, monkeypatch,
                                                                     whole_file, fraction, fmt):
    words, vectors, files = whole_file
    data = files[fmt]
    cut = int(len(data) * fraction)
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.setenv("EMBEDCLI_CACHE_DIR", str(case / "cache"))
    path = case / "v"
    path.write_bytes(data[:cut])
    try:
        model = load(str(path))
    except ModelError:
        return  # a clear error is fine
    n = len(model)
    assert model.words() == words[:n]  # a prefix of the words...
    raw = np.stack([model.raw(i) for i in range(n)])
    np.testing.assert_array_equal(raw, vectors[:n])  # ...with their very vectors
