"""fastText models with subwords: Facebook binaries and gensim FastText saves.

Tiny models are trained with gensim once per session (a second or two), saved in
Facebook's format (``save_facebook_model``) and as gensim saves, and every command's
answers, for words in and outside the vocabulary, are compared with what gensim's own
loaded vectors answer (``load_facebook_vectors``, ``FastText.load``).
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedcli.errors import ExitStatus
from tests.conftest import run, run_json, write_small_model

STEMS = ["walk", "talk", "jump", "play", "cook", "paint", "sing", "dance", "write", "read",
         "king", "queen", "prince", "princess", "man", "woman", "boy", "girl", "uncle", "aunt",
         "paris", "france", "rome", "italy", "berlin", "germany", "café", "naïve", "zürich",
         "東京", "москва"]
SUFFIXES = ["", "s", "ed", "ing", "er"]
VERBS = STEMS[:10]
# words outside the vocabulary: misspellings, new inflections, other scripts, bytes >= 0x80
OOV = ["kingg", "walkings", "queeens", "cafés", "zürichs", "東京都", "москвы", "xyzzyq"]
F32, F16 = 1e-6, 2e-3  # float16: the bucket rows and unit vectors hold about 3 digits


def _corpus() -> list[list[str]]:
    rng = random.Random(14)
    words = [s + x for s in VERBS for x in SUFFIXES] + STEMS[10:]
    groups = [words[i:i + 12] for i in range(0, len(words), 12)]
    return [[rng.choice(rng.choice(groups) if rng.random() < 0.3 else groups[k % len(groups)])
             for _ in range(10)] for k in range(600)]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny FastText model, as a Facebook binary and as a gensim save."""
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    sentences = _corpus()
    model = FastText(vector_size=24, window=3, min_count=1, epochs=10, workers=1, seed=7,
                     bucket=4000, min_n=3, max_n=6, sample=0)
    model.build_vocab(sentences)
    model.train(sentences, total_examples=len(sentences), epochs=model.epochs)
    where = tmp_path_factory.mktemp("fasttext")
    save_facebook_model(model, str(where / "tiny.bin"))
    model.save(str(where / "tiny.model"))
    return {"bin": where / "tiny.bin", "model": where / "tiny.model"}


@pytest.fixture(scope="session")
def reference(trained):
    """gensim's own loaded vectors of each file: the reference for every answer."""
    from gensim.models import FastText
    from gensim.models.fasttext import load_facebook_vectors

    return {"bin": load_facebook_vectors(str(trained["bin"])),
            "model": FastText.load(str(trained["model"])).wv}


@pytest.fixture(params=[("bin", "float32"), ("bin", "float16"), ("model", "float32"),
                        ("model", "float16")], ids=lambda p: "-".join(p))
def ft(request, trained, reference):
    """(the loading options, gensim's vectors, the tolerance) of one file and dtype."""
    kind, dtype = request.param
    options = ["-m", str(trained[kind]), "--dtype", dtype]
    if kind == "model":
        options.append("--trust")
    return options, reference[kind], F32 if dtype == "float32" else F16


def _same_ranking(ours: dict, theirs: list[tuple[str, float]], tol: float) -> None:
    words = [r["word"] for r in ours["results"]]
    if tol == F32:
        assert words == [w for w, _ in theirs]
        np.testing.assert_allclose([r["score"] for r in ours["results"]],
                                   [s for _, s in theirs], atol=tol)
    else:  # float16 may swap words whose scores are that close: the k-th answer is one
        # whose exact score is within the tolerance of gensim's k-th, and ours is close
        # whose score is within the tolerance of gensim's k-th, and each word gensim also
        # has scores as gensim scores it
        best = dict(theirs)
        for r, (_, score) in zip(ours["results"], theirs, strict=True):
            assert abs(r["score"] - score) < tol
            assert r["word"] not in best or abs(r["score"] - best[r["word"]]) < tol


# --------------------------------------------------------------------------- the maths


@settings(max_examples=300, deadline=None)
@given(word=st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
       minn=st.integers(1, 4), span=st.integers(0, 4))
def test_ngrams_and_hashes_are_gensims(word, minn, span):
    from gensim.models.fasttext import ft_ngram_hashes

    from embedcli.subwords import ngram_hashes

    assert ngram_hashes(word, minn, minn + span, 2_000_000) == \
        ft_ngram_hashes(word, minn, minn + span, 2_000_000)


