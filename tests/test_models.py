"""Loading vector files through gensim, and the cache: atomic, versioned, self-healing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from embedcli.errors import ExitStatus, ModelError
from embedcli.models import FORMAT_VERSION, load
from embedcli.readers import Location, detect
from tests.conftest import run, run_json, write_small_model

# Vectors chosen so that the answers are exact. Dimensions: royal, male, female, person.
# Every word has the same length, so king - man + woman = (1,1,0,0) - (0,1,0,1) + (0,0,1,1)
# = (1,0,1,0) = queen, with cosine exactly 1.
WORDS = ["king", "queen", "man", "woman", "e-mail", "apple", "zero"]
VECTORS = [
    [1.0, 1.0, 0.0, 0.0],   # king
    [1.0, 0.0, 1.0, 0.0],   # queen
    [0.0, 1.0, 0.0, 1.0],   # man
    [0.0, 0.0, 1.0, 1.0],   # woman
    [0.0, 0.0, 0.0, 3.0],   # e-mail
    [0.2, 0.1, 0.1, 0.9],   # apple: nearest to e-mail
    [0.0, 0.0, 0.0, 0.0],   # zero: an all-zero vector
]


@pytest.fixture(params=["word2vec", "glove", "binary"])
def small_model(request, tmp_path) -> Path:
    return write_small_model(tmp_path / f"small.{request.param}", WORDS, VECTORS,
                             fmt=request.param)


def test_every_format_loads_to_the_same_words_and_vectors(small_model, fresh_cache):
    model = load(str(small_model))
    assert model.words() == WORDS
    raw = np.asarray(model.vectors) * np.asarray(model.norms)[:, None]
    np.testing.assert_allclose(raw, np.asarray(VECTORS), atol=1e-6)
    assert [model.index(w) for w in WORDS] == list(range(len(WORDS)))
    assert model.index("nope") is None and model.index("kin") is None


@pytest.mark.parametrize("name,fmt", [("m.txt.gz", "word2vec"), ("m.txt.bz2", "glove"),
                                      ("m.bin.gz", "binary")])
def test_compressed_files_load(runner, tmp_path, fresh_cache, name, fmt):
    path = write_small_model(tmp_path / name, WORDS, VECTORS, fmt=fmt)
    out = run(runner, "analogy", "king - man + woman", "-m", str(path), "-f", "plain", "-n", "1")
    assert out.stdout == "queen\n"


@pytest.mark.parametrize("written,renamed,fmt", [
    ("m.txt.gz", "m.txt", "word2vec"), ("m.bin.bz2", "m.bin", "binary"),
    ("m.txt", "m.txt.gz", "glove")])
def test_content_not_the_ending_decides_compression(runner, tmp_path, fresh_cache, written,
                                                    renamed, fmt):
    path = write_small_model(tmp_path / written, WORDS, VECTORS, fmt=fmt)
    misnamed = path.rename(tmp_path / renamed)
    out = run(runner, "analogy", "king - man + woman", "-m", str(misnamed), "-f", "plain",
              "-n", "1")
    assert out.exit_code == 0, out.stderr
    assert out.stdout == "queen\n"


def test_sniffing_tells_the_formats_apart(tmp_path):
    kinds = {fmt: detect(Location(write_small_model(tmp_path / fmt, WORDS, VECTORS, fmt=fmt)))
             for fmt in ["word2vec", "glove", "binary"]}
    assert {fmt: d.kind for fmt, d in kinds.items()} == {
        "word2vec": "word2vec-text", "glove": "glove", "binary": "word2vec-binary"}
    assert kinds["word2vec"].header == (7, 4) and kinds["glove"].header is None


def test_a_hand_built_model_gives_the_exact_answer(runner, small_model, fresh_cache):
    out = run_json(runner, "analogy", "king - man + woman", "--model", str(small_model))
    assert out["results"][0] == {"rank": 1, "word": "queen", "score": pytest.approx(1.0)}
    assert run_json(runner, "neighbors", "e-mail", "-m", str(small_model), "-n", "1")[
        "results"][0]["word"] == "apple"


def test_answers_from_a_file_equal_gensim_on_that_file(runner, tmp_path, fresh_cache,
                                                        bundled_kv):
    # the 5,000 most frequent bundled words, written by gensim, read back by both
    path = tmp_path / "top5k.txt"
    write_small_model(path, bundled_kv.index_to_key[:5000], bundled_kv.vectors[:5000])
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(path))
    ours = run_json(runner, "analogy", "king - man + woman", "-m", str(path))
    theirs = kv.most_similar(positive=["king", "woman"], negative=["man"])
    assert [r["word"] for r in ours["results"]] == [w for w, _ in theirs]
    np.testing.assert_allclose([r["score"] for r in ours["results"]], [s for _, s in theirs],
                               atol=1e-5)


def _entry(cache: Path) -> Path:
    (entry,) = [p for p in (cache / "models").iterdir() if not p.name.startswith(".")]
    return entry


def test_first_run_converts_then_later_runs_use_the_cache(runner, tmp_path, fresh_cache):
    path = write_small_model(tmp_path / "m.txt", WORDS, VECTORS)
    first = run(runner, "neighbors", "king", "-m", str(path), "-f", "plain")
    assert "converting" in first.stderr and first.exit_code == 0
    entry = _entry(fresh_cache)
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["format"] == FORMAT_VERSION and (meta["count"], meta["dim"]) == (7, 4)
    second = run(runner, "neighbors", "king", "-m", str(path), "-f", "plain")
    assert second.stderr == "" and second.stdout == first.stdout
    assert not [p for p in (fresh_cache / "models").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("damage,reason", [
    (lambda e: (e / "meta.json").unlink(), None),
    (lambda e: (e / "meta.json").write_text("{not json"), "damaged (meta.json"),
    (lambda e: _edit_meta(e, format=0), "another version"),
    (lambda e: _edit_meta(e, count=8), "damaged"),
    (lambda e: (e / "vectors.npy").write_bytes((e / "vectors.npy").read_bytes()[:-8]),
     "damaged"),
    (lambda e: (e / "vocab.txt").unlink(), "damaged"),
    (lambda e: (e / "offsets.npy").write_bytes(b"garbage"), "damaged"),
    (lambda e: (e / "word_order.npy").unlink(), "damaged"),
    (lambda e: np.save(e / "word_buckets.npy", np.zeros(9, np.int32)), "damaged"),
])
def test_a_broken_cache_is_rebuilt_with_a_message(runner, tmp_path, fresh_cache, damage,
                                                   reason):
    path = write_small_model(tmp_path / "m.txt", WORDS, VECTORS)
    good = run(runner, "analogy", "king - man + woman", "-m", str(path), "-f", "json").stdout
    damage(_entry(fresh_cache))
    again = run(runner, "analogy", "king - man + woman", "-m", str(path), "-f", "json")
    assert again.exit_code == 0 and again.stdout == good
    if reason:
        assert f"is {reason}" in again.stderr or reason in again.stderr
        assert "rebuilding" in again.stderr
    assert run(runner, "neighbors", "king", "-m", str(path)).stderr == ""


def _edit_meta(entry: Path, **changes) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    meta.update(changes)
    (entry / "meta.json").write_text(json.dumps(meta))


def test_a_changed_source_is_converted_again(runner, tmp_path, fresh_cache):
    path = write_small_model(tmp_path / "m.txt", WORDS, VECTORS)
    assert run_json(runner, "neighbors", "e-mail", "-m", str(path), "-n", "1")[
        "results"][0]["word"] == "apple"
    changed = [row[:] for row in VECTORS]
    changed[0] = [0.0, 0.0, 0.0, 1.0]  # king now points where e-mail does
    write_small_model(path, WORDS, changed)
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems
    out = run(runner, "neighbors", "e-mail", "-m", str(path), "-n", "1", "-f", "plain")
    assert out.stdout == "king\n" and "converting" in out.stderr
    # the old conversion is gone; another reading of the same file (--limit) stays
    assert len([p for p in (fresh_cache / "models").iterdir() if p.name[0] != "."]) == 1
    run(runner, "neighbors", "king", "-m", str(path), "--limit", "3")
    assert len([p for p in (fresh_cache / "models").iterdir() if p.name[0] != "."]) == 2


def test_an_entry_removed_as_it_is_published_still_answers(runner, tmp_path, fresh_cache,
                                                           monkeypatch):
    """The race in which another process removes the entry this one has just renamed into
    place (it found it stale: the file changed during the read), made to happen here."""
    import shutil

    import embedcli.models

    path = write_small_model(tmp_path / "m.txt", WORDS, VECTORS)
    rename = os.rename

    def rename_then_lose(src, dst):
        rename(src, dst)
        if Path(dst).parent.name == "models":  # an entry being published
            shutil.rmtree(dst)

    monkeypatch.setattr(embedcli.models.os, "rename", rename_then_lose)
    result = run(runner, "analogy", "king - man + woman", "-m", str(path), "-f", "plain",
                 "-n", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "queen\n" and "working from memory" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a read-only directory")
def test_a_read_only_cache_works_from_memory(runner, tmp_path, fresh_cache):
    path = write_small_model(tmp_path / "m.txt", WORDS, VECTORS)
    fresh_cache.mkdir()
    fresh_cache.chmod(0o500)
    try:
        out = run(runner, "neighbors", "king", "-m", str(path), "-f", "plain")
    finally:
        fresh_cache.chmod(0o700)
    assert out.exit_code == 0 and "working from memory" in out.stderr


def test_a_cache_path_that_cannot_be_a_directory_works_from_memory(runner, tmp_path,
                                                                    monkeypatch):
    # a file where the cache directory should be: as unwritable as it gets, even for root
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EMBEDCLI_CACHE_DIR", str(blocker))
    path = write_small_model(tmp_path / "m.txt", WORDS, VECTORS)
    out = run(runner, "analogy", "king - man + woman", "-m", str(path), "-f", "plain", "-n", "1")
    assert out.exit_code == 0 and out.stdout == "queen\n"
    assert "warning: cannot write the cache" in out.stderr and "from memory" in out.stderr


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"hello world\nthis is prose\n", "not a vector file embedcli knows"),
    (b"3 4\nking 1 2 3\n", "cannot read"),
])
def test_unreadable_model_files_are_model_errors(runner, tmp_path, fresh_cache, content,
                                                 message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    out = run(runner, "neighbors", "king", "-m", str(path))
    assert out.exit_code == ExitStatus.MODEL
    assert message in out.stderr and out.stdout == ""
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if "error" in line]
    assert len(errors) == 1


def test_top_larger_than_the_vocabulary_gives_every_other_word(runner, small_model,
                                                                fresh_cache):
    out = run_json(runner, "neighbors", "king", "-m", str(small_model), "--top", "1000")
    assert sorted(r["word"] for r in out["results"]) == sorted(set(WORDS) - {"king"})
    assert [r["rank"] for r in out["results"]] == list(range(1, len(WORDS)))


def test_zero_vectors_never_score_nan(runner, small_model, fresh_cache):
    out = run_json(runner, "neighbors", "king", "-m", str(small_model), "-n", "6")
    assert all(isinstance(r["score"], float) for r in out["results"])
    with pytest.raises(ModelError):
        load(str(small_model.parent / "missing.txt"))


def test_a_cache_that_runs_out_of_room_while_its_matrix_is_written_works_from_memory(
        tmp_path):
    """A real file-size limit (RLIMIT_FSIZE) that only vectors.npy exceeds, so the write
    fails in the thread that writes the matrix, mid-file: the answer is still gensim's,
    from memory, with one warning, and no partial entry is left behind."""
    import subprocess
    import sys

    from gensim.models import KeyedVectors

    from tests.conftest import cache_state, files_at_most

    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(20_000)]
    vectors = rng.standard_normal((len(words), 50)).astype(np.float32)
    path = write_small_model(tmp_path / "m.bin", words, vectors, fmt="binary")
    limit = 1 << 20
    command = [sys.executable, "-m", "embedcli", "neighbors", "w7", "-m", str(path),
               "-n", "5", "-f", "json"]

    # without the limit: only vectors.npy is larger than it, so the limit is met there
    free = tmp_path / "free"
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "EMBEDCLI_CACHE_DIR": str(free)})
    assert done.returncode == 0, done.stderr
    (entry,) = (free / "models").iterdir()
    larger = sorted(f.name for f in entry.iterdir() if f.stat().st_size > limit)
    assert larger == ["vectors.npy"] and (entry / "vectors.npy").stat().st_size > 3 * limit

    capped = tmp_path / "capped"
    out = subprocess.run(command, capture_output=True, text=True,
                         preexec_fn=files_at_most(limit),
                         env={**os.environ, "EMBEDCLI_CACHE_DIR": str(capped)})
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if "cannot write the cache" in line]
    assert len(warnings) == 1 and "File too large" in warnings[0]
    assert "working from memory" in warnings[0]
    assert cache_state(capped) == ([], [])
    kv = KeyedVectors(50)
    kv.add_vectors(words, vectors)
    theirs = kv.most_similar("w7", topn=5)
    mine = json.loads(out.stdout)["results"]
    assert [r["word"] for r in mine] == [w for w, _ in theirs]
    assert np.allclose([r["score"] for r in mine], [s for _, s in theirs], atol=1e-6)
    assert json.loads(done.stdout)["results"] == mine
