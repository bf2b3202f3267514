"""Real-world faults in vector files, each handled: read correctly, or one clear error.

Every file here is written by hand (the faults) or by gensim's own writers (the formats).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from embedcli.errors import ExitStatus
from tests.conftest import run, run_json, write_small_model

GOOD = "the 1 0 0\ncat 0 1 0\ndog 0 0.9 0.1\n"


def model_file(tmp_path: Path, content: bytes | str, name: str = "v.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def neighbours(runner, path: Path, word: str = "cat", *extra: str) -> dict:
    result = run(runner, "neighbors", word, "-m", str(path), "-f", "json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout) | {"stderr": result.stderr}


@pytest.fixture(autouse=True)
def _cache(fresh_cache):
    return fresh_cache


def test_tokens_with_spaces_keep_the_last_dim_fields_as_the_vector(runner, tmp_path):
    # glove.840B has tokens such as ". . ." and "at&t ." ; gensim's reader fails on them
    path = model_file(tmp_path, GOOD + ". . . 0 1 0.01\n")
    out = neighbours(runner, path, "cat", "-n", "1")
    assert out["results"][0]["word"] == ". . ."
    assert ("gensim would misread v.txt (words with spaces, as on line 4); embedcli reads it "
            "as it is") in out["stderr"]
    # and such a word can be asked about, alone or in an expression
    assert neighbours(runner, path, ". . .", "-n", "1")["excluded"][0]["word"] == ". . ."
    assert neighbours(runner, path, "cat + . . .", "-n", "1")["query"] == "cat + . . ."


def test_non_breaking_spaces_stay_inside_words(runner, tmp_path):
    path = model_file(tmp_path, GOOD + "new\u00a0york 0 1 0.01\n")
    assert neighbours(runner, path, "cat", "-n", "1")["results"][0]["word"] == "new\u00a0york"
    out = neighbours(runner, path, "new\u00a0york - cat", "-n", "1")
    assert [t["word"] for t in out["excluded"]] == ["new\u00a0york", "cat"]


def test_a_byte_order_mark_does_not_swallow_the_first_word(runner, tmp_path):
    path = model_file(tmp_path, b"\xef\xbb\xbf" + GOOD.encode())
    assert neighbours(runner, path, "the")["excluded"][0]["word"] == "the"


def test_crlf_line_ends(runner, tmp_path):
    path = model_file(tmp_path, GOOD.replace("\n", "\r\n"))
    out = neighbours(runner, path, "dog")
    assert [r["word"] for r in out["results"]] == ["cat", "the"]


@pytest.mark.parametrize("header", ["", "4 3\n"])
def test_duplicate_words_keep_the_first_and_are_counted(runner, tmp_path, header):
    path = model_file(tmp_path, header + GOOD + "cat 1 0 0\n")
    out = neighbours(runner, path, "cat", "-n", "5")
    assert "1 duplicate words; kept the first of each" in out["stderr"]
    assert [r["word"] for r in out["results"]] == ["dog", "the"]  # cat is still (0, 1, 0)


@pytest.mark.parametrize("count", [2, 9])
def test_a_header_count_that_is_wrong_reads_every_word(runner, tmp_path, count):
    path = model_file(tmp_path, f"{count} 3\n" + GOOD)
    out = neighbours(runner, path, "cat")
    assert len(out["results"]) == 2
    assert f"the header says {count:,} words but the file has 3" in out["stderr"]


@pytest.mark.parametrize("content,line", [
    (GOOD + "bird 1 0\n", 4),
    ("3 3\n" + GOOD.replace("cat 0 1 0", "cat 0 1"), 3),
])
def test_a_line_with_too_few_fields_is_named(runner, tmp_path, content, line):
    path = model_file(tmp_path, content)
    result = run(runner, "neighbors", "cat", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL and result.stdout == ""
    error = result.stderr.splitlines()[-1]
    assert error.startswith("embedcli: error: ") and f"line {line} of {path}" in error
    assert "Traceback" not in result.stderr


def test_a_line_with_one_number_is_refused_where_gensim_would_broadcast_it(runner, tmp_path):
    from gensim.models import KeyedVectors

    path = model_file(tmp_path, "the 1 2\ncat 1\n")
    kv = KeyedVectors.load_word2vec_format(str(path), no_header=True)
    assert kv["cat"].tolist() == [1.0, 1.0]  # gensim silently fills the row with the 1
    result = run(runner, "neighbors", "cat", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL
    assert f"line 2 of {path} has 2 fields; expected a word and 2 numbers" in result.stderr


def test_a_field_that_is_not_a_number_is_named(runner, tmp_path):
    path = model_file(tmp_path, GOOD + "bird 1 zero 0\n")
    result = run(runner, "neighbors", "cat", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL
    assert f"line 4 of {path}: 'zero' is not a number" in result.stderr


def test_invalid_utf8_names_the_byte_and_replace_reads_on(runner, tmp_path):
    content = GOOD.encode() + b"caf\xe9 0 1 0.01\n"
    path = model_file(tmp_path, content)
    result = run(runner, "neighbors", "cat", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL
    offset = content.index(b"\xe9")
    assert f"invalid UTF-8 at byte {offset:,} (line 4)" in result.stderr
    assert "--unicode-errors replace" in result.stderr
    out = neighbours(runner, path, "cat", "--unicode-errors", "replace", "-n", "1")
    assert out["results"][0]["word"] == "caf\ufffd"


def test_nan_and_infinite_vectors_are_zeroed_never_a_nan_score(runner, tmp_path):
    path = model_file(tmp_path, GOOD + "bad nan 1 0\nworse inf 0 0\n")
    out = neighbours(runner, path, "cat", "-n", "10")
    assert "2 vectors hold NaN or infinity; they are set to zero" in out["stderr"]
    scores = {r["word"]: r["score"] for r in out["results"]}
    assert scores["bad"] == 0.0 and scores["worse"] == 0.0
    table = run(runner, "neighbors", "cat", "-m", str(path), "-f", "tsv", "-n", "10").stdout
    assert "nan" not in table.lower()
    bad = run(runner, "neighbors", "bad - worse", "-m", str(path))
    assert "'bad', 'worse' have no usable vector" in bad.stderr
    mixed = run(runner, "neighbors", "cat - cat + bad", "-m", str(path))  # cat cancels itself
    assert mixed.exit_code == ExitStatus.NO_ANSWER and "cancel out" in mixed.stderr
    weightless = run(runner, "neighbors", "bad + 0*cat", "-m", str(path))
    assert "'bad' has no usable vector" in weightless.stderr


def test_all_zero_vectors_are_reported_and_score_zero(runner, tmp_path):
    path = model_file(tmp_path, GOOD + "nothing 0 0 0\n")
    out = neighbours(runner, path, "cat", "-n", "10")
    assert "1 vectors are all zero" in out["stderr"]
    assert {r["word"]: r["score"] for r in out["results"]}["nothing"] == 0.0
    zero_query = run(runner, "neighbors", "nothing", "-m", str(path))
    assert zero_query.exit_code == ExitStatus.NO_ANSWER
    assert "'nothing' has no usable vector" in zero_query.stderr
    assert "cancel out" not in zero_query.stderr


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_file_is_a_clear_error(runner, tmp_path, content):
    path = model_file(tmp_path, content)
    result = run(runner, "neighbors", "cat", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL
    assert "is empty" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_truncated_binary_file_is_a_clear_error(runner, tmp_path):
    path = write_small_model(tmp_path / "v.bin", ["the", "cat", "dog"],
                             np.eye(3, dtype=np.float32), fmt="binary")
    path.write_bytes(path.read_bytes()[:-5])
    result = run(runner, "neighbors", "cat", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL
    assert "word2vec binary" in result.stderr and "Traceback" not in result.stderr


def test_limit_loads_only_the_first_words(runner, tmp_path, bundled_kv):
    path = write_small_model(tmp_path / "v.txt", bundled_kv.index_to_key[:3000],
                             bundled_kv.vectors[:3000])
    out = run_json(runner, "neighbors", "king", "-m", str(path), "--limit", "1000")
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(path), limit=1000)
    assert [r["word"] for r in out["results"]] == [w for w, _ in kv.most_similar("king")]
    info = run_json(runner, "models", "info", str(path))
    assert info["words"] == 3000  # without --limit, its own cache entry


# ---------------------------------------------------------------- other containers


def test_a_member_of_a_zip_archive(runner, tmp_path, bundled_kv):
    text = write_small_model(tmp_path / "glove.6B.50d.txt", bundled_kv.index_to_key[:2000],
                             bundled_kv.vectors[:2000], fmt="glove")
    archive = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(text, "glove.6B.50d.txt")
        zf.writestr("readme.txt", "not vectors")
    out = run_json(runner, "analogy", "king - man + woman", "-m", f"{archive}:glove.6B.50d.txt")
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(text), no_header=True)
    expected = kv.most_similar(positive=["king", "woman"], negative=["man"])
    assert [r["word"] for r in out["results"]] == [w for w, _ in expected]
    np.testing.assert_allclose([r["score"] for r in out["results"]], [s for _, s in expected],
                               atol=1e-5)
    missing = run(runner, "neighbors", "king", "-m", f"{archive}:glove.6B.300d.txt")
    assert missing.exit_code == ExitStatus.MODEL
    assert "no member 'glove.6B.300d.txt'" in missing.stderr and "glove.6B.50d.txt" in \
        missing.stderr
    bare = run(runner, "neighbors", "king", "-m", str(archive))
    assert bare.exit_code == ExitStatus.MODEL and "name the file inside it" in bare.stderr


def test_a_gensim_save_needs_trust(runner, tmp_path, bundled_kv):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=50, count=0, dtype=np.float32)
    kv.add_vectors(bundled_kv.index_to_key[:2000], bundled_kv.vectors[:2000])
    path = tmp_path / "small.kv"
    kv.save(str(path))
    refused = run(runner, "neighbors", "king", "-m", str(path))
    assert refused.exit_code == ExitStatus.MODEL
    assert "--trust" in refused.stderr and "runs code" in refused.stderr
    assert not (tmp_path / "cache" / "models").exists() or not any(
        (tmp_path / "cache" / "models").iterdir())
    out = run_json(runner, "neighbors", "king", "-m", str(path), "--trust")
    expected = kv.most_similar("king")
    assert [r["word"] for r in out["results"]] == [w for w, _ in expected]
    # once converted, the cache is read without pickle, and without --trust
    assert run(runner, "neighbors", "king", "-m", str(path), "-f", "plain").exit_code == 0


def test_a_word2vec_model_file_uses_its_wv(runner, tmp_path):
    from gensim.models import Word2Vec

    sentences = [["king", "queen", "man", "woman", "royal"], ["cat", "dog", "pet", "animal"]] * 20
    model = Word2Vec(sentences, vector_size=8, min_count=1, seed=1, workers=1, epochs=3)
    path = tmp_path / "w2v.model"
    model.save(str(path))
    out = run_json(runner, "neighbors", "cat", "-m", str(path), "--trust", "-n", "3")
    expected = model.wv.most_similar("cat", topn=3)
    assert [r["word"] for r in out["results"]] == [w for w, _ in expected]


def test_a_fasttext_vec_file_with_trailing_spaces(runner, tmp_path):
    # fastText's .vec: a COUNT DIM header, and a space before each line's end
    path = model_file(tmp_path, "3 3 \n" + GOOD.replace("\n", " \n"), "wiki.en.vec")
    out = neighbours(runner, path, "dog")
    assert [r["word"] for r in out["results"]] == ["cat", "the"]
    assert "misread" not in out["stderr"]  # a regular file, as gensim would read it too


def test_a_fasttext_model_file_uses_its_wv(runner, tmp_path):
    from gensim.models import FastText

    sentences = [["king", "queen", "man", "woman", "royal"], ["cat", "dog", "pet", "animal"]] * 20
    model = FastText(sentences, vector_size=8, min_count=1, seed=1, workers=1, epochs=3)
    path = tmp_path / "ft.model"
    model.save(str(path))
    out = run_json(runner, "neighbors", "cat", "-m", str(path), "--trust", "-n", "3")
    assert [r["word"] for r in out["results"]] == [w for w, _ in model.wv.most_similar(
        "cat", topn=3)]


def test_a_gensim_data_copy_loads_offline(runner, tmp_path, monkeypatch, bundled_kv):
    data = tmp_path / "gensim-data"
    monkeypatch.setenv("GENSIM_DATA_DIR", str(data))
    (data / "glove-twitter-25").mkdir(parents=True)
    write_small_model(data / "glove-twitter-25" / "glove-twitter-25.gz",
                      bundled_kv.index_to_key[:1000], bundled_kv.vectors[:1000, :25])
    out = run_json(runner, "neighbors", "king", "-m", "glove-twitter-25", "-n", "3")
    assert out["model"] == "glove-twitter-25" and len(out["results"]) == 3


def test_a_missing_gensim_data_model_says_what_to_download(tmp_path):
    # a real process, with no network beyond the package registries
    env = {"EMBEDCLI_CACHE_DIR": str(tmp_path / "c"), "GENSIM_DATA_DIR": str(tmp_path / "gd"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "embedcli", "neighbors", "cat", "-m",
                          "glove-twitter-50"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == ExitStatus.MODEL, out.stderr
    error = [line for line in out.stderr.splitlines() if line.startswith("embedcli: error")]
    assert len(error) == 1
    assert "glove-twitter-50.gz" in error[0] and str(tmp_path / "gd") in error[0]
    assert "Traceback" not in out.stderr


def test_float16_cache_is_half_the_size_and_scores_stay_close(runner, tmp_path, bundled_kv):
    path = write_small_model(tmp_path / "v.txt", bundled_kv.index_to_key[:5000],
                             bundled_kv.vectors[:5000])
    full = run_json(runner, "analogy", "king - man + woman", "-m", str(path))
    half = run_json(runner, "analogy", "king - man + woman", "-m", str(path), "--dtype",
                    "float16")
    assert [r["word"] for r in half["results"]][:3] == [r["word"] for r in full["results"]][:3]
    np.testing.assert_allclose([r["score"] for r in half["results"][:3]],
                               [r["score"] for r in full["results"][:3]], atol=2e-3)
    sizes = {d.name: (d / "vectors.npy").stat().st_size
             for d in (tmp_path / "cache" / "models").iterdir()}
    big, small = sorted(sizes.values(), reverse=True)
    assert small - 128 == (big - 128) // 2


def test_listing_models_never_starts_a_download(runner, tmp_path, monkeypatch):
    """A registered gensim-data model that is not downloaded yet is listed as such; only
    its first use downloads it (the download itself cannot run here: no network)."""
    import embedcli.models

    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "gd"))
    embedcli.models.Registry(models={"tw": {"path": "glove-twitter-25"}}).save()

    def no_download(name):
        raise AssertionError(f"models list downloaded {name}")

    monkeypatch.setattr(embedcli.models, "_download_gensim_data", no_download)
    rows = run_json(runner, "models", "list")
    tw = next(row for row in rows if row["name"] == "tw")
    assert "not downloaded yet" in tw["source"] and tw["words"] is None


def test_every_name_of_the_bundled_model_is_the_default(runner, bundled):
    for name in ("glove-6b-50d", "glove-wiki-gigaword-50", "glove.6B.50d"):
        assert run_json(runner, "models", "info", name)["default"] is True, name


@pytest.mark.parametrize("tail,kept,note", [
    ("bird 0.5 0.25 0.125\n \t", ["the", "cat", "dog", "bird"], False),  # blank tail: fine
    ("bird 0.5 0.25 0.12", ["the", "cat", "dog"], True),  # a number maybe cut short
    ("bird 0.5 0.2", ["the", "cat", "dog"], True),  # fields missing
])
@pytest.mark.parametrize("limit", [None, "100"])
def test_a_last_line_without_a_newline_is_left_out(runner, tmp_path, tail, kept, note, limit):
    path = model_file(tmp_path, GOOD + tail)
    result = run(runner, "vocab", "-m", str(path), *(["--limit", limit] if limit else []))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == kept
    assert ("the file ends in the middle of line 4: it looks truncated; that line is left out"
            in result.stderr) == note


def test_a_file_that_is_one_cut_off_line_says_so(runner, tmp_path):
    path = model_file(tmp_path, "cat 0.1 0.2 0.3")
    result = run(runner, "vocab", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL
    assert "holds no complete vectors: it ends in the middle of line 1" in result.stderr


def test_what_gensim_would_misread_is_said_before_a_binary_files_error(runner, tmp_path):
    """A binary file read in one pass still says what gensim would misread (here, a header
    that over-counts) before the error its last checks find (a word with a line break)."""
    one = np.ones(3, dtype=np.float32).tobytes()
    path = model_file(tmp_path, b"3 3\n" + b"a\nb " + one + b"\ncat " + one + b"\n", "nl.bin")
    result = run(runner, "vocab", "-m", str(path))
    assert result.exit_code == ExitStatus.MODEL
    lines = result.stderr.splitlines()
    assert any("gensim would misread nl.bin (the header says 3 words but the file has 2)" in x
               for x in lines[:-1]), result.stderr
    assert "contains a line break" in lines[-1]
