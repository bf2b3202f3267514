"""embedcli axis: scores along a direction, on every entry point, checked with numpy over
gensim's vectors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import run, run_json
from tests.test_one_path import _command, _lines


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_axis_json_is_numpys_cosine_with_the_direction(runner, bundled_kv):
    words = ["doctor", "nurse", "engineer", "teacher"]
    data = run_json(runner, "axis", "man", "woman", *words)
    assert set(data) == {"axis", "model", "words"}
    assert data["axis"] == {"from": "man", "to": "woman"}
    assert data["model"] == "glove-6b-50d"
    d = _unit(_unit(bundled_kv["woman"]) - _unit(bundled_kv["man"]))
    expected = {w: float(_unit(bundled_kv[w]) @ d) for w in words}
    assert [w["word"] for w in data["words"]] == sorted(words, key=expected.__getitem__)
    for w in data["words"]:
        assert set(w) == {"word", "score"}
        assert w["score"] == pytest.approx(expected[w["word"]], abs=1e-6)


def test_pairs_make_the_mean_difference_and_from_to_list_their_ends(runner, bundled_kv):
    data = run_json(runner, "axis", "--pair", "man:woman", "--pair", "he:she", "nurse")
    assert data["axis"] == {"from": "man, he", "to": "woman, she"}
    d = _unit(np.mean([_unit(bundled_kv[b]) - _unit(bundled_kv[a])
                       for a, b in (("man", "woman"), ("he", "she"))], axis=0))
    assert data["words"][0]["score"] == pytest.approx(float(_unit(bundled_kv["nurse"]) @ d),
                                                      abs=1e-6)


def test_top_lists_the_words_furthest_toward_each_end(runner, bundled_kv):
    data = run_json(runner, "axis", "small", "big", "--top", "3", "--restrict", "2000")
    d = _unit(_unit(bundled_kv["big"]) - _unit(bundled_kv["small"]))
    pool = [w for w in bundled_kv.index_to_key[:2000] if w not in ("small", "big")]
    rows = np.asarray([bundled_kv[w] for w in pool], dtype=np.float64)
    scores = rows / np.linalg.norm(rows, axis=1, keepdims=True) @ d
    order = np.argsort(scores)
    assert [w["word"] for w in data["words"]] == [pool[i] for i in [*order[:3], *order[-3:]]]


def test_the_ends_may_be_expressions_or_one_arrow(runner):
    a = run_json(runner, "axis", "king - man", "queen - woman", "crown")
    b = run_json(runner, "axis", "king - man -> queen - woman", "crown")
    assert a == b and a["axis"] == {"from": "king - man", "to": "queen - woman"}


def test_the_table_goes_from_the_a_end_to_the_b_end(runner):
    result = run(runner, "axis", "man", "woman", "nurse", "engineer", "--format", "table")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "score" in line)
    assert header.index("man") < header.rindex("woman")
    engineer = next(line for line in lines if "engineer" in line)
    nurse = next(line for line in lines if "nurse" in line)
    assert lines.index(engineer) < lines.index(nurse)
    # engineer's bar stands left of the middle, nurse's right of it
    assert engineer.index("█") < engineer.index("│") < nurse.index("█")


# the same axis query as a command, a batch line and a shell line
CASES = [
    ("axis man woman doctor nurse", ":axis man woman doctor nurse"),
    ('axis "king - man" "queen - woman" crown', ':axis "king - man" "queen - woman" crown'),
    ("axis --pair man:woman --pair he:she nurse -n 2 --restrict 500",
     ":axis --pair man:woman --pair he:she nurse -n 2 --restrict 500"),
    ("axis man", ":axis man"),
    ("axis man woman qwxzy", ":axis man woman qwxzy"),
    ("axis cat cat dog", ":axis cat cat dog"),
    ('axis "man -> " dog', ':axis "man -> " dog'),
    ("axis --pair man dog", ":axis --pair man dog"),
]


def test_axis_is_one_query_on_every_entry_point(runner):
    by_command = [_command(runner, text) for text, _ in CASES]
    assert [s for _, s in by_command] == [0, 0, 0, 2, 1, 1, 2, 2]
    assert _lines(runner, "batch", [text for text, _ in CASES]) == by_command
    assert _lines(runner, "shell", [line for _, line in CASES]) == by_command


def test_a_bad_direction_shows_a_caret(runner):
    result = run(runner, "axis", "man -> woman + +", "dog")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("embedcli: error: expected a word after '+'")
    assert lines[1] == "  man -> woman + +"
    assert lines[2].index("^") == len(lines[1]) - 1  # under the second "+"
    assert "Traceback" not in result.stderr


def test_axis_takes_words_to_place_not_expressions(runner):
    result = run(runner, "axis", "man", "woman", "king - queen")
    assert result.exit_code == 2
    assert "axis takes words, not expressions" in result.stderr


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_a_narrow_terminal_drops_the_bars_never_a_number(runner, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    data = run_json(runner, "axis", "--pair", "man:woman", "--pair", "he:she", "doctor",
                    "engineer")
    result = run(runner, "axis", "--pair", "man:woman", "--pair", "he:she", "doctor",
                 "engineer", "--format", "table")
    assert result.exit_code == 0, result.stderr
    for w in data["words"]:
        assert f"{w['word']}" in result.stdout and f"{w['score']:+.4f}" in result.stdout
    assert max(len(line.rstrip()) for line in result.stdout.splitlines()) <= columns
    assert ("│" in result.stdout) == (columns >= 60)
