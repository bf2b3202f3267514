"""quiz as an exercise: --restrict filters the questions as evaluate does, --section picks
sections (repeatable), the default set leaves out the obscure ones, and --format jsonl
gives a teacher's script each question, the answers and the ranks (gensim's)."""

from __future__ import annotations

import json

import pytest

from embedcli.classroom import OBSCURE_SECTIONS
from embedcli.errors import ExitStatus
from tests.conftest import run, run_json

QUESTIONS = """\
: capitals
athens greece baghdad iraq
athens greece roseau dominica
paris france rome italy
: family
boy girl brother sister
boy girl nephew niece
king queen grandson granddaughter
: rare
cat dog kitten puppy
"""


def _records(result) -> list[dict]:
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("restrict", [3000, 10000, 100000])
def test_restrict_filters_the_questions_as_evaluate_does(runner, tmp_path, bundled, restrict):
    path = tmp_path / "q.txt"
    path.write_text(QUESTIONS)
    asked = _records(run(runner, "quiz", str(path), "--count", "100", "--restrict",
                         str(restrict), "--format", "jsonl", input="\n" * 100))
    report = run_json(runner, "evaluate", "analogies", str(path), "--restrict", str(restrict))
    assert len(asked) == report["evaluated"]
    for r in asked:
        assert all(bundled.index(w) < restrict for w in [*r["words"], r["expected"]])
        assert r["restrict"] == restrict


def test_sections_are_picked_and_repeatable(runner):
    asked = _records(run(runner, "quiz", "--seed", "4", "--count", "12", "--section", "family",
                         "--section", "gram3", "--format", "jsonl", input="\n" * 12))
    assert {r["section"] for r in asked} == {"family", "gram3-comparative"}


def test_the_default_set_leaves_out_the_obscure_sections_unless_asked(runner):
    asked = _records(run(runner, "quiz", "--seed", "3", "--count", "40", "--format", "jsonl",
                         input="\n" * 40))
    sections = {r["section"] for r in asked}
    assert len(sections) > 3 and not sections & set(OBSCURE_SECTIONS)
    asked = _records(run(runner, "quiz", "--seed", "3", "--count", "3", "--section",
                         "capital-world", "--format", "jsonl", input="\n" * 3))
    assert {r["section"] for r in asked} == {"capital-world"}


def test_jsonl_has_each_question_the_answers_and_gensims_ranks(runner, bundled_kv):
    result = run(runner, "quiz", "--seed", "5", "--count", "3", "--section", "family",
                 "--format", "jsonl", input="queen\n\nkitten\n")
    asked = _records(result)
    assert [r["n"] for r in asked] == [1, 2, 3]
    assert "your answer>" in result.stderr  # the people's part goes to stderr
    assert [r["answer"] for r in asked] == ["queen", None, "kitten"]
    for r in asked:
        a, b, c = r["words"]
        assert r["question"] == f"{a} : {b} :: {c} : ?"
        ranked = [w for w, _ in bundled_kv.most_similar(positive=[b, c], negative=[a],
                                                        topn=2000)]
        assert r["model_answer"] == ranked[0]
        assert r["model_correct"] == (ranked[0] == r["expected"])
        if r["expected"] in ranked:
            assert r["expected_rank"]["rank"] == ranked.index(r["expected"]) + 1
        if r["answer"] is not None and r["answer"] in ranked:
            assert r["answer_rank"]["rank"] == ranked.index(r["answer"]) + 1
            assert r["correct"] == (r["answer"] == r["expected"])


@pytest.mark.parametrize("args", [["--format", "json"], ["--format", "tsv"]])
def test_other_formats_are_a_usage_error(runner, args):
    result = run(runner, "quiz", *args, input="")
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.startswith("embedcli: error: the quiz writes table or jsonl")
