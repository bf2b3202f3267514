"""explain, interpolate and quiz: their figures against gensim, their formats, exit statuses
and help; the README's classroom section."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from embedcli.cli import classroom as classroom_area
from embedcli.cli import shell as shell_area
from embedcli.errors import ExitStatus
from embedcli.formats import Format
from tests.conftest import run, run_json

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")
# the commands of the classroom's areas, as the app registers them
CLASSROOM = [c.name or c.callback.__name__ for area in (shell_area, classroom_area)
             for c in area.app.registered_commands]
FORMATS = [f.value for f in Format]
TOL = 1e-5


def _rank_by_gensim(kv, positive, negative, word):
    """Where gensim puts ``word`` among the answers (its inputs left out), from all scores."""
    scores = kv.most_similar(positive=positive, negative=negative, topn=None)
    own = {kv.key_to_index[w] for w in positive + negative}
    mine = scores[kv.key_to_index[word]]
    return 1 + sum(1 for i in np.flatnonzero(scores > mine) if i not in own)


def test_the_classroom_is_the_shell_and_five_commands():
    assert sorted(CLASSROOM) == ["dims", "explain", "explore", "interpolate", "plot", "quiz",
                                 "shell"]


# --------------------------------------------------------------------------- explain


def test_explain_gives_gensims_figures(runner, bundled_kv):
    kv = bundled_kv
    result = run(runner, "explain", "king - man + woman", "--expect", "princess", "-n", "5",
                 "-f", "json")
    assert result.exit_code == ExitStatus.NO_ANSWER  # princess is 6th: not within the top 5
    data = json.loads(result.stdout)
    expected = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    assert [r["word"] for r in data["results"]] == [w for w, _ in expected]
    np.testing.assert_allclose([r["score"] for r in data["results"]],
                               [s for _, s in expected], atol=TOL)
    assert data["answer"] == "queen" and data["passed"] is False
    # each input word's cosine to the answer, and to the expected word
    for term in data["inputs"]:
        assert term["cosine_to_answer"] == pytest.approx(
            kv.similarity(term["word"], "queen"), abs=TOL)
        assert term["cosine_to_expected"] == pytest.approx(
            kv.similarity(term["word"], "princess"), abs=TOL)
    assert [(t["word"], t["weight"]) for t in data["inputs"]] == [
        ("king", 1.0), ("man", -1.0), ("woman", 1.0)]
    # the expected word's rank and score among the answers
    deep = [w for w, _ in kv.most_similar(positive=["king", "woman"], negative=["man"],
                                          topn=10)]
    assert data["expected"]["rank"] == deep.index("princess") + 1 == 6
    assert data["expected"]["within_top"] is False
    # the answer (and the expected word) among king's own neighbours
    around = [w for w, _ in kv.most_similar("king", topn=200)]
    assert data["base"]["word"] == "king"
    assert data["base"]["answer"] == {"word": "queen", "rank": around.index("queen") + 1,
                                      "similarity": pytest.approx(kv.similarity("king",
                                                                                "queen"), abs=TOL)}
    assert data["base"]["answer"]["rank"] == 2
    assert data["base"]["expected"]["rank"] == around.index("princess") + 1
    # and among the other '+' word's neighbours
    (woman,) = data["others"]
    assert woman["word"] == "woman"
    assert woman["answer"]["rank"] == _rank_by_gensim(kv, ["woman"], [], "queen")
    assert woman["expected"]["rank"] == _rank_by_gensim(kv, ["woman"], [], "princess")
    # the offset alone: woman - man
    offset = kv.most_similar(positive=["woman"], negative=["man"], topn=5)
    assert data["offset"]["query"] == "woman - man"
    assert [r["word"] for r in data["offset"]["results"]] == [w for w, _ in offset]
    np.testing.assert_allclose([r["score"] for r in data["offset"]["results"]],
                               [s for _, s in offset], atol=TOL)


@pytest.mark.parametrize("word", ["banana", "london", "her"])
def test_the_rank_of_an_expected_word_far_down_agrees_with_gensim(runner, bundled_kv, word):
    data = json.loads(run(runner, "explain", "man : king :: woman : ?", "-e", word,
                          "-f", "json").stdout)
    assert data["expected"]["rank"] == _rank_by_gensim(bundled_kv, ["king", "woman"], ["man"],
                                                       word)
    assert data["expected"]["rank"] > 10
    assert data["base"]["expected"]["rank"] == _rank_by_gensim(bundled_kv, ["king"], [], word)


@pytest.mark.parametrize("args,status", [
    (["king - man + woman", "-e", "queen", "-n", "1"], ExitStatus.OK),
    (["king man woman", "-e", "queen", "-n", "1"], ExitStatus.OK),
    (["paris - france + italy", "-e", "rome", "-n", "1"], ExitStatus.OK),
    (["king - man + woman", "-e", "princess", "-n", "5"], ExitStatus.NO_ANSWER),
    (["king - man + woman", "-e", "princess", "-n", "6"], ExitStatus.OK),
    (["king - man + woman"], ExitStatus.OK),  # nothing expected: nothing to fail
    (["king - man + woman", "-e", "King", "-n", "10"], ExitStatus.NO_ANSWER),  # an input word
])
def test_explain_exit_status_grades_the_expected_word(runner, args, status):
    result = run(runner, "explain", *args, "-f", "json")
    assert result.exit_code == status, result.stderr
    data = json.loads(result.stdout)
    assert data["passed"] is (status == ExitStatus.OK)
    if "King" in args:
        assert data["expected"] == {"word": "king", "rank": None, "score": pytest.approx(
            0.8854, abs=1e-4), "within_top": False}


@pytest.mark.parametrize("args,status,message", [
    (["cat"], ExitStatus.USAGE, "explain takes an analogy of two or more words"),
    (["kign - man + woman"], ExitStatus.NO_ANSWER, "did you mean: king"),
    (["king + + man"], ExitStatus.USAGE, "expected a word after '+'"),
])
def test_explain_errors_are_one_line_and_a_status(runner, args, status, message):
    result = run(runner, "explain", *args)
    assert result.exit_code == status
    assert result.stdout == ""
    assert result.stderr.startswith("embedcli: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_explain(runner, fmt):
    result = run(runner, "explain", "king - man + woman", "-e", "princess", "-n", "3",
                 "-f", fmt)
    assert result.exit_code == ExitStatus.NO_ANSWER, result.stderr
    out = result.stdout
    if fmt == "json":
        assert set(json.loads(out)) == {"query", "model", "method", "restrict", "results",
                                        "excluded", "top", "answer", "inputs", "expected",
                                        "base", "offset", "offset_note", "others", "passed",
                                        "offset_similarity", "offset_words"}
    elif fmt == "plain":
        assert out.splitlines() == ["queen", "throne", "prince"]
    elif fmt in ("tsv", "csv", "jsonl"):
        if fmt == "jsonl":
            rows = [json.loads(line) for line in out.splitlines()]
        else:
            reader = csv.reader(io.StringIO(out), delimiter="\t" if fmt == "tsv" else ",")
            header, *body = list(reader)
            assert header == ["part", "of", "word", "rank", "score"]
            rows = [dict(zip(header, row)) for row in body]
        parts = [r["part"] for r in rows]
        assert parts.count("answer") == 3 and parts.count("offset") == 3
        assert {"left-out", "cosine-to-answer", "cosine-to-expected", "expected",
                "base-neighbour"} <= set(parts)
        base = [r for r in rows if r["part"] == "base-neighbour"]
        assert [(r["of"], r["word"], str(r["rank"])) for r in base] == [
            ("king", "queen", "2"), ("king", "princess", "105")]
        others = [r for r in rows if r["part"] == "input-neighbour"]
        assert [(r["of"], r["word"]) for r in others] == [("woman", "queen"),
                                                          ("woman", "princess")]
    else:
        assert "queen is #2 among the neighbours of king" in out
        assert "says little" in out  # queen was next to king already
        assert "expected princess: #6 of the answers" in out and "not within the top 3" in out
        assert "woman - man" in out


# --------------------------------------------------------------------------- interpolate


def test_interpolation_starts_at_a_and_ends_at_b(runner):
    data = run_json(runner, "interpolate", "king", "queen", "--steps", "6", "-n", "3")
    assert (data["a"], data["b"], data["ends_excluded"]) == ("king", "queen", False)
    assert [s["t"] for s in data["steps"]] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    first, last = data["steps"][0]["results"][0], data["steps"][-1]["results"][0]
    assert first["word"] == "king" and first["score"] == pytest.approx(1.0, abs=1e-6)
    assert last["word"] == "queen" and last["score"] == pytest.approx(1.0, abs=1e-6)
    # A's score falls and B's rises along the way
    def score_of(step, word):
        return next((r["score"] for r in step["results"] if r["word"] == word), None)
    kings = [score_of(s, "king") for s in data["steps"]]
    queens = [score_of(s, "queen") for s in data["steps"][1:]]
    assert all(a >= b for a, b in zip(kings[:-1], kings[1:]) if a and b)
    assert all(a <= b for a, b in zip(queens[:-1], queens[1:]) if a and b)


def test_the_middle_of_the_walk_is_gensims_weighted_mean(runner, bundled_kv):
    data = run_json(runner, "interpolate", "cat", "car", "--steps", "5", "-n", "5",
                    "--exclude-ends")
    for step in data["steps"]:
        t = step["t"]
        positive = [p for p in (("cat", 1 - t), ("car", t)) if p[1] > 0]
        expected = bundled_kv.most_similar(positive=positive, topn=7)
        expected = [(w, s) for w, s in expected if w not in ("cat", "car")][:5]
        assert [r["word"] for r in step["results"]] == [w for w, _ in expected]
        np.testing.assert_allclose([r["score"] for r in step["results"]],
                                   [s for _, s in expected], atol=TOL)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_for_interpolate(runner, fmt):
    result = run(runner, "interpolate", "man", "woman", "-s", "3", "-n", "2", "-f", fmt)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt == "plain":  # the nearest word at each step
        lines = out.splitlines()
        assert len(lines) == 3 and lines[0] == "man" and lines[-1] == "woman"
    elif fmt == "tsv":
        lines = out.splitlines()
        assert lines[0] == "t\trank\tword\tscore" and len(lines) == 1 + 3 * 2
        assert lines[1].split("\t")[:3] == ["0.0", "1", "man"]
    elif fmt == "csv":
        assert out.splitlines()[0] == "t,rank,word,score"
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
        assert set(rows[0]) == {"t", "rank", "word", "score"} and len(rows) == 6
    elif fmt == "json":
        assert len(json.loads(out)["steps"]) == 3
    else:
        assert "man to woman" in out and "0.50" in out


@pytest.mark.parametrize("args,status", [
    (["king", "queen", "--steps", "1"], ExitStatus.USAGE),
    (["king", "king", "-n", "0"], ExitStatus.USAGE),
    (["king"], ExitStatus.USAGE),
])
def test_interpolate_errors(runner, args, status):
    result = run(runner, "interpolate", *args)
    assert result.exit_code == status
    assert result.stdout == "" and result.stderr.startswith("embedcli: error: ")


# --------------------------------------------------------------------------- quiz


@pytest.fixture
def questions(tmp_path) -> Path:
    path = tmp_path / "questions.txt"
    path.write_text(": capitals\nfrance paris italy rome\nFrance Paris Japan Tokyo\n"
                    ": family\nman king woman queen\nboy girl brother sister\n"
                    "man king woman qqqxqqq\n", "utf-8")
    return path


def _asked(stdout: str) -> list[str]:
    return re.findall(r"^\d+/\d+  (.+? : .+? :: .+? : \?)", stdout, flags=re.M)


def test_quiz_grades_answers_from_a_pipe_beside_the_models(runner, questions, bundled_kv):
    # the question with a word the model lacks is left out
    everything = run(runner, "quiz", str(questions), "--seed", "1", "--count", "9",
                     input="\n" * 9)
    order = _asked(everything.stdout)
    assert sorted(order) == sorted(["france : paris :: italy : ?",
                                    "france : paris :: japan : ?", "man : king :: woman : ?",
                                    "boy : girl :: brother : ?"])
    answers = {"france : paris :: italy : ?": "rome", "france : paris :: japan : ?": "osaka",
               "man : king :: woman : ?": "", "boy : girl :: brother : ?": "Sister"}
    result = run(runner, "quiz", str(questions), "--seed", "1", "--count", "4",
                 input="".join(answers[q] + "\n" for q in order))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert _asked(out) == order  # the same seed: the same order
    assert "right: rome" in out and "right: sister" in out  # Sister is read as sister
    assert "wrong: the answer is tokyo" in out and "passed: the answer is queen" in out
    # the model's own answer, and where it ranks the student's word (as gensim does)
    model_tokyo = bundled_kv.most_similar(positive=["paris", "japan"], negative=["france"],
                                          topn=1)[0][0]
    assert f"The model says {model_tokyo} " in out
    rank = _rank_by_gensim(bundled_kv, ["paris", "japan"], ["france"], "osaka")
    assert f"it ranks osaka #{rank:,} " in out
    assert out.rstrip().splitlines()[-1].startswith("final score: 2/4  (the model: ")


def test_quiz_asks_a_misspelt_answer_again_with_suggestions(runner, questions):
    args = ["quiz", str(questions), "--seed", "3", "--section", "family", "--count", "1"]
    (question,) = _asked(run(runner, *args, input="").stdout)
    typo, answer = {"man : king :: woman : ?": ("qeen", "queen"),
                    "boy : girl :: brother : ?": ("sistr", "sister")}[question]
    result = run(runner, *args, input=f"{typo}\n{answer}\n")
    assert result.exit_code == 0
    assert _asked(result.stdout) == [question]
    assert result.stderr.count("did you mean: ") == 1 and f"'{typo}'" in result.stderr
    assert result.stdout.count("your answer>") == 2
    assert "final score: 1/1" in result.stdout


def test_quiz_on_the_google_set_is_repeatable_with_a_seed(runner):
    def asked(seed: str, answers: int) -> list[str]:
        result = run(runner, "quiz", "--seed", seed, "--count", "5", "--section", "capital",
                     input="\n" * answers)
        assert result.exit_code == 0, result.stderr
        assert "the Google analogy set" in result.stdout
        assert set(re.findall(r"\((capital[^)]*)\)$", result.stdout, flags=re.M)) <= {
            "capital-common-countries", "capital-world"}
        return _asked(result.stdout)

    seven = asked("7", 5)
    assert len(seven) == 5 and asked("7", 5) == seven
    assert asked("7", 0) == seven[:1]  # the input ends at once: one question, then the score
    assert asked("8", 5) != seven


@pytest.mark.parametrize("content,message", [
    (": s\nman king woman\n", "no analogy questions found"),
    ("", "no analogy questions found"),
    ("man king woman queen\n: s\nparis france rome italy\n",
     "a question before the first section header"),
])
def test_a_bad_questions_file_is_a_usage_error(runner, tmp_path, content, message):
    path = tmp_path / "q.txt"
    path.write_text(content, "utf-8")
    result = run(runner, "quiz", str(path), input="")
    assert result.exit_code == ExitStatus.USAGE
    assert message in result.stderr and str(path) in result.stderr


def test_quiz_errors(runner, tmp_path, questions):
    missing = run(runner, "quiz", str(tmp_path / "nope.txt"), input="")
    assert missing.exit_code == ExitStatus.USAGE and "no such file" in missing.stderr
    section = run(runner, "quiz", str(questions), "--section", "sports", input="")
    assert section.exit_code == ExitStatus.USAGE and "no section matches" in section.stderr


# --------------------------------------------------------------------------- the README


def test_the_readme_has_a_classroom_section_with_a_picture_the_tool_made():
    section = README.split("## Classroom", 1)[1].split("\n## ", 1)[0]
    lesson = README.split("## Teaching with embedcli", 1)[1].split("\n## ", 1)[0]
    assert README.index("## Classroom") < README.index("## Teaching with embedcli") < \
        README.index("## Models")
    for command in CLASSROOM:
        assert f"embedcli {command}" in section
    for prop in ("structure", "arithmetic", "dimensionality", "interpolation"):
        assert f"{prop} (" in lesson.lower()  # "**1. Dimensionality (5 minutes)..."
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", lesson)
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section)
    assert pictures
    for picture in pictures:
        data = (ROOT / picture).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") or data.lstrip().startswith(b"<?xml")


# --------------------------------------------------------------------------- the heat map


def test_the_similarity_matrix_is_a_heat_map_on_a_colour_terminal(monkeypatch):
    from rich.console import Console

    monkeypatch.delenv("NO_COLOR", raising=False)

    from embedcli.engine.results import SimilarityMatrix
    from embedcli.render import to_renderable

    matrix = SimilarityMatrix(["a", "b"], [[1.0, -0.5], [-0.5, 1.0]])
    out = io.StringIO()
    Console(file=out, width=100, force_terminal=True, color_system="truecolor").print(
        to_renderable(matrix))
    text = out.getvalue()
    assert re.search(r"48;2;178;24;43m *1\.0000", text)  # 1: red
    assert re.search(r"48;2;140;174;210m *-0\.5000", text)  # -0.5: light blue
    assert "colour scale" in text and "48;2;247;247;247m 0 " in text  # the scale: 0 is white
    plain = io.StringIO()
    Console(file=plain, width=100, force_terminal=True, no_color=True).print(
        to_renderable(matrix))
    assert "colour scale" not in plain.getvalue() and "-0.5000" in plain.getvalue()
