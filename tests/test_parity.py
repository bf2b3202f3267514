"""embedcli's answers equal gensim's on the same (bundled GloVe 6B 50d) vectors.

Every query goes through the CLI (CliRunner, --format json) and is compared word for word,
score within 1e-5, with gensim's KeyedVectors answering the same question.
"""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors

from tests.conftest import run_json

TOL = 1e-5

# (positive, negative): each is asked with 3CosAdd and 3CosMul, with and without --restrict.
ANALOGIES = [
    (["king", "woman"], ["man"]),
    (["paris", "italy"], ["france"]),
    (["walking", "swam"], ["walked"]),
    (["bigger", "cold"], ["big"]),
    (["tokyo", "germany"], ["japan"]),
    (["brother", "daughter"], ["son"]),
    (["cars", "apple"], ["car"]),
    (["london", "spain"], ["england"]),
    (["good", "bad"], ["best"]),
    (["he", "her"], ["she"]),
    (["microsoft", "google"], ["windows"]),
    (["water", "ice"], []),
]
NEIGHBOURS = ["cat", "frog", "computer", "paris", "love", "e-mail", "x-ray", "c++", "1990",
              "quickly", "einstein", "banana"]
PAIRS = [("cat", "dog"), ("king", "queen"), ("car", "banana"), ("good", "bad"),
         ("paris", "london"), ("e-mail", "email"), ("the", "of"), ("happy", "sad")]


def _expression(positive: list[str], negative: list[str]) -> str:
    return " ".join([positive[0]] + [f"- {w}" for w in negative] +
                    [f"+ {w}" for w in positive[1:]])