def test_the_hash_reads_bytes_as_signed_chars():
    from gensim.models.fasttext_inner import ft_hash_bytes

    from embedcli.subwords import ngram_hashes

    def fnv(data: bytes) -> int:  # plain FNV-1a: each byte xored in as it is
        h = 2166136261
        for b in data:
            h = ((h ^ b) * 16777619) & 0xFFFFFFFF
        return h

    # the one n-gram of length 3 of "é" is all of <é>; plain FNV-1a would xor in 0xc3 and
    # 0xa9, fastText's C++ xors in 0xffffffc3 and 0xffffffa9
    whole = "<\u00e9>".encode()
    assert ngram_hashes("\u00e9", 3, 3, 2**32) == [ft_hash_bytes(whole)] != [fnv(whole)]
    assert ngram_hashes("a", 3, 3, 2**32) == [ft_hash_bytes(b"<a>")] == [fnv(b"<a>")]


def test_the_reader_gives_gensims_vectors_and_buckets(trained, reference):
    from embedcli.fasttext_bin import read

    kv = reference["bin"]
    with open(trained["bin"], "rb") as fh:
        found = read(fh, "tiny.bin")
    assert found.words == list(kv.index_to_key)
    assert (found.settings.minn, found.settings.maxn, found.settings.bucket) == \
        (kv.min_n, kv.max_n, kv.bucket)
    np.testing.assert_array_equal(found.ngrams, kv.vectors_ngrams)
    np.testing.assert_array_equal(found.vectors, kv.vectors)  # kv[word], not vectors_vocab
    assert np.abs(kv.vectors - kv.vectors_vocab).max() > 1e-3  # (the two differ)


def test_a_subword_vector_is_gensims_get_vector(trained, reference):
    from embedcli.models import load

    for kind, options in (("bin", {}), ("model", {"trust": True})):
        from embedcli.readers import ReadOptions

        model = load(str(trained[kind]), options=ReadOptions(**options) if options else None)
        for word in OOV:
            row, count = model.subword_row(word)
            assert row >= len(model) and count == len(
                __import__("gensim").models.fasttext.ft_ngram_hashes(word, 3, 6, 4000))
            np.testing.assert_allclose(model.raw(row), reference[kind][word], atol=F32)


def test_subword_rows_are_never_reused_when_the_model_forgets_old_ones(trained, reference,
                                                                      monkeypatch):
    import embedcli.models
    from embedcli.models import load

    monkeypatch.setattr(embedcli.models, "_SUBWORD_MEMO", 2)
    model = load(str(trained["bin"]))
    rows = [model.subword_row(w)[0] for w in OOV[:3]]
    assert len(set(rows)) == 3 and OOV[0] not in model._oov  # the oldest is forgotten
    again = model.subword_row(OOV[0])[0]
    assert again not in rows
    np.testing.assert_allclose(model.raw(again), reference["bin"][OOV[0]], atol=F32)
    assert model.word(rows[2]) == OOV[2]


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize("word", ["king", "walking", "café", *OOV[:4], "東京都"])
def test_neighbours_equal_gensims_most_similar(runner, ft, word):
    options, kv, tol = ft
    ours = run_json(runner, "neighbors", word, "-n", "8", *options)
    _same_ranking(ours, kv.most_similar(word, topn=8), tol)
    if word in kv.key_to_index:
        assert [e["word"] for e in ours["excluded"]] == [word]
    else:  # gensim leaves nothing out for a word outside the vocabulary: neither do we
        assert ours["excluded"] == []


@pytest.mark.parametrize(("positive", "negative"), [
    (["kingg", "woman"], ["man"]), (["walkings", "talk"], ["walk"]), (["king", "womann"], ["man"]),
])
def test_analogies_with_words_outside_the_vocabulary_equal_gensims(runner, ft, positive,
                                                                   negative):
    options, kv, tol = ft
    query = f"{positive[0]} - {negative[0]} + {positive[1]}"
    ours = run_json(runner, "analogy", query, "-n", "6", *options)
    _same_ranking(ours, kv.most_similar(positive=positive, negative=negative, topn=6), tol)
    assert {e["word"] for e in ours["excluded"]} == \
        {w for w in positive + negative if w in kv.key_to_index}


def test_3cosmul_with_a_word_outside_the_vocabulary_equals_gensims(runner, ft):
    options, kv, tol = ft
    ours = run_json(runner, "analogy", "kingg - man + woman", "--method", "mul", "-n", "5",
                    *options)
    theirs = kv.most_similar_cosmul(positive=["kingg", "woman"], negative=["man"], topn=5)
    _same_ranking(ours, theirs, tol)


