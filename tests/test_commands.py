"""doesnt-match, rank, vector and vocab: parity with gensim, formats, errors and help."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys

import numpy as np
import pytest

from embedcli.errors import ExitStatus
from embedcli.formats import Format
from tests.conftest import run, run_json, write_small_model
from tests.test_process import PROBE, _env

FORMATS = [f.value for f in Format]

ODD_SETS = [
    ["breakfast", "cereal", "dinner", "lunch"],
    ["cat", "dog", "mouse", "car"],
    ["paris", "london", "berlin", "banana"],
    ["red", "green", "blue", "happy"],
    ["man", "woman", "child", "kitchen"],
    ["one", "two", "three", "four", "apple"],
    ["walk", "run", "swim", "table"],
    ["e-mail", "letter", "phone", "x-ray"],
    ["king", "queen", "prince"],
]



@pytest.mark.parametrize("args", [["vocab", "--top", "3", "-f", "jsonl"],
                                  ["vector", "cat", "-f", "json"], ["rank", "cat", "dog"],
                                  ["doesnt-match", "a", "b", "c", "-f", "json"],
                                  ["batch", "-f", "jsonl", "-"]])
def test_the_new_commands_import_no_heavy_library(bundled, session_cache, args):
    probe = subprocess.run([sys.executable, "-c", PROBE, *args], env=_env(session_cache),
                           input="neighbors cat\nsimilarity cat dog\n", capture_output=True,
                           text=True, timeout=120)
    report = json.loads(probe.stderr.splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, probe.stderr
    assert probe.stdout


# --------------------------------------------------------------------------- doesnt-match


@pytest.mark.parametrize("words", ODD_SETS)
def test_doesnt_match_equals_gensim(runner, bundled_kv, words):
    out = run_json(runner, "doesnt-match", *words)
    assert out["odd"] == bundled_kv.doesnt_match(words)
    ranked = bundled_kv.rank_by_centrality(words)  # (cosine, word), most central first
    assert [w["word"] for w in out["words"]] == [w for _, w in reversed(ranked)]
    np.testing.assert_allclose([w["distance"] for w in out["words"]],
                               [1 - float(c) for c, _ in reversed(ranked)], atol=1e-6)
    assert [w["rank"] for w in out["words"]] == list(range(1, len(words) + 1))
    assert out["words"][0]["word"] == out["odd"] and out["model"] == "glove-6b-50d"


def test_doesnt_match_errors(runner):
    unknown = run(runner, "doesnt-match", "breakfast", "cereal", "dinnner", "lunch")
    assert unknown.exit_code == ExitStatus.NO_ANSWER and unknown.stdout == ""
    assert unknown.stderr.startswith("embedcli: error: 'dinnner' is not in the vocabulary")
    assert "did you mean: dinner" in unknown.stderr
    two = run(runner, "doesnt-match", "cat", "dog")
    assert two.exit_code == ExitStatus.USAGE
    assert two.stderr == "embedcli: error: doesnt-match needs at least three words\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_doesnt_match(runner, fmt):
    result = run(runner, "doesnt-match", "breakfast", "cereal", "dinner", "lunch", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        assert set(json.loads(out)) == {"odd", "model", "words"}
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
        assert rows[0]["word"] == "cereal" and set(rows[0]) == {"rank", "word", "distance"}
    elif fmt == "tsv":
        lines = out.splitlines()
        assert lines[0] == "rank\tword\tdistance" and lines[1].startswith("1\tcereal\t0.34")
    elif fmt == "csv":
        assert list(csv.reader(io.StringIO(out)))[1][:2] == ["1", "cereal"]
    elif fmt == "plain":
        assert out == "cereal\n"
    else:
        assert "odd one out: cereal" in out and "0.3430" in out


# --------------------------------------------------------------------------- rank


def _near_ties(kv, a: str, b: str, tol: float = 1e-6) -> int:
    """Words whose gensim distance from a is within tol of b's: their order is rounding."""
    distances = kv.distances(a)
    return int(np.count_nonzero(np.abs(distances - distances[kv.get_index(b)]) <= tol))


