"""explain: how parallel an analogy's offsets are, and --method mul as analogy has it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import run, run_json


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("query,expect,words", [
    ("king - man + woman", "queen", ("man", "king", "woman", "queen")),
    ("man : king :: woman : ?", None, ("man", "king", "woman", None)),
    ("paris - france + italy", "rome", ("france", "paris", "italy", "rome")),
])
def test_offset_similarity_is_the_cosine_of_the_two_offsets(runner, bundled_kv, query,
                                                             expect, words):
    data = run_json(runner, "explain", query, *(["-e", expect] if expect else []))
    a, b, c, d = words
    d = d or data["answer"]
    assert data["offset_words"] == [a, b, c, d]
    u = {w: _unit(bundled_kv[w]) for w in (a, b, c, d)}
    one, two = u[b] - u[a], u[d] - u[c]
    expected = float(one @ two / (np.linalg.norm(one) * np.linalg.norm(two)))
    # embedcli's rows are float32 unit vectors, gensim's normalised here in float64
    assert data["offset_similarity"] == pytest.approx(expected, abs=1e-6)


def test_the_table_says_it_in_a_sentence(runner):
    data = run_json(runner, "explain", "king - man + woman", "-e", "queen")
    cosine = data["offset_similarity"]
    result = run(runner, "explain", "king - man + woman", "-e", "queen", "-f", "table")
    text = " ".join(result.stdout.split())
    degrees = math.degrees(math.acos(cosine))
    assert (f"the offsets man->king and woman->queen have cosine {cosine:.2f} "
            f"(about {degrees:.0f} degrees)") in text


def test_a_query_that_is_no_three_word_analogy_has_no_offset_similarity(runner):
    assert run_json(runner, "explain", "king + queen")["offset_similarity"] is None
    assert run_json(runner, "explain", "king - man + woman - boy")["offset_similarity"] is None


def test_explain_mul_ranks_as_analogy_mul_does(runner):
    query = "paris - france + italy"
    analogy = run_json(runner, "analogy", query, "--method", "mul", "-n", "40")
    explained = run_json(runner, "explain", query, "--method", "mul", "-n", "3")
    assert explained["method"] == "mul"
    assert explained["results"] == analogy["results"][:3]
    # a word beyond the top: its rank and score where analogy --method mul puts it
    far = analogy["results"][24]
    result = run(runner, "explain", query, "--method", "mul", "-n", "3", "-e", far["word"],
                 "-f", "json")
    assert result.exit_code == 1  # not within the top 3: the documented status
    got = json.loads(result.stdout)
    assert got["expected"]["rank"] == far["rank"] == 25
    assert got["expected"]["score"] == pytest.approx(far["score"], abs=1e-7)
    assert got["offset"]["query"] == "italy - france"


def test_explain_mul_takes_no_weights(runner):
    result = run(runner, "explain", "2*king - man + woman", "--method", "mul")
    assert result.exit_code == 2
    assert result.stderr.startswith("embedcli: error: --method mul takes no weights")