@pytest.mark.parametrize(("a", "b"), [("kingg", "king"), ("walkings", "walking"),
                                      ("cafés", "東京都"), ("queen", "prince")])
def test_similarity_and_vector_equal_gensims(runner, ft, a, b):
    options, kv, tol = ft
    assert abs(run_json(runner, "similarity", a, b, *options)["similarity"]
               - kv.similarity(a, b)) < tol
    ours = run_json(runner, "vector", a, *options)["vector"]
    np.testing.assert_allclose(ours, kv[a], atol=tol)


def test_doesnt_match_and_rank_with_a_word_outside_the_vocabulary(runner, ft):
    options, kv, tol = ft
    words = ["walking", "talking", "jumpings", "queen"]
    ours = run_json(runner, "doesnt-match", *words, *options)
    assert ours["odd"] == kv.doesnt_match(words)
    # rank: where b stands among a's neighbours, in and outside the vocabulary
    top = run_json(runner, "neighbors", "kingg", "-n", "50", *options)["results"]
    for hit in top[:5]:
        if tol == F32:
            assert run_json(runner, "rank", "kingg", hit["word"], *options)["rank"] == hit["rank"]
    if tol == F32:  # (float16 reorders words closer than its precision)
        assert run_json(runner, "rank", "king", "queen", *options)["rank"] == \
            kv.rank("king", "queen")
    inside = run_json(runner, "rank", "king", "kingg", *options)
    scores = [h["score"] for h in run_json(runner, "neighbors", "king", "-n", "1000",
                                           *options)["results"]]
    assert inside["rank"] == 1 + sum(s > inside["similarity"] for s in scores)


def test_one_note_per_word_outside_the_vocabulary(runner, trained):
    from gensim.models.fasttext import ft_ngram_hashes

    result = run(runner, "analogy", "kingg - man + kingg + cafés", "-m", str(trained["bin"]))
    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "not in the vocabulary" in line]
    name = str(trained["bin"])
    assert notes == [
        f"embedcli: note: 'kingg' is not in the vocabulary of {name}; its vector comes from "
        f"{len(ft_ngram_hashes('kingg', 3, 6, 4000))} character n-grams",
        f"embedcli: note: 'cafés' is not in the vocabulary of {name}; its vector comes from "
        f"{len(ft_ngram_hashes('cafés', 3, 6, 4000))} character n-grams"]
    assert "14 character n-grams" in notes[0]  # <kingg>: 5 + 4 + 3 + 2 n-grams of 3 to 6


def test_no_subwords_gives_the_unknown_word_error_and_vocab_has_is_the_vocabulary(runner,
                                                                                   trained):
    m = ["-m", str(trained["bin"])]
    result = run(runner, "neighbors", "kingg", *m, "--no-subwords")
    assert result.exit_code == ExitStatus.NO_ANSWER
    assert result.stderr.startswith("embedcli: error: 'kingg' is not in the vocabulary of")
    assert "did you mean: king" in result.stderr and result.stdout == ""
    assert run(runner, "vocab", "--has", "kingg", *m).exit_code == 1
    assert run(runner, "vocab", "--has", "king", *m).exit_code == 0
    batch = run(runner, "batch", "--no-subwords", *m, "-f", "jsonl",
                input="similarity kingg king\n")
    assert batch.exit_code == 1 and "did you mean" in json.loads(batch.stdout)["error"]


def test_batch_shell_and_explain_answer_as_the_single_commands(runner, trained):
    m = ["-m", str(trained["bin"])]
    lines = ["neighbors kingg -n 4", "analogy kingg - man + woman -n 3", "similarity kingg king",
             "rank kingg king", "rank king kingg", "vector cafés", "doesnt-match kingg queen walk"]
    batch = run(runner, "batch", *m, "-f", "jsonl", input="\n".join(lines) + "\n")
    assert batch.exit_code == 0, batch.stderr
    answers = [json.loads(x) for x in batch.stdout.splitlines()]
    for k, (line, got) in enumerate(zip(lines, answers, strict=True), 1):
        single = run_json(runner, *line.split(" ", 1)[0:1], *line.split()[1:], *m)
        assert got == {"line": k, **single}
    assert batch.stderr.count("'kingg' is not in the vocabulary") == 1
    shell = run(runner, "shell", *m, input="kingg\nkingg ~ king\n")
    assert shell.exit_code == 0, shell.stderr
    first, second = (json.loads(x) for x in shell.stdout.splitlines())
    assert first["results"][:4] == answers[0]["results"]  # (the shell's top is 10)
    assert second["similarity"] == answers[2]["similarity"]
    result = run(runner, "explain", "kingg - man + woman", "--expect", "queenn", "-n", "3", *m,
                 "-f", "json")
    assert result.exit_code in (0, 1), result.stderr  # 1: queenn is not within the top 3
    explained = json.loads(result.stdout)
    analogy = run_json(runner, "analogy", "kingg - man + woman", "-n", "3", *m)
    assert explained["results"] == analogy["results"]
    assert explained["expected"]["word"] == "queenn" and explained["expected"]["rank"] >= 1


