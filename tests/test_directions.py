"""Directions: the 'A -> B' and group parsers, and scores along a direction, checked with
numpy over gensim's vectors."""

from __future__ import annotations

import numpy as np
import pytest

from embedcli.errors import ExpressionError, QueryError
from embedcli.expr import parse_direction, parse_group, parse_pair

VOCAB = {"man", "woman", "king", "queen", "small", "big", "x-ray"}


def is_word(w: str) -> bool:
    return w in VOCAB


def test_a_direction_has_two_ends_each_an_expression():
    d = parse_direction("man -> woman", is_word)
    assert [t.word for t in d.start.terms] == ["man"]
    assert [t.word for t in d.end.terms] == ["woman"]
    d = parse_direction("king - man->queen - woman", is_word)
    assert [(t.word, t.weight) for t in d.end.terms] == [("queen", 1.0), ("woman", -1.0)]
    # positions point into the whole text, for carets
    assert [t.position for t in d.end.terms] == [12, 20]
    assert str(d) == "king - man -> queen - woman"
    assert [t.word for t in parse_direction("x-ray -> big", is_word).start.terms] == ["x-ray"]


@pytest.mark.parametrize("text,column,message", [
    ("man woman", 9, "a direction reads 'A -> B'"),
    ("man -> ", 7, "on each side of '->'"),
    ("-> woman", 0, "on each side of '->'"),
    ("a -> b -> c", 7, "one '->'"),
    ("man : king :: woman : ? -> x", 0, "each end of a direction"),
    ("man -> king man woman", 7, "each end of a direction"),
    ("man -> woman + + king", 15, "expected a word after '+'"),
])
def test_a_bad_direction_says_where(text, column, message):
    with pytest.raises(ExpressionError) as caught:
        parse_direction(text, is_word)
    assert message in caught.value.message
    assert caught.value.position == column
    lines = caught.value.caret_lines()
    assert lines[1].index("^") - 2 == column


def test_pairs():
    d = parse_pair("man:woman")
    assert (str(d.start), str(d.end)) == ("man", "woman")
    assert str(parse_pair("king - man -> queen", is_word)) == "king - man -> queen"
    for bad, column in (("man", 3), ("a:b:c", 3), (":b", 0), ("a:", 2)):
        with pytest.raises(ExpressionError) as caught:
            parse_pair(bad)
        assert caught.value.position == column, bad


def test_groups():
    g = parse_group("fruit: apple banana  cherry")
    assert (g.name, g.words) == ("fruit", ("apple", "banana", "cherry"))
    assert parse_group("big cats:lion tiger").name == "big cats"
    for bad, column in (("fruit apple", 11), (": apple", 0), ("fruit:  ", 8),
                        ("f: a b a", 7)):
        with pytest.raises(ExpressionError) as caught:
            parse_group(bad)
        assert caught.value.position == column, bad


# --------------------------------------------------------------------------- the engine


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_scores_along_a_direction_are_numpys_over_gensims_vectors(bundled, bundled_kv):
    from embedcli.engine.directions import axis
    from embedcli.engine.words import Resolver

    words = ["doctor", "nurse", "engineer", "teacher", "king", "queen"]
    result = axis(bundled, [parse_direction("man -> woman")], words, Resolver(bundled))
    d = _unit(_unit(bundled_kv["woman"]) - _unit(bundled_kv["man"]))
    expected = {w: float(_unit(bundled_kv[w]) @ d) for w in words}
    assert {s.word: s.score for s in result.words} == pytest.approx(expected, abs=1e-6)
    assert [s.word for s in result.words] == sorted(words, key=expected.__getitem__)
    assert (result.start, result.end, result.pairs) == ("man", "woman", [])


def test_several_pairs_are_the_mean_of_their_differences(bundled, bundled_kv):
    from embedcli.engine.directions import axis
    from embedcli.engine.words import Resolver

    pairs = [("man", "woman"), ("he", "she"), ("king", "queen")]
    result = axis(bundled, [parse_pair(f"{a}:{b}") for a, b in pairs], ["nurse", "soldier"],
                  Resolver(bundled))
    d = _unit(np.mean([_unit(bundled_kv[b]) - _unit(bundled_kv[a]) for a, b in pairs], axis=0))
    for s in result.words:
        assert s.score == pytest.approx(float(_unit(bundled_kv[s.word]) @ d), abs=1e-6)
    assert result.pairs == pairs
    assert (result.start, result.end) == ("man, he, king", "woman, she, queen")


def test_an_expression_end_is_its_query_vector(bundled, bundled_kv):
    from embedcli.engine.directions import direction_vector
    from embedcli.engine.words import Resolver

    d = direction_vector(bundled, [parse_direction("king - man -> queen - woman")],
                         Resolver(bundled))
    a = _unit(bundled_kv.get_mean_vector(["king", "man"], weights=[1, -1]))
    b = _unit(bundled_kv.get_mean_vector(["queen", "woman"], weights=[1, -1]))
    assert d == pytest.approx(_unit(b - a), abs=1e-6)


def test_top_is_the_furthest_words_toward_each_end(bundled, bundled_kv):
    from embedcli.engine.directions import axis
    from embedcli.engine.words import Resolver

    result = axis(bundled, [parse_direction("small -> big")], [], Resolver(bundled), top=4,
                  restrict=5000)
    d = _unit(_unit(bundled_kv["big"]) - _unit(bundled_kv["small"]))
    pool = [w for w in bundled_kv.index_to_key[:5000] if w not in ("small", "big")]
    scores = _unit_rows(bundled_kv, pool) @ d
    order = np.argsort(scores)
    expected = [pool[i] for i in order[:4]] + [pool[i] for i in order[-4:]]
    assert [s.word for s in result.words] == expected
    assert result.top == 4 and result.restrict == 5000


def _unit_rows(kv, words):
    rows = np.asarray([kv[w] for w in words], dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_ends_at_the_same_point_have_no_direction(bundled):
    from embedcli.engine.directions import direction_vector
    from embedcli.engine.words import Resolver

    with pytest.raises(QueryError, match="same point"):
        direction_vector(bundled, [parse_direction("cat -> cat")], Resolver(bundled))
