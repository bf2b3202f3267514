"""The commands as a user meets them: output formats, notes, errors and exit statuses."""

from __future__ import annotations

import csv
import io
import json

import pytest

from embedcli.errors import ExitStatus
from tests.conftest import run, run_json

FORMATS = ["json", "jsonl", "tsv", "csv", "plain", "table"]


def test_king_minus_man_plus_woman_is_queen(runner):
    result = run(runner, "analogy", "king - man + woman")
    assert result.exit_code == 0
    first = result.stdout.splitlines()[1]  # tsv when stdout is not a terminal
    assert first.split("\t")[:2] == ["1", "queen"]
    assert result.stderr == ""


@pytest.mark.parametrize("query", [["king - man + woman"], ["king", "man", "woman"],
                                   ["man : king :: woman : ?"], ["king", "-", "man", "+",
                                                                  "woman"]])
def test_the_three_forms_give_one_answer(runner, query):
    out = run_json(runner, "analogy", *query)
    assert out["query"] == "king - man + woman"
    assert out["results"][0]["word"] == "queen"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_a_ranking(runner, fmt):
    result = run(runner, "neighbors", "cat", "-n", "3", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        data = json.loads(out)
        assert [r["rank"] for r in data["results"]] == [1, 2, 3]
        assert data["results"][0]["word"] == "dog"
        assert set(data) == {"query", "model", "method", "restrict", "results", "excluded"}
        assert data["excluded"][0]["word"] == "cat" and data["excluded"][0]["rank"] == 1
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
        assert [r["word"] for r in rows] == ["dog", "rabbit", "monkey", "cat"]
        assert set(rows[0]) == {"rank", "word", "score", "excluded"}
        assert [r["excluded"] for r in rows] == [False, False, False, True]
        assert rows[3]["rank"] == 1 and rows[3]["score"] == pytest.approx(1.0)
    elif fmt == "tsv":
        lines = [line.split("\t") for line in out.splitlines()]
        assert lines[0] == ["rank", "word", "score", "excluded"]
        assert lines[1][:2] == ["1", "dog"] and float(lines[1][2]) == pytest.approx(0.9218, 1e-4)
        assert lines[1][3] == "false" and lines[4][1:2] + lines[4][3:] == ["cat", "true"]
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["rank", "word", "score", "excluded"] and rows[1][1] == "dog"
        assert len(rows) == 5 and rows[4][1] == "cat"
    elif fmt == "plain":
        assert out.splitlines() == ["dog", "rabbit", "monkey"]
    else:
        assert "dog" in out and "0.9218" in out and "\t" not in out
        assert "left out" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_similarity(runner, fmt):
    pair = run(runner, "similarity", "cat", "dog", "--format", fmt)
    matrix = run(runner, "similarity", "cat", "dog", "car", "--format", fmt)
    assert pair.exit_code == matrix.exit_code == 0
    if fmt == "json":
        assert json.loads(pair.stdout)["similarity"] == pytest.approx(0.9218, abs=1e-4)
        data = json.loads(matrix.stdout)
        assert data["words"] == ["cat", "dog", "car"] and len(data["matrix"]) == 3
    elif fmt == "plain":
        assert float(pair.stdout) == pytest.approx(0.9218, abs=1e-4)
        assert len(matrix.stdout.splitlines()) == 3
    elif fmt == "tsv":
        assert pair.stdout.splitlines()[0] == "a\tb\tsimilarity"
        assert matrix.stdout.splitlines()[0] == "word\tcat\tdog\tcar"
    elif fmt == "jsonl":
        assert len(matrix.stdout.splitlines()) == 3  # one line a pair
    elif fmt == "table":
        assert "0.9218" in pair.stdout and "0.9218" in matrix.stdout


def test_scores_in_json_are_full_precision_and_tables_show_four_decimals(runner):
    data = run_json(runner, "analogy", "king - man + woman", "-n", "1")
    score = data["results"][0]["score"]
    assert len(repr(score)) > 10
    table = run(runner, "analogy", "king - man + woman", "-n", "1", "--format", "table")
    assert f"{score:.4f}" in table.stdout and repr(score) not in table.stdout


def test_top_and_restrict(runner):
    data = run_json(runner, "analogy", "king - man + woman", "--top", "3", "--restrict", "1000")
    assert len(data["results"]) == 3 and data["restrict"] == 1000


def test_a_capitalised_word_falls_back_to_lower_case_once(runner):
    result = run(runner, "analogy", "King - Man + woman + King", "--format", "plain")
    assert result.exit_code == 0
    notes = result.stderr.splitlines()
    assert notes == ["embedcli: note: 'King' is not in glove-6b-50d; using 'king'",
                     "embedcli: note: 'Man' is not in glove-6b-50d; using 'man'"]


def test_case_sensitive_turns_the_fallback_off(runner):
    result = run(runner, "neighbors", "King", "--case-sensitive")
    assert result.exit_code == ExitStatus.NO_ANSWER
    assert result.stdout == ""
    assert "'King' is not in the vocabulary" in result.stderr and "king" in result.stderr


def test_unknown_word_names_the_model_and_suggests(runner):
    result = run(runner, "analogy", "kign - man + woman")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("embedcli: error: 'kign' is not in the vocabulary of "
                               "glove-6b-50d (400,000 words); did you mean: king")
    suggestions = lines[0].split("did you mean: ")[1].rstrip("?").split(", ")
    assert 1 <= len(suggestions) <= 5


@pytest.mark.parametrize("args,column", [
    (["analogy", "king + + man"], 8),
    (["analogy", "--", "- "], 3),
    (["analogy", ""], 1),
    (["analogy", "0.5*"], 5),
    (["neighbors", "cat dog"], 5),
])
def test_malformed_expression_is_a_usage_error_with_a_caret(runner, args, column):
    result = run(runner, *args)
    assert result.exit_code == ExitStatus.USAGE
    assert result.stdout == ""
    first, query, caret = result.stderr.splitlines()
    assert first.startswith("embedcli: error: ") and f"(at column {column})" in first
    assert query == "  " + args[-1]
    assert caret == "  " + " " * (column - 1) + "^"


def test_an_expression_that_looks_like_an_option_gets_a_hint(runner):
    result = run(runner, "analogy", "-king")
    assert result.exit_code == ExitStatus.USAGE
    assert "--" in result.stderr and len(result.stderr.splitlines()) == 1
    quoted = run(runner, "analogy", "--format", "json", "--", "-king + woman")
    assert json.loads(quoted.stdout)["query"] == "- king + woman"


@pytest.mark.parametrize("args", [
    ["analogy", "king", "--top", "0"],
    ["analogy", "king", "--top", "-3"],
    ["analogy", "king", "--top", "abc"],
    ["analogy", "king", "--bogus"],
    ["analogy", "king", "--method", "sideways"],
    ["neighbors", "cat", "--format", "yaml"],
    ["neighbors", "cat", "--restrict", "0"],
    ["neighbors"],
    ["similarity", "cat"],
    ["frobnicate"],
])
def test_usage_errors_exit_2_with_one_line(runner, args):
    result = run(runner, *args)
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("embedcli: error: ")


def test_terms_that_cancel_out_have_no_answer(runner):
    result = run(runner, "analogy", "king - king")
    assert result.exit_code == ExitStatus.NO_ANSWER
    assert "cancel out" in result.stderr and result.stdout == ""


def test_mul_refuses_weights(runner):
    result = run(runner, "analogy", "2*king - man + woman", "--method", "mul")
    assert result.exit_code == ExitStatus.USAGE
    assert "takes no weights" in result.stderr


def test_neighbors_refuses_the_analogy_forms(runner):
    result = run(runner, "neighbors", "king", "man", "woman")
    assert result.exit_code == ExitStatus.USAGE
    assert "embedcli analogy" in result.stderr


def test_unknown_model_is_a_model_error(runner, tmp_path):
    for spec in ["no-such-model", str(tmp_path)]:
        result = run(runner, "neighbors", "cat", "--model", spec)
        assert result.exit_code == ExitStatus.MODEL
        assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_model_from_the_environment(runner, monkeypatch):
    monkeypatch.setenv("EMBEDCLI_MODEL", "glove-wiki-gigaword-50")
    assert run_json(runner, "neighbors", "cat")["model"] == "glove-6b-50d"
    monkeypatch.setenv("EMBEDCLI_MODEL", "nope")
    assert run(runner, "neighbors", "cat").exit_code == ExitStatus.MODEL


def test_no_arguments_shows_help(runner):
    result = run(runner)
    assert result.exit_code == 0
    assert "analogy" in result.stdout and "neighbors" in result.stdout


def test_version(runner):
    from embedcli import __version__

    result = run(runner, "--version")
    assert result.stdout == f"embedcli {__version__}\n"


@pytest.mark.parametrize("args", [
    ["analogy", "-king + queen", "-n", "3"],
    ["analogy", "-n", "3", "-king + queen"],
    ["analogy", "--top=3", "-king + queen"],
    ["analogy", "--", "-king + queen", "-n", "3"],
])
def test_a_query_that_starts_with_a_minus_and_has_a_space_is_a_query(runner, args):
    """It can be no option; options before and after it still count (-n 3); a '--'
    given by hand makes everything after it query words, as always."""
    result = run(runner, *args, "-f", "json")
    if "--" in args:  # "-n 3" after '--' is part of the query, which then is malformed
        assert result.exit_code == ExitStatus.USAGE and "expected" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["query"] == "- king + queen" and len(data["results"]) == 3


def test_explain_reads_a_query_that_starts_with_a_minus_too(runner):
    result = run(runner, "explain", "-king + queen", "-n", "3", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["query"] == "- king + queen"
    hint = run(runner, "explain", "-king")
    assert hint.exit_code == ExitStatus.USAGE and "goes after '--'" in hint.stderr