def test_a_model_without_subwords_is_as_before(runner, tmp_path):
    path = write_small_model(tmp_path / "w.bin", ["king", "queen", "man"],
                             np.eye(3, dtype=np.float32), fmt="binary")  # word2vec, named .bin
    assert run_json(runner, "neighbors", "king", "-m", str(path))["results"]
    result = run(runner, "neighbors", "kingg", "-m", str(path))
    assert result.exit_code == ExitStatus.NO_ANSWER and "did you mean: king" in result.stderr


# --------------------------------------------------------------------------- the cache


def test_the_cache_keeps_the_buckets_with_checksums_and_no_gensim_after(trained, fresh_cache):
    from embedcli.models import entry_dir_for, load, resolve

    model = load(str(trained["bin"]), dtype="float16")
    entry = entry_dir_for(resolve(str(trained["bin"]), dtype="float16"))
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["subwords"] == {"minn": 3, "maxn": 6, "bucket": 4000}
    ngrams = np.load(entry / "ngrams.npy", mmap_mode="r")
    assert ngrams.shape == (4000, 24) and ngrams.dtype == np.float16
    assert meta["crc32"]["ngrams.npy"] == zlib.crc32((entry / "ngrams.npy").read_bytes())
    assert not any(p.suffix in (".pkl", ".pickle") for p in entry.iterdir())
    del model
    probe = ("import sys, json\nfrom embedcli.models import load\n"
             f"m = load({str(trained['bin'])!r}, dtype='float16')\n"
             "row, count = m.subword_row('kingg')\n"
             "print(json.dumps([count, m.raw(row).tolist(), "
             "sorted({x.split('.')[0] for x in sys.modules} & {'gensim', 'scipy', 'pyarrow'})]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    count, vector, heavy = json.loads(out.stdout)
    assert heavy == [] and count == 14


def test_damage_to_the_buckets_is_found(runner, trained, fresh_cache):
    from embedcli.models import entry_dir_for, resolve, sampled_ranges

    m = ["-m", str(trained["bin"])]
    assert run(runner, "neighbors", "kingg", *m).exit_code == 0
    entry = entry_dir_for(resolve(str(trained["bin"])))
    path = entry / "ngrams.npy"
    data = bytearray(path.read_bytes())
    sampled = {i for a, b in sampled_ranges(len(data)) for i in range(a, b)}
    hidden = next(i for i in range(len(data) // 2, len(data)) if i not in sampled)
    data[hidden] ^= 0x40  # outside the sample: only models check reads it
    path.write_bytes(bytes(data))
    assert run(runner, "neighbors", "kingg", *m).exit_code == 0
    check = run(runner, "models", "check", *m[1:])
    assert check.exit_code == ExitStatus.MODEL
    assert "ngrams.npy does not match its checksum" in check.stderr
    assert not entry.exists()
    assert run(runner, "neighbors", "kingg", *m).exit_code == 0  # converted again
    data = bytearray(path.read_bytes())
    data[200] ^= 0x40  # inside the sample: opening finds it and rebuilds
    path.write_bytes(bytes(data))
    again = run(runner, "neighbors", "kingg", *m)
    assert again.exit_code == 0
    assert "ngrams.npy does not match its checksum); rebuilding it" in again.stderr
    meta = json.loads((entry / "meta.json").read_text())
    meta["subwords"]["bucket"] = 3999
    (entry / "meta.json").write_text(json.dumps(meta))
    wrong = run(runner, "neighbors", "kingg", *m)
    assert wrong.exit_code == 0 and "ngrams.npy has the wrong shape); rebuilding" in wrong.stderr


def test_models_add_registers_a_fasttext_binary(runner, trained):
    assert run(runner, "models", "add", "tiny", str(trained["bin"])).exit_code == 0
    result = run(runner, "similarity", "kingg", "king", "-m", "tiny")
    assert result.exit_code == 0
    assert "'kingg' is not in the vocabulary of tiny; its vector comes from 14" in result.stderr
    info = run_json(runner, "models", "info", "tiny")
    assert info["subwords"] == {"minn": 3, "maxn": 6, "bucket": 4000}
    assert run_json(runner, "models", "info", "glove-6b-50d")["subwords"] is None


# --------------------------------------------------------------------------- faults


def _one_error(result) -> str:
    assert result.exit_code == ExitStatus.MODEL, (result.exit_code, result.stderr)
    errors = [x for x in result.stderr.splitlines() if x.startswith("embedcli: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr and result.stdout == ""
    return errors[0]


@pytest.mark.parametrize("keep", [6, 40, 100, 400, 0.5, -5])
def test_a_cut_off_fasttext_binary_is_one_clear_error(runner, trained, tmp_path, keep):
    data = trained["bin"].read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:cut])
    error = _one_error(run(runner, "neighbors", "king", "-m", str(path)))
    assert str(path) in error and ("cut off" in error or "not a vector file" in error)


def test_other_fasttext_files_are_one_clear_error(runner, trained, tmp_path):
    data = bytearray(trained["bin"].read_bytes())
    newer = tmp_path / "newer.bin"
    newer.write_bytes(data[:4] + struct.pack("<i", 99) + data[8:])
    assert "version 99" in _one_error(run(runner, "neighbors", "king", "-m", str(newer)))
    labels = tmp_path / "classifier.bin"
    head = 8 + 56
    size, nwords, _nlabels = struct.unpack("<3i", data[head:head + 12])
    labels.write_bytes(data[:head] + struct.pack("<3i", size + 1, nwords, 1) + data[head + 12:])
    assert "supervised" in _one_error(run(runner, "neighbors", "king", "-m", str(labels)))
    # a word2vec binary whose header was replaced by fastText's magic number
    fake = tmp_path / "fake.bin"
    w2v = write_small_model(tmp_path / "w.bin", ["a", "b"], np.eye(2), fmt="binary")
    fake.write_bytes(data[:8] + w2v.read_bytes())
    error = _one_error(run(runner, "neighbors", "a", "-m", str(fake)))
    assert str(fake) in error


def test_a_conversion_shows_its_progress_on_a_terminal(trained, tmp_path):
    import os

    from tests.conftest import run_with_stderr_on_a_terminal

    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    env["EMBEDCLI_CACHE_DIR"] = str(tmp_path / "cache")
    status, stdout, seen = run_with_stderr_on_a_terminal(
        ["similarity", "kingg", "king", "-m", str(trained["bin"]), "-f", "plain"], env)
    assert status == 0 and float(stdout) > 0
    assert b"converting" in seen and b"\x1b[" in seen  # drawn with terminal control codes
    # rich's live progress lines of the fastText stages: reading, adding n-grams, writing
    # (each drawn at least once, even for a file this small)
    assert b"(fastText)" in seen and b"adding the n-grams" in seen and b"n-gram vectors" in seen


def test_explore_takes_no_subwords_too(runner, trained, tmp_path):
    m = ["-m", str(trained["bin"])]
    out = tmp_path / "map.html"
    result = run(runner, "explore", "kingg", "--frequent", "20", "--out", str(out), *m,
                 "--no-subwords")
    assert result.exit_code == ExitStatus.NO_ANSWER and not out.exists()
    assert "'kingg' is not in the vocabulary of" in result.stderr


def test_explain_by_3cosmul_places_a_word_outside_the_vocabulary(runner, trained, reference):
    """explain --method mul --expect WORD, WORD a subword vector: its rank and score among
    the 3CosMul answers, as gensim's most_similar_cosmul scores it."""
    m = ["-m", str(trained["bin"])]
    result = run(runner, "explain", "king - man + woman", "--method", "mul", "--expect",
                 "queenn", "-n", "3", *m, "-f", "json")
    assert result.exit_code in (0, 1), result.stderr
    expected = json.loads(result.stdout)["expected"]
    kv = reference["bin"]
    vec = kv.get_vector("queenn", norm=True)
    cos = [float(vec @ kv.get_vector(w, norm=True)) for w in ("king", "woman", "man")]
    score = ((1 + cos[0]) / 2) * ((1 + cos[1]) / 2) / (((1 + cos[2]) / 2) + 1e-6)
    assert expected["word"] == "queenn" and abs(expected["score"] - score) < 1e-5
    every = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=None)
    inputs = [kv.key_to_index[w] for w in ("king", "woman", "man")]
    above = int((every > score + 1e-5).sum()) - int((every[inputs] > score + 1e-5).sum())
    close = int((abs(every - score) <= 1e-5).sum())
    assert above + 1 <= expected["rank"] <= above + 1 + close