def _assert_same(ours: list[dict], theirs: list[tuple[str, float]]) -> None:
    assert [r["word"] for r in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([r["score"] for r in ours], [s for _, s in theirs], atol=TOL)


def _first_rows(kv: KeyedVectors, n: int) -> KeyedVectors:
    """A model holding only the n most frequent words: what --restrict n must mean."""
    small = KeyedVectors(vector_size=kv.vector_size, count=0, dtype=np.float32)
    small.add_vectors(kv.index_to_key[:n], kv.vectors[:n])
    return small


@pytest.mark.parametrize("restrict", [None, 30000])
@pytest.mark.parametrize("positive,negative", ANALOGIES)
def test_analogy_add_equals_most_similar(runner, bundled_kv, positive, negative, restrict):
    args = ["analogy", _expression(positive, negative), "--top", "10"]
    if restrict:
        args += ["--restrict", str(restrict)]
    ours = run_json(runner, *args)
    theirs = bundled_kv.most_similar(positive=positive, negative=negative, topn=10,
                                     restrict_vocab=restrict)
    _assert_same(ours["results"], theirs)
    assert ours["method"] == "add"


@pytest.mark.parametrize("positive,negative", ANALOGIES)
def test_analogy_mul_equals_most_similar_cosmul(runner, bundled_kv, positive, negative):
    ours = run_json(runner, "analogy", _expression(positive, negative), "--method", "mul")
    theirs = bundled_kv.most_similar_cosmul(positive=positive, negative=negative, topn=10)
    _assert_same(ours["results"], theirs)
    assert ours["method"] == "mul"


@pytest.mark.parametrize("positive,negative", ANALOGIES[:6])
def test_analogy_mul_with_restrict_searches_only_the_first_rows(runner, bundled_kv, positive,
                                                                negative):
    # gensim's most_similar_cosmul ignores restrict_vocab, so the reference is gensim on a
    # model of the first 20,000 words: what restricting the candidates means.
    ours = run_json(runner, "analogy", _expression(positive, negative), "--method", "mul",
                    "--restrict", "20000")
    theirs = _first_rows(bundled_kv, 20000).most_similar_cosmul(positive=positive,
                                                                negative=negative, topn=10)
    _assert_same(ours["results"], theirs)


def test_gensim_cosmul_really_ignores_restrict(bundled_kv):
    """Why embedcli cannot simply pass restrict_vocab on: gensim drops it for cosmul."""
    unrestricted = bundled_kv.most_similar_cosmul(["king", "woman"], ["man"], topn=50)
    restricted = bundled_kv.most_similar_cosmul(["king", "woman"], ["man"], topn=50,
                                                restrict_vocab=100)
    assert restricted == unrestricted
    assert any(bundled_kv.key_to_index[w] >= 100 for w, _ in restricted)


@pytest.mark.parametrize("word", NEIGHBOURS)
def test_neighbors_equal_most_similar(runner, bundled_kv, word):
    ours = run_json(runner, "neighbors", word, "--top", "15")
    _assert_same(ours["results"], bundled_kv.most_similar(word, topn=15))


def test_neighbors_of_an_expression_equal_most_similar(runner, bundled_kv):
    ours = run_json(runner, "neighbors", "paris - france + 0.5*italy")
    theirs = bundled_kv.most_similar(positive=["paris", ("italy", 0.5)], negative=["france"])
    _assert_same(ours["results"], theirs)


@pytest.mark.parametrize("a,b", PAIRS)
def test_similarity_equals_gensim(runner, bundled_kv, a, b):
    ours = run_json(runner, "similarity", a, b)
    assert ours == {"a": a, "b": b, "similarity": pytest.approx(
        float(bundled_kv.similarity(a, b)), abs=TOL)}


def test_similarity_matrix_equals_gensim(runner, bundled_kv):
    words = ["cat", "dog", "car", "truck", "banana"]
    ours = run_json(runner, "similarity", *words)
    assert ours["words"] == words
    expected = [[float(bundled_kv.similarity(a, b)) for b in words] for a in words]
    np.testing.assert_allclose(ours["matrix"], expected, atol=TOL)


def test_weighted_analogy_equals_gensim_with_weights(runner, bundled_kv):
    ours = run_json(runner, "analogy", "2*king - 0.5*man + woman")
    theirs = bundled_kv.most_similar(positive=[("king", 2.0), "woman"],
                                     negative=[("man", -0.5)])
    _assert_same(ours["results"], theirs)


def test_include_inputs_gives_the_full_ranking(runner, bundled_kv):
    ours = run_json(runner, "analogy", "king - man + woman", "--include-inputs", "-n", "5")
    full = bundled_kv.most_similar(positive=["king", "woman"], negative=["man"], topn=None)
    order = np.argsort(-full)[:5]
    assert [r["word"] for r in ours["results"]] == [bundled_kv.index_to_key[i] for i in order]
    assert ours["results"][0]["word"] == "king"  # the classic trap, shown honestly
    assert ours["excluded"] == []


@pytest.mark.parametrize("a,b,c,top", [
    ("king", "man", "woman", "10"),  # ranks 1 (among the candidates), 995 and 196
    ("walking", "walk", "swim", "50"),  # 22: among the 50 best's candidates
    ("walking", "walk", "swim", "1"),  # 22 again, but beyond them: counted over all rows
    ("paris", "france", "italy", "10"),
])
@pytest.mark.parametrize("method", ["add", "mul"])
def test_excluded_words_report_the_rank_gensim_would_give(runner, bundled_kv, a, b, c, top,
                                                          method):
    ours = run_json(runner, "analogy", f"{a} - {b} + {c}", "-n", top, "--method", method)
    similar = bundled_kv.most_similar if method == "add" else bundled_kv.most_similar_cosmul
    full = similar(positive=[a, c], negative=[b], topn=None)
    for item in ours["excluded"]:
        index = bundled_kv.key_to_index[item["word"]]
        assert item["score"] == pytest.approx(float(full[index]), abs=TOL)
        assert item["rank"] == int((full > full[index]).sum()) + 1
    assert [e["word"] for e in ours["excluded"]] == [a, b, c]