def test_rank_equals_gensim(runner, bundled_kv):
    rng = random.Random(5)
    words = bundled_kv.index_to_key
    pairs = [("cat", "dog"), ("king", "queen"), ("car", "banana"), ("paris", "france"),
             ("good", "bad"), ("cat", "cat"), ("the", "zyzzyva")]
    pairs += [(words[rng.randrange(20000)], words[rng.randrange(400000)]) for _ in range(10)]
    exact = 0
    for a, b in pairs:
        out = run_json(runner, "rank", a, b)
        theirs = bundled_kv.rank(a, b)
        assert abs(out["rank"] - theirs) <= _near_ties(bundled_kv, a, b), (a, b, out, theirs)
        exact += out["rank"] == theirs
        assert out["similarity"] == pytest.approx(float(bundled_kv.similarity(a, b)), abs=1e-6)
        assert (out["a"], out["b"]) == (a, b)
    assert exact >= len(pairs) - 2  # all but words within float32 rounding of a tie


@pytest.mark.parametrize("a,b", [("cat", "rabbit"), ("paris", "rome"), ("computer", "software")])
def test_rank_is_the_place_among_the_neighbours(runner, a, b):
    place = run_json(runner, "rank", a, b)["rank"]
    neighbours = run_json(runner, "neighbors", a, "--top", str(place + 5))["results"]
    assert neighbours[place - 1]["word"] == b


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_rank(runner, fmt):
    result = run(runner, "rank", "cat", "dog", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    if fmt in ("json", "jsonl"):
        assert json.loads(result.stdout)["rank"] == 1
    elif fmt == "tsv":
        assert result.stdout.splitlines()[0] == "a\tb\trank\tsimilarity"
    elif fmt == "plain":
        assert result.stdout == "1\n"
    elif fmt == "table":
        assert "dog is #1 among the neighbours of cat" in result.stdout


def test_rank_of_an_unknown_word(runner):
    result = run(runner, "rank", "cat", "dgo")
    assert result.exit_code == ExitStatus.NO_ANSWER
    assert "'dgo' is not in the vocabulary" in result.stderr and result.stdout == ""


# --------------------------------------------------------------------------- vector


@pytest.mark.parametrize("word", ["cat", "e-mail", "the", "zyzzyva", "1990", ","])
def test_vector_is_the_source_vector(runner, bundled_kv, word):
    out = run_json(runner, "vector", word)
    assert out["word"] == word
    values = np.array(out["vector"], dtype=np.float32)
    # the cache keeps unit vectors and lengths, plus the float32 steps that make their
    # product the file's values again: equal bit for bit, not within a tolerance
    np.testing.assert_array_equal(values.view(np.int32), bundled_kv[word].view(np.int32))


def test_every_vector_of_a_float32_cache_is_exact_and_float16_is_close(tmp_path, bundled_kv):
    from embedcli.models import load

    words = bundled_kv.index_to_key[:3000]
    source = np.array(bundled_kv.vectors[:3000])
    source[7, 3] = 3.4e38  # its length overflows float32: set to zero, as NaN rows are
    source[8, 0] = 1e-42  # subnormal
    source[9] = 0.0  # an all-zero row
    path = write_small_model(tmp_path / "v.bin", words, source, fmt="binary")
    model = load(str(path))
    raw = np.stack([model.raw(i) for i in range(len(model))])
    expected = source.copy()
    expected[7] = 0.0
    np.testing.assert_array_equal(raw.view(np.int32), expected.view(np.int32))
    assert any("float32 cannot hold" in note for note in model.meta["notes"])
    half = load(str(path), dtype="float16")
    close = np.stack([half.raw(i) for i in range(10, len(half))])
    np.testing.assert_allclose(close, source[10:], rtol=2e-3, atol=1e-4)


def test_vector_plain_is_a_vector_file_line(runner, bundled_kv):
    result = run(runner, "vector", "Cat", "-f", "plain")
    assert result.exit_code == 0
    assert result.stderr == "embedcli: note: 'Cat' is not in glove-6b-50d; using 'cat'\n"
    fields = result.stdout.rstrip("\n").split(" ")
    assert fields[0] == "cat" and len(fields) == 51 and result.stdout.count("\n") == 1
    assert fields[1] == "0.45281"  # the shortest decimal of the float32, as in the GloVe file
    np.testing.assert_array_equal(np.array(fields[1:], dtype=np.float32), bundled_kv["cat"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_vector(runner, fmt):
    result = run(runner, "vector", "cat", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt in ("json", "jsonl"):
        data = json.loads(out)
        assert set(data) == {"word", "vector"} and len(data["vector"]) == 50
        assert (fmt == "jsonl") == (out.count("\n") == 1)
    elif fmt in ("tsv", "csv"):
        rows = list(csv.reader(io.StringIO(out), delimiter="\t" if fmt == "tsv" else ","))
        assert rows[0][:3] == ["word", "x1", "x2"] and rows[1][0] == "cat"
        assert len(rows) == 2 and len(rows[1]) == 51
    elif fmt == "table":
        assert "cat" in out and "50 dimensions" in out and "0.4528" in out


def test_vector_of_an_unknown_word(runner):
    result = run(runner, "vector", "dgo")
    assert result.exit_code == ExitStatus.NO_ANSWER and result.stdout == ""
    assert "did you mean: do, go, ago, dog" in result.stderr


# --------------------------------------------------------------------------- vocab


def test_vocab_top_is_the_most_frequent_words(runner, bundled_kv):
    result = run(runner, "vocab", "--top", "7")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == bundled_kv.index_to_key[:7]


def test_vocab_lists_everything_by_default(runner, bundled_kv):
    result = run(runner, "vocab")
    assert result.exit_code == 0
    assert result.stdout.split("\n")[:-1] == bundled_kv.index_to_key


def test_vocab_filters(runner, bundled_kv):
    words = bundled_kv.index_to_key
    prefix = run(runner, "vocab", "--prefix", "photo", "--top", "5").stdout.splitlines()
    assert prefix == [w for w in words if w.startswith("photo")][:5]
    inside = run(runner, "vocab", "--contains", "mail").stdout.splitlines()
    assert inside == [w for w in words if "mail" in w]
    both = run(runner, "vocab", "--prefix", "e", "--contains", "-", "-n", "3").stdout
    assert both.splitlines() == [w for w in words if w.startswith("e") and "-" in w][:3]
    assert run(runner, "vocab", "--prefix", "zzzzzzzz").stdout == ""


def test_vocab_filters_ignore_case_unless_asked(runner):
    folded = run(runner, "vocab", "--prefix", "PHOTO", "-n", "2")
    assert folded.stdout.splitlines() == ["photos", "photo"]  # frequency order
    exact = run(runner, "vocab", "--prefix", "PHOTO", "--case-sensitive")
    assert (exact.exit_code, exact.stdout) == (0, "")


@pytest.mark.parametrize("word,status", [("cat", 0), ("e-mail", 0), ("Cat", 0), ("kign", 1),
                                         ("", 1)])
def test_vocab_has_answers_by_exit_status_alone(runner, word, status):
    result = run(runner, "vocab", "--has", word)
    assert (result.exit_code, result.stdout, result.stderr) == (status, "", "")


def test_vocab_has_case_sensitive(runner):
    assert run(runner, "vocab", "--has", "Cat", "--case-sensitive").exit_code == 1
    assert run(runner, "vocab", "--has", "cat", "--case-sensitive").exit_code == 0


def test_vocab_has_takes_no_filters(runner):
    result = run(runner, "vocab", "--has", "cat", "--prefix", "c")
    assert result.exit_code == ExitStatus.USAGE and "--has" in result.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_vocab(runner, fmt):
    result = run(runner, "vocab", "--top", "3", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        assert json.loads(out) == {"model": "glove-6b-50d", "words": [
            {"rank": 1, "word": "the"}, {"rank": 2, "word": ","}, {"rank": 3, "word": "."}]}
    elif fmt == "jsonl":
        assert [json.loads(line)["word"] for line in out.splitlines()] == ["the", ",", "."]
    elif fmt == "tsv":
        assert out == "rank\tword\n1\tthe\n2\t,\n3\t.\n"
    elif fmt == "csv":
        assert list(csv.reader(io.StringIO(out)))[2] == ["2", ","]
    elif fmt == "plain":
        assert out == "the\n,\n.\n"
    else:
        assert "the" in out and "vocabulary of glove-6b-50d" in out


def test_vocab_json_of_nothing_is_valid(runner):
    result = run(runner, "vocab", "--prefix", "zzzzzzzz", "-f", "json")
    assert json.loads(result.stdout) == {"model": "glove-6b-50d", "words": []}


def test_vocab_ranks_are_frequency_ranks(runner, bundled_kv):
    rows = [json.loads(line) for line in
            run(runner, "vocab", "--prefix", "photo", "-n", "3", "-f", "jsonl").stdout.splitlines()]
    assert all(bundled_kv.index_to_key[r["rank"] - 1] == r["word"] for r in rows)
