"""`embedcli evaluate`: the figures are gensim's, on the same vectors and settings.

gensim's own full analogy evaluation at restrict 300000 takes most of a minute, so it is
not run here: gensim's per-section counts on the bundled vectors are written down below
(from ``KeyedVectors.evaluate_word_analogies`` with gensim 4.4), and gensim's evaluator
is run live on slices of the set, on a hand-made model and on every word-pair dataset.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedcli import evaluate as ev
from embedcli.errors import ExitStatus
from tests.conftest import run, run_with_stderr_on_a_terminal, write_small_model

# gensim 4.4's evaluate_word_analogies(questions-words.txt) on the bundled GloVe 6B 50d:
# (section, correct, incorrect); the last row is gensim's 'Total accuracy'.
GENSIM_GOOGLE = {
    30000: [("capital-common-countries", 403, 103), ("capital-world", 2006, 709),
            ("currency", 31, 205), ("city-in-state", 354, 1849), ("family", 259, 83),
            ("gram1-adjective-to-adverb", 127, 743), ("gram2-opposite", 45, 335),
            ("gram3-comparative", 699, 633), ("gram4-superlative", 202, 398),
            ("gram5-present-participle", 397, 533), ("gram6-nationality-adjective", 1362, 83),
            ("gram7-past-tense", 586, 974), ("gram8-plural", 680, 376),
            ("gram9-plural-verbs", 242, 460), ("Total accuracy", 7393, 7484)],
    300000: [("capital-common-countries", 401, 105), ("capital-world", 3099, 1425),
             ("currency", 73, 735), ("city-in-state", 378, 2089), ("family", 349, 157),
             ("gram1-adjective-to-adverb", 151, 841), ("gram2-opposite", 77, 735),
             ("gram3-comparative", 690, 642), ("gram4-superlative", 321, 801),
             ("gram5-present-participle", 439, 617), ("gram6-nationality-adjective", 1376, 223),
             ("gram7-past-tense", 585, 975), ("gram8-plural", 798, 534),
             ("gram9-plural-verbs", 299, 571), ("Total accuracy", 9036, 10450)],
}
GOOGLE_QUESTIONS = 19544


def _counts(report: ev.AnalogyReport) -> list[tuple[str, int, int]]:
    """Our report in the shape of gensim's sections list."""
    return ([(s.name, s.correct, s.incorrect) for s in report.sections]
            + [("Total accuracy", report.total.correct, report.total.incorrect)])


def _gensim_counts(sections: list[dict]) -> list[tuple[str, int, int]]:
    return [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections]


@pytest.fixture(scope="module")
def google() -> ev.AnalogySet:
    name, path = ev.locate("google", "analogies")
    return ev.read_analogies(path, name)


@pytest.fixture(scope="module")
def google_30000(bundled, google) -> ev.AnalogyReport:
    return ev.evaluate_analogies(bundled, google, restrict=30000)


def _slice(google: ev.AnalogySet, path: Path, every: int) -> Path:
    """Every ``every``-th question of each section, in gensim's file format."""
    lines = []
    for section in google.sections:
        lines.append(f": {section.name}")
        lines += [" ".join(q.words) for q in section.questions[::every]]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


# --------------------------------------------------------------------------- the full set


def test_google_at_restrict_30000_has_gensims_figures(google_30000):
    report = google_30000
    assert _counts(report) == GENSIM_GOOGLE[30000]
    assert report.total.evaluated == 14877
    assert round(report.total.accuracy, 4) == 0.4969
    assert report.total.questions == GOOGLE_QUESTIONS
    assert report.total.skipped == GOOGLE_QUESTIONS - 14877


def test_google_at_restrict_300000_through_the_cli_has_gensims_figures(runner):
    # the default dataset and restrict; one full run at gensim's default in the suite
    result = run(runner, "evaluate", "analogies", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    sections = [(s["section"], s["correct"], s["incorrect"]) for s in data["sections"]]
    assert sections + [("Total accuracy", data["correct"], data["incorrect"])] \
        == GENSIM_GOOGLE[300000]
    assert data["evaluated"] == 19486 and round(data["accuracy"], 4) == 0.4637
    assert data["accuracy"] == 9036 / 19486
    assert data["skipped"] == GOOGLE_QUESTIONS - 19486


def test_semantic_and_syntactic_split_on_the_gram_prefix(google_30000):
    report = google_30000
    semantic = [s for s in report.sections if not s.name.startswith("gram")]
    syntactic = [s for s in report.sections if s.name.startswith("gram")]
    assert len(semantic) == 5 and len(syntactic) == 9
    assert report.semantic.correct == sum(s.correct for s in semantic)
    assert report.syntactic.incorrect == sum(s.incorrect for s in syntactic)
    assert report.semantic.evaluated + report.syntactic.evaluated == report.total.evaluated
    assert {s.kind for s in semantic} == {"semantic"}
    assert {s.kind for s in syntactic} == {"syntactic"}


# --------------------------------------------------------------------------- live gensim


@pytest.mark.parametrize(("restrict", "every"), [(300000, 150), (30000, 60), (2000, 10)])
def test_a_slice_matches_gensims_own_evaluator(bundled, bundled_kv, google, tmp_path,
                                                restrict, every):
    path = _slice(google, tmp_path / "slice.txt", every)
    score, sections = bundled_kv.evaluate_word_analogies(str(path), restrict_vocab=restrict)
    report = ev.evaluate_analogies(bundled, ev.read_analogies(path), restrict=restrict,
                                   show_errors=8)
    assert _counts(report) == _gensim_counts(sections)
    assert report.total.accuracy == score
    # the wrong answers shown are gensim's answers
    for e in report.errors:
        a, b, c = (w.lower() for w in e.question)
        sims = bundled_kv.most_similar(positive=[b, c], negative=[a], topn=5,
                                       restrict_vocab=restrict)
        first = next(w for w, _ in sims if w not in (a, b, c))
        assert e.predicted == first
        assert e.predicted_score == pytest.approx(dict(sims)[first], abs=1e-5)
        assert e.expected_rank is None or e.expected_rank > 1


def test_mul_matches_gensims_cosmul_under_gensims_rule(bundled, bundled_kv, google, tmp_path,
                                                       monkeypatch):
    # gensim's evaluator has no 3CosMul: run it with most_similar_cosmul in place of
    # most_similar. cosmul ignores restrict_vocab, so both use the whole vocabulary.
    path = _slice(google, tmp_path / "slice.txt", 400)
    everything = len(bundled)

    def cosmul(positive, negative, topn, restrict_vocab):
        return bundled_kv.most_similar_cosmul(positive=positive, negative=negative, topn=topn)

    monkeypatch.setattr(bundled_kv, "most_similar", cosmul)
    score, sections = bundled_kv.evaluate_word_analogies(str(path), restrict_vocab=everything)
    report = ev.evaluate_analogies(bundled, ev.read_analogies(path), restrict=everything,
                                   method="mul")
    assert report.total.evaluated >= 40
    assert _counts(report) == _gensim_counts(sections)


# --------------------------------------------------------------------------- several files

def _one_file_per_section(dataset: ev.AnalogySet, folder: Path, every: int = 1) -> Path:
    """GloVe's eval/question-data layout: a file per section, named after it, no header."""
    folder.mkdir()
    for section in dataset.sections:
        lines = [" ".join(q.words) for q in section.questions[::every]]
        (folder / f"{section.name}.txt").write_text("\n".join(lines) + "\n", "utf-8")
    return folder


def _by_name(report: ev.AnalogyReport) -> dict[str, tuple[int, int, int]]:
    return {s.name: (s.correct, s.incorrect, s.skipped) for s in report.sections}


def test_a_directory_of_one_file_per_section_is_the_google_file(bundled, google, google_30000,
                                                                 tmp_path):
    folder = _one_file_per_section(google, tmp_path / "question-data")
    dataset = ev.read_analogy_datasets([str(folder)])
    assert (dataset.name, dataset.path) == (str(folder), str(folder))
    assert [f.name for f in dataset.files] == sorted(str(folder / f"{s.name}.txt")
                                                     for s in google.sections)
    report = ev.evaluate_analogies(bundled, dataset, restrict=30000)
    # in sorted order (city-in-state before currency), each section with its own counts
    names = [s.name for s in report.sections]
    assert names == sorted(s.name for s in google.sections) and names != \
        [s.name for s in google.sections]
    assert _by_name(report) == _by_name(google_30000)
    gensims = {name: (c, i) for name, c, i in GENSIM_GOOGLE[30000][:-1]}
    assert {n: (c, i) for n, (c, i, _) in _by_name(report).items()} == gensims
    for part in ("semantic", "syntactic", "total"):
        assert getattr(report, part) == getattr(google_30000, part)
    assert [s.kind for s in report.sections] == \
        ["syntactic" if n.startswith("gram") else "semantic" for n in names]
    assert report.invalid_lines == [] and len(report.files) == 14


def test_files_and_a_name_together_match_gensim_section_by_section(runner, bundled_kv, google,
                                                                    tmp_path):
    # a slice, as per-section files and as one file with headers: gensim reads the latter
    folder = _one_file_per_section(google, tmp_path / "slice", every=60)
    path = _slice(google, tmp_path / "slice.txt", 60)
    _score, sections = bundled_kv.evaluate_word_analogies(str(path), restrict_vocab=30000)
    gensims = {name: (c, i) for name, c, i in _gensim_counts(sections)[:-1]}
    result = run(runner, "evaluate", "analogies", str(folder), "google", str(path),
                 "--restrict", "30000", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    rows = [(s["section"], s["correct"], s["incorrect"]) for s in data["sections"]]
    assert len(rows) == 3 * 14
    in_folder, in_google, in_file = rows[:14], rows[14:28], rows[28:]
    assert [r[0] for r in in_folder] == sorted(gensims)
    assert {n: (c, i) for n, c, i in in_folder} == gensims
    assert in_google == GENSIM_GOOGLE[30000][:-1]
    assert in_file == _gensim_counts(sections)[:-1]
    assert data["correct"] == 2 * _gensim_counts(sections)[-1][1] + GENSIM_GOOGLE[30000][-1][1]
    google_path = ev.locate("google", "analogies")[1]
    assert data["dataset"] == f"{folder}, google, {path}"
    assert data["file"] == f"{folder}, {google_path}, {path}"


def test_a_file_without_a_header_is_one_section_named_after_it(bundled, bundled_kv, tmp_path):
    headerless = tmp_path / "capitals.txt"
    headerless.write_text("athens greece paris france\n\nathens greece berlin germany\n"
                          "not a question\nathens greece zzzqqqxx france\n", "utf-8")
    dataset = ev.read_analogy_datasets([str(headerless)])
    (section,) = dataset.sections
    assert (section.name, len(section.questions)) == ("capitals", 3)
    assert [q.line for q in section.questions] == [1, 3, 5]
    assert dataset.invalid_lines == [4] and dataset.name == str(headerless)
    # gensim wants a header: the same questions under ': capitals'
    headed = tmp_path / "headed.txt"
    headed.write_text(": capitals\n" + headerless.read_text("utf-8"), "utf-8")
    _score, sections = bundled_kv.evaluate_word_analogies(str(headed))
    assert _counts(ev.evaluate_analogies(bundled, dataset)) == _gensim_counts(sections)


def test_a_file_with_headers_keeps_them_among_files_without(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "b-headed.txt").write_text(": one\na b c d\n: two\ne f g h\nbad line\n", "utf-8")
    (folder / "a-plain.txt").write_text("a b c d\nnot four\n", "utf-8")
    (folder / "c.TXT").write_text("a b c d\n", "utf-8")  # not *.txt
    (folder / "._a-plain.txt").write_bytes(b"\x00\x05\x16\x07\xff")  # macOS's AppleDouble
    (folder / "sub.txt").mkdir()  # a directory, not a file
    dataset = ev.read_analogy_datasets([str(folder)])
    assert [s.name for s in dataset.sections] == ["a-plain", "one", "two"]
    assert [(f.path, f.lines, f.invalid_lines) for f in dataset.files] == \
        [(str(folder / "a-plain.txt"), 2, [2]), (str(folder / "b-headed.txt"), 5, [5])]
    # the skipped lines are numbered through the files, one after the other
    assert dataset.invalid_lines == [2, 2 + 5]
    # the same section name in two files stays two sections
    twice = ev.read_analogy_datasets([str(folder / "a-plain.txt")] * 2)
    assert [s.name for s in twice.sections] == ["a-plain", "a-plain"]


def test_a_dataset_name_wins_over_a_directory_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "google").mkdir()
    (tmp_path / "google" / "x.txt").write_text("a b c d\n", "utf-8")
    ((name, path),) = ev.analogy_files("google")
    assert (name, path.name) == ("google", "questions-words.txt")
    assert ev.analogy_files("./google") == [(str(Path("google/x.txt")), Path("google/x.txt"))]


def test_the_quiz_reader_still_wants_a_header(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("man king woman queen\n", "utf-8")
    with pytest.raises(ev.DatasetError, match="a question before the first section header"):
        ev.read_analogies(path)
    assert ev.read_analogies(path, file_section=True).sections[0].name == "q"


def _latin1_dir(d: Path) -> None:
    (d / "latin").mkdir()
    (d / "latin" / "a.txt").write_text("athens greece paris france\n", "utf-8")
    (d / "latin" / "b.txt").write_bytes(b"caf\xe9 x y z\n")


@pytest.mark.parametrize(("arg", "make", "message"), [
    ("missing.txt", lambda d: None,
     "unknown dataset '{d}/missing.txt': not a dataset name (google) and no such file"),
    ("empty", lambda d: (d / "empty").mkdir(), "dataset directory {d}/empty holds no .txt file"),
    ("latin", _latin1_dir, "{d}/latin/b.txt line 1: not UTF-8 text"),
    ("late.txt", lambda d: (d / "late.txt").write_text("a b c d\n: s\ne f g h\n", "utf-8"),
     "{d}/late.txt line 1: a question before the first section header"),
])
def test_a_bad_file_among_several_is_a_usage_error_naming_it(runner, tmp_path, arg, make,
                                                             message):
    good = tmp_path / "good.txt"
    good.write_text("athens greece paris france\n", "utf-8")
    make(tmp_path)
    result = run(runner, "evaluate", "analogies", str(good), "google", str(tmp_path / arg))
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"embedcli: error: {message.format(d=tmp_path)}")


def test_skipped_lines_are_noted_per_file(runner, tmp_path):
    (tmp_path / "a.txt").write_text("athens greece paris france\nthree words only\n", "utf-8")
    (tmp_path / "b.txt").write_text("five words in this line\nathens greece paris france\n",
                                    "utf-8")
    result = run(runner, "evaluate", "analogies", str(tmp_path), "-f", "json")
    assert result.exit_code == 0, result.stderr
    notes = result.stderr.splitlines()
    assert len(notes) == 2
    assert f"{tmp_path / 'a.txt'}: skipped 1 line" in notes[0] and "(line 2)" in notes[0]
    assert f"{tmp_path / 'b.txt'}: skipped 1 line" in notes[1] and "(line 1)" in notes[1]
    assert json.loads(result.stdout)["invalid_lines"] == [2, 3]


# --------------------------------------------------------------------------- the split


def test_the_first_five_sections_of_the_google_file_are_its_semantic_ones(bundled, google,
                                                                          google_30000):
    by_position = ev.evaluate_analogies(bundled, google, restrict=30000, semantic_sections=5)
    assert (google_30000.split, by_position.split) == ("name", "first 5")
    assert by_position.sections == google_30000.sections
    for part in ("semantic", "syntactic", "total"):
        assert getattr(by_position, part) == getattr(google_30000, part)


def test_the_split_by_position_differs_where_no_name_starts_with_gram(runner, bundled_kv,
                                                                      google, tmp_path):
    # the Google slice with 'gram1-' and the like taken off the names
    path = _slice(google, tmp_path / "slice.txt", 60)
    renamed = tmp_path / "renamed.txt"
    renamed.write_text(re.sub(r"^: gram[0-9]+-", ": ", path.read_text("utf-8"), flags=re.M),
                       "utf-8")
    _score, sections = bundled_kv.evaluate_word_analogies(str(renamed), restrict_vocab=30000)
    gensims = _gensim_counts(sections)
    assert not any(name.startswith("gram") for name, _, _ in gensims)

    def figures(*args: str) -> dict:
        result = run(runner, "evaluate", "analogies", str(renamed), "--restrict", "30000",
                     "-f", "json", *args)
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)
        assert [(s["section"], s["correct"], s["incorrect"]) for s in data["sections"]] \
            + [("Total accuracy", data["correct"], data["incorrect"])] == gensims
        return data

    def summed(rows: list[tuple[str, int, int]]) -> tuple[int, int]:
        return sum(c for _, c, _ in rows), sum(i for _, _, i in rows)

    by_name, by_position = figures(), figures("--semantic-sections", "5")
    assert {s["kind"] for s in by_name["sections"]} == {"semantic"}
    assert (by_name["syntactic"]["questions"], by_name["syntactic"]["accuracy"]) == (0, None)
    assert [s["kind"] for s in by_position["sections"]] == ["semantic"] * 5 + ["syntactic"] * 9
    semantic = (by_position["semantic"]["correct"], by_position["semantic"]["incorrect"])
    syntactic = (by_position["syntactic"]["correct"], by_position["syntactic"]["incorrect"])
    assert semantic == summed(gensims[:5]) and syntactic == summed(gensims[5:-1])
    assert by_position["semantic"] != by_name["semantic"]
    assert by_position["total"] == by_name["total"]
    # a count beyond the sections makes them all semantic; 0 makes them all syntactic
    assert {s["kind"] for s in figures("--semantic-sections", "99")["sections"]} == \
        {"semantic"}
    assert {s["kind"] for s in figures("--semantic-sections", "0")["sections"]} == \
        {"syntactic"}


def test_the_json_says_which_split_was_used(runner, tiny):
    for args, split in (((), "name"), (("--semantic-sections", "1"), "first 1")):
        data = json.loads(run(runner, "evaluate", "analogies", str(tiny), *args,
                              "-f", "json").stdout)
        assert data["split"] == split


def test_the_help_says_the_split_is_by_name_by_default(runner):
    result = run(runner, "evaluate", "analogies", "--help")
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stdout).split())
    assert "--semantic-sections" in text and "Default: by name" in text
    assert "compute-accuracy" in text


def test_a_negative_semantic_sections_is_a_usage_error(runner, bundled, google):
    result = run(runner, "evaluate", "analogies", "--semantic-sections", "-1")
    assert result.exit_code == ExitStatus.USAGE and "--semantic-sections" in result.stderr
    with pytest.raises(ev.UsageError, match="semantic_sections"):
        ev.evaluate_analogies(bundled, google, semantic_sections=-1)


# --------------------------------------------------------------------------- a hand-made model

SMALL_WORDS = ["the", "man", "woman", "king", "queen", "King", "boy", "girl", "prince",
               "princess"]
SMALL_VECTORS = [
    [0, 0, 0, 0, 1],  # the
    [1, 0, 0, 0, 0],  # man
    [0, 1, 0, 0, 0],  # woman
    [1, 0, 1, 0, 0],  # king
    [0, 1, 1, 0, 0],  # queen
    [1, 0, 1.05, 0, 0],  # King: a case variant, nearly king
    [1, 0, 0, 1, 0],  # boy
    [0, 1, 0, 1, 0],  # girl
    [1, 0, 1, 1, 0],  # prince
    [0, 1, 1, 1, 0],  # princess
]
SMALL_QUESTIONS = """\
: family
man king woman queen
MAN KING WOMAN QUEEN
boy prince girl princess
man woman king queen
man king man prince
this line has five words
man king woman unknownword

: gram-plural
woman girl man boy
"""


@pytest.fixture
def small(tmp_path):
    from gensim.models import KeyedVectors

    from embedcli.models import load

    path = write_small_model(tmp_path / "small.txt", SMALL_WORDS, SMALL_VECTORS)
    questions = tmp_path / "questions.txt"
    questions.write_text(SMALL_QUESTIONS, "utf-8")
    return load(str(path)), KeyedVectors.load_word2vec_format(str(path)), questions


def test_a_small_model_gives_the_answers_worked_out_by_hand(small):
    model, _kv, questions = small
    report = ev.evaluate_analogies(model, ev.read_analogies(questions), show_errors=5)
    family, plural = report.sections
    # king - man + woman = queen (twice: upper case is the same question); prince - boy +
    # girl = princess; woman - man + king = queen; king - man + man = king, whose nearest
    # other row is 'King', the same word upper-cased, so it is passed over for 'prince'
    assert (family.correct, family.incorrect, family.skipped) == (5, 0, 1)
    assert (plural.name, plural.kind, plural.correct, plural.incorrect) == \
        ("gram-plural", "syntactic", 1, 0)
    assert report.total.accuracy == 1.0 and report.errors == []
    assert report.invalid_lines == [7]  # five words: skipped, as gensim does
    assert report.coverage == 6 / 7 and report.oov_percent == pytest.approx(100 / 7)


def test_case_sensitive_sees_king_as_another_word(small):
    model, _kv, questions = small
    report = ev.evaluate_analogies(model, ev.read_analogies(questions), case_insensitive=False,
                                   show_errors=5)
    family = report.sections[0]
    # 'MAN KING WOMAN QUEEN' is not in the vocabulary; 'King' now answers king - man + man
    assert (family.correct, family.incorrect, family.skipped) == (3, 1, 2)
    (error,) = report.errors
    assert (error.line, error.question, error.expected, error.predicted) == \
        (6, ("man", "king", "man"), "prince", "King")
    assert error.expected_rank == 2


def test_restrict_drops_questions_and_candidates_beyond_it(small):
    model, _kv, questions = small
    report = ev.evaluate_analogies(model, ev.read_analogies(questions), restrict=8)
    family = report.sections[0]
    # prince and princess (rows 8 and 9) are out: their questions are skipped
    assert (family.correct, family.skipped) == (3, 3)
    assert report.words == 8 and report.restrict == 8


@pytest.mark.parametrize("restrict", [300000, 8, 6])
@pytest.mark.parametrize("case_insensitive", [True, False])
def test_a_small_model_matches_gensims_evaluator(small, restrict, case_insensitive):
    model, kv, questions = small
    score, sections = kv.evaluate_word_analogies(str(questions), restrict_vocab=restrict,
                                                  case_insensitive=case_insensitive)
    report = ev.evaluate_analogies(model, ev.read_analogies(questions), restrict=restrict,
                                   case_insensitive=case_insensitive)
    assert _counts(report) == _gensim_counts(sections)
    assert (report.total.accuracy or 0.0) == score


def test_mul_on_a_small_model_matches_gensims_cosmul(small, monkeypatch):
    model, kv, questions = small

    def cosmul(positive, negative, topn, restrict_vocab):
        return kv.most_similar_cosmul(positive=positive, negative=negative, topn=topn)

    monkeypatch.setattr(kv, "most_similar", cosmul)
    _score, sections = kv.evaluate_word_analogies(str(questions))
    report = ev.evaluate_analogies(model, ev.read_analogies(questions), method="mul")
    assert _counts(report) == _gensim_counts(sections)


def test_equal_scores_go_to_the_more_frequent_word(tmp_path):
    from embedcli.models import load

    # 'twin' and 'twin2' have the same vector: the answer is the one on the earlier row
    words = ["a", "b", "c", "twin", "twin2"]
    vectors = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1], [0, 1, 1]]
    model = load(str(write_small_model(tmp_path / "tie.txt", words, vectors)))
    for expected, correct in (("twin", 1), ("twin2", 0)):
        questions = tmp_path / "q.txt"
        questions.write_text(f": s\na b a {expected}\n", "utf-8")
        report = ev.evaluate_analogies(model, ev.read_analogies(questions))
        assert report.total.correct == correct


@pytest.mark.parametrize("workers", [1, 3])
def test_the_blocked_top_k_is_the_plain_top_k(monkeypatch, workers):
    from embedcli.engine import scan as engine

    monkeypatch.setattr(engine, "worker_count", lambda _cap: workers)
    # small integers: every product is exact, whatever the blocking, and ties are many
    rng = np.random.default_rng(7)
    rows = rng.integers(-3, 4, size=(5000, 16)).astype(np.float32)
    index = np.zeros((1600, 3), dtype=np.int64)  # three blocks of questions
    scorer = ev._AddScorer(rows, index)
    scorer.queries = rng.integers(-3, 4, size=(1600, 16)).astype(np.float32)
    dead = np.array([4, 3000], dtype=np.int64)  # zero rows: never candidates
    scores = scorer.queries.astype(np.float64) @ rows.T.astype(np.float64)
    scores[:, dead] = -np.inf
    # a threshold per question: a score far down (counted by comparison), one near the
    # top (counted with the candidates), and none
    ordered = np.sort(scores, axis=1)
    thresholds = np.stack([ordered[:, 1000], ordered[:, -3],
                           np.full(len(index), np.inf)], axis=1).astype(np.float32)
    found = engine.top_k(scorer, np.full(len(index), ev._K), len(rows), dead=dead,
                         thresholds=thresholds)
    best = found.best(ev._K)
    assert (ordered[:, -ev._K - 1] == ordered[:, -ev._K]).any()  # ties at the cut, too
    rank = np.broadcast_to(np.arange(len(rows)), scores.shape)
    expected = np.lexsort((rank, -scores), axis=-1)[:, :ev._K]
    assert (best == expected).all()
    assert (found.counts == (scores[:, None, :] > thresholds[:, :, None]).sum(axis=2)).all()
    # with no row wanted, only the counts
    alone = engine.top_k(scorer, np.zeros(len(index), dtype=np.intp), len(rows), dead=dead,
                         thresholds=thresholds)
    assert alone.row.size == 0 and (alone.counts == found.counts).all()


def _planted_on_bounds(thresholds: np.ndarray, margin: np.float32, rows: int, seed: int):
    """Scores uniform in [-1, 1], and many exactly on each threshold, on its float32
    bounds t + margin and t - margin, and on the next float32 either side of each."""
    rng = np.random.default_rng(seed)
    planted = []
    for t in thresholds.ravel():
        for v in (np.float32(t + margin), np.float32(t - margin), t):
            up, down = np.nextafter(v, np.float32(np.inf)), np.nextafter(v, np.float32(-np.inf))
            planted += [v, up, down]
    x = rng.uniform(-1, 1, rows).astype(np.float32)
    at = rng.choice(np.arange(1, rows), size=len(planted) * 5, replace=False)
    x[at] = np.resize(np.array(planted, dtype=np.float32), at.size)
    return x, np.setdiff1d(np.arange(rows), at)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_row_is_above_close_or_not_above_whatever_the_kind_of_threshold(monkeypatch,
                                                                               workers):
    # a margin float32 cannot add exactly (1e-3), thresholds near the top, near the bottom
    # and in the middle: a row above t + margin is counted, one above t - margin but not
    # above t + margin is listed close, each once; none is lost between the two
    from embedcli.engine import scan as engine

    monkeypatch.setattr(engine, "worker_count", lambda _cap: workers)
    kinds = set()
    real = engine._Plan.__init__

    def planning(self, *args, **kwargs):
        real(self, *args, **kwargs)
        kinds.update({"top"} if np.isfinite(self.top_hi).any() else set())
        kinds.update({"bottom"} if self.runs else set())
        kinds.update({"dense"} if self.reach[0] else set())

    monkeypatch.setattr(engine._Plan, "__init__", planning)
    m = np.float32(1e-3)
    thresholds = np.array([[0.99931, -0.99931, 0.0], [0.25, -0.5, 0.9995],
                           [0.3, 0.30000001, -0.999]], dtype=np.float32)
    rows = 140_000
    x, spare = _planted_on_bounds(thresholds, m, rows, seed=11)
    vectors = np.zeros((rows, 8), dtype=np.float32)
    vectors[:, 0] = x  # each score is exactly x: the query is the first axis
    dead = spare[:3]
    queries = np.zeros((len(thresholds), 8), dtype=np.float32)
    queries[:, 0] = 1
    found = engine.top_k(engine.DotScorer(vectors, queries), np.zeros(len(thresholds), np.intp),
                         rows, margin=float(m), thresholds=thresholds, dead=dead)
    assert kinds == {"top", "bottom", "dense"}  # the probe planned all three
    s = x.copy()
    s[dead] = -np.inf
    close: dict[tuple[int, int], list[int]] = {}
    for q, c, r in zip(*found.near, strict=True):
        close.setdefault((int(q), int(c)), []).append(int(r))
    for (j, c), t in np.ndenumerate(thresholds):
        hi, lo = np.float32(t + m), np.float32(t - m)
        assert found.counts[j, c] == np.count_nonzero(s > hi), (j, c)
        assert sorted(close.get((j, c), [])) == np.flatnonzero((s > lo) & (s <= hi)).tolist()


def test_count_above_loses_no_row_between_the_bounds():
    from embedcli.engine import scan as engine

    m = np.float32(1e-3)
    for t in np.array([0.99931, 0.25, 0.0, -0.5, -0.999, 0.30000001], dtype=np.float32):
        scores, _ = _planted_on_bounds(np.array([t]), m, 20_000, seed=5)
        exact = scores.astype(np.float64)  # here the exact order is the float32 order
        assert engine.count_above(scores, t, float(t), exact.__getitem__, float(m)) == \
            np.count_nonzero(scores > t), t


@pytest.mark.parametrize("queries,clip,workers", [(1000, 400000, 2), (19544, 400000, 2),
                                                  (3, 700, 8), (1600, 5000, 3)])
def test_the_schedule_covers_every_block_once_and_starts_each_block_first(queries, clip,
                                                                          workers):
    from embedcli.engine import scan as engine

    bounds = engine.query_blocks(queries)
    tasks = engine.schedule(bounds, clip, workers)
    blocks = len(bounds) - 1
    for b in range(blocks):  # each block's row blocks, once each, in order
        starts = [s for tb, ss, _ in tasks if tb == b for s in ss]
        width = engine.block_rows(bounds[b + 1] - bounds[b])
        assert starts == list(range(0, clip, width))
    # the first run of every block before any block's second: plans are made at once
    first = {}
    for position, (b, _, _) in enumerate(tasks):
        first.setdefault(b, position)
    assert sorted(first.values()) == list(range(blocks))


@pytest.mark.parametrize("method", ["add", "mul"])
def test_the_ranks_of_the_errors_shown_are_counted_right(bundled, google, method):
    # one pass counts the rows above every error's expected word; here each error's
    # candidates are scored one pair at a time, and counted
    restrict = 5000
    report = ev.evaluate_analogies(bundled, google, restrict=restrict, method=method,
                                   show_errors=40)
    clip, ok_vocab = ev._ok_vocab(bundled, restrict, True)
    index = np.array([[ok_vocab[w.upper()] for w in e.question] for e in report.errors])
    scorer = (ev._AddScorer if method == "add" else ev._MulScorer)(bundled.vectors[:clip],
                                                                   index)
    dead = np.asarray(bundled.norms[:clip]) == 0
    assert len(report.errors) == 40
    for j, e in enumerate(report.errors):
        scores = scorer.pairs(np.full(clip, j), np.arange(clip))
        scores[dead] = -np.inf
        scores[index[j]] = -np.inf  # gensim ranks without the input rows
        target = scores[ok_vocab[e.expected.upper()]]
        assert e.predicted_score == scores[bundled.words(clip).index(e.predicted)]
        if np.isfinite(target):
            assert (e.expected_rank, e.expected_score) == \
                (int((scores > target).sum()) + 1, float(target))
        else:
            assert e.expected_rank is None and e.expected_score is None


@pytest.mark.parametrize("method", ["add", "mul"])
def test_showing_the_errors_changes_no_count(bundled, google, method):
    # the ranks come from the pass that answers the questions, with a margin and a
    # threshold each: the answers must be those of the pass without them
    plain = ev.evaluate_analogies(bundled, google, restrict=5000, method=method)
    shown = ev.evaluate_analogies(bundled, google, restrict=5000, method=method,
                                  show_errors=10**6)
    assert shown.sections == plain.sections and shown.total == plain.total
    assert len(shown.errors) == shown.total.incorrect > 0 and not plain.errors


def test_without_threadpoolctl_one_worker_gives_the_same_answers(bundled, google, monkeypatch):
    import contextlib

    @contextlib.contextmanager
    def absent():
        yield False

    report = ev.evaluate_analogies(bundled, google, restrict=5000, show_errors=20)
    from embedcli.engine import scan as engine

    monkeypatch.setattr(engine, "one_blas_thread", absent)
    assert ev.evaluate_analogies(bundled, google, restrict=5000, show_errors=20) == report


def test_progress_counts_the_questions(bundled, google):
    calls = []
    report = ev.evaluate_analogies(bundled, google, restrict=5000,
                                   progress=lambda done, total: calls.append((done, total)))
    n = report.total.evaluated
    assert calls[0] == (0, n) and calls[-1] == (n, n)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_progress_moves_with_every_task_when_the_blocks_run_in_parts(monkeypatch):
    # two blocks of queries on two workers: each block is scanned in two runs, and the
    # first runs of both come first (schedule), so no block is done until near the end;
    # the progress still moves as each run ends, in proportion to the rows scanned
    from embedcli.engine import scan as engine

    monkeypatch.setattr(engine, "worker_count", lambda _cap: 2)
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((20000, 8)).astype(np.float32)
    queries = rng.standard_normal((1000, 8)).astype(np.float32)
    tasks = engine.schedule(engine.query_blocks(1000), len(rows), 2)
    assert len(tasks) == 4 and [b for b, _, _ in tasks] == [0, 1, 0, 1]
    calls = []
    engine.top_k(engine.DotScorer(rows, queries), np.full(1000, 5), len(rows),
                 progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert calls[0] == (0, 1000) and calls[-1] == (1000, 1000)
    assert len(calls) == len(tasks) + 1 and done == sorted(set(done))  # up at every run

# --------------------------------------------------------------------------- word pairs


@pytest.mark.parametrize("dataset", ["wordsim353", "simlex999"])
@pytest.mark.parametrize("restrict", [300000, 3000])
def test_pairs_match_gensims_evaluate_word_pairs(bundled, bundled_kv, dataset, restrict):
    name, path = ev.locate(dataset, "similarity")
    (ours,) = ev.evaluate_pairs(bundled, [ev.read_pairs(path, name)], restrict=restrict).results
    pearson, spearman, oov = bundled_kv.evaluate_word_pairs(str(path), restrict_vocab=restrict)
    assert ours.oov_percent == oov
    # the model's similarities agree with gensim's to float32 rounding (gensim normalises
    # in float64 at query time, the cache holds float32 unit vectors): Spearman sees the
    # same ranks, Pearson the same values to 1e-7
    assert ours.spearman == pytest.approx(spearman[0], abs=1e-12)
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-7)


def test_a_pairs_file_with_comments_bad_lines_and_unknown_words(bundled, bundled_kv, tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("# a comment\nword1\tword2\tscore\ncat\tdog\t8.5\nCar\ttruck\t7\n"
                    "cat\tzzzqqqxx\t3\ncup\tmountain\t0.5\nsun\tmoon\t6.25\n\n"
                    "king\tqueen\t8\tsurplus\n", "utf-8")
    (ours,) = ev.evaluate_pairs(bundled, [ev.read_pairs(path)]).results
    pearson, spearman, oov = bundled_kv.evaluate_word_pairs(str(path))
    assert (ours.pairs, ours.used, ours.oov) == (5, 4, 1)
    assert ours.invalid_lines == [2, 9]  # the header and the four-field line; not the blank
    assert ours.oov_percent == oov == 20.0
    assert ours.spearman == pytest.approx(spearman[0], abs=1e-12)
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-7)


@pytest.mark.parametrize("seed", range(6))
def test_pearson_and_spearman_are_scipys(seed):
    from scipy import stats

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 400))
    x = rng.integers(0, 10, n).astype(float) if seed % 2 else rng.standard_normal(n)
    y = x * rng.uniform(-1, 1) + rng.standard_normal(n)
    y[: n // 3] = np.round(y[: n // 3])  # ties
    assert ev.pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert ev.spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert ev.average_ranks(y).tolist() == stats.rankdata(y).tolist()


def test_correlations_of_constant_or_tiny_input_are_nan():
    assert math.isnan(ev.pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(ev.spearman([1.0], [2.0]))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def tiny(tmp_path) -> Path:
    """Four questions on the bundled model: a right, two more, a skipped, a bad line."""
    path = tmp_path / "tiny.txt"
    path.write_text(": capitals\nathens greece paris france\nathens greece berlin germany\n"
                    "man king woman queen\nathens greece zzzqqqxx france\n"
                    ": gram-comparative\ngood better bad worse\nnot a question\n", "utf-8")
    return path


def test_json_has_every_figure(runner, tiny):
    result = run(runner, "evaluate", "analogies", str(tiny), "--show-errors", "3",
                 "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    figures = {"correct", "incorrect", "evaluated", "skipped", "questions", "accuracy"}
    assert set(data) == {"dataset", "file", "model", "method", "split", "restrict", "words",
                         "case_insensitive", "coverage", "oov_percent", "semantic",
                         "syntactic", "total", "sections", "errors", "invalid_lines"} | figures
    assert (data["dataset"], data["file"], data["model"], data["method"]) == \
        (str(tiny), str(tiny), "glove-6b-50d", "add")
    assert (data["restrict"], data["words"], data["case_insensitive"]) == (300000, 300000, True)
    assert (data["questions"], data["evaluated"], data["skipped"]) == (5, 4, 1)
    assert data["coverage"] == 4 / 5 and data["oov_percent"] == 20.0
    assert data["accuracy"] == data["correct"] / 4
    for part in ("semantic", "syntactic", "total"):
        assert set(data[part]) == figures | {"section", "kind"}
    assert [s["section"] for s in data["sections"]] == ["capitals", "gram-comparative"]
    assert [s["kind"] for s in data["sections"]] == ["semantic", "syntactic"]
    assert data["total"]["correct"] == data["correct"]
    assert data["invalid_lines"] == [8]
    assert len(data["errors"]) == data["incorrect"]
    for e in data["errors"]:
        assert set(e) == {"section", "line", "question", "expected", "predicted",
                          "predicted_score", "expected_rank", "expected_score"}
    assert "skipped 1 line that is not" in result.stderr and "line 8" in result.stderr


def test_similarity_json_has_every_figure(runner):
    data = json.loads(run(runner, "evaluate", "similarity", "-f", "json").stdout)
    assert set(data) == {"model", "restrict", "words", "case_insensitive", "results"}
    assert [r["dataset"] for r in data["results"]] == ["wordsim353", "simlex999"]
    ws, sl = data["results"]
    assert set(ws) == {"dataset", "file", "pairs", "used", "oov", "oov_percent", "pearson",
                       "spearman", "invalid_lines"}
    # the figures (gensim's, on the bundled vectors)
    assert round(ws["spearman"], 4) == 0.5033 and round(sl["spearman"], 4) == 0.2631
    assert (ws["pairs"], ws["oov"], sl["pairs"], sl["oov"]) == (353, 0, 999, 1)


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "tsv", "csv", "plain"])
def test_every_format(runner, tiny, fmt):
    result = run(runner, "evaluate", "analogies", str(tiny), "--format", fmt,
                 "--show-errors", "2")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        assert json.loads(out)["questions"] == 5
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
        assert [r["section"] for r in rows] == ["capitals", "gram-comparative", "semantic",
                                                "syntactic", "total"]
    elif fmt in ("tsv", "csv"):
        sep = "\t" if fmt == "tsv" else ","
        lines = out.splitlines()
        assert lines[0].split(sep) == ["section", "kind", "questions", "evaluated", "correct",
                                       "incorrect", "skipped", "accuracy"]
        assert lines[-1].split(sep)[:3] == ["total", "summary", "5"]
    elif fmt == "plain":
        names = [line.split("\t")[0] for line in out.splitlines()]
        assert names == ["capitals", "gram-comparative", "semantic", "syntactic", "total"]
    else:
        assert "capitals" in out and "coverage: 4 of 5 questions" in out
        assert "semantic" in out and "syntactic" in out and "total" in out


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "tsv", "csv", "plain"])
def test_every_format_for_similarity(runner, fmt):
    result = run(runner, "evaluate", "similarity", "wordsim353", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert "wordsim353" in result.stdout
    if fmt == "plain":
        name, spearman = result.stdout.split("\t")
        assert round(float(spearman), 4) == 0.5033


def test_a_progress_bar_goes_to_stderr_on_a_terminal(bundled, session_cache, tiny):
    status, stdout, seen = run_with_stderr_on_a_terminal(
        ["evaluate", "analogies", str(tiny), "-f", "json"],
        dict(os.environ, EMBEDCLI_CACHE_DIR=str(session_cache)))
    assert status == 0
    assert b"5 analogy questions" in seen and b"\x1b[" in seen  # the bar, drawn live
    assert json.loads(stdout)["questions"] == 5  # stdout is only the answer


@pytest.mark.parametrize("columns", [40, 60])
def test_a_narrow_terminal_drops_progress_columns_and_cuts_no_number(bundled, session_cache,
                                                                     tiny, columns):
    status, _, seen = run_with_stderr_on_a_terminal(
        ["evaluate", "analogies", str(tiny), "-f", "json"],
        dict(os.environ, EMBEDCLI_CACHE_DIR=str(session_cache)), columns=columns)
    assert status == 0 and b"5 analogy questions" in seen
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen).decode()
    assert "\u2026" not in text  # nothing cut: no ellipsis
    bars = [line for line in re.split(r"[\r\n]", text) if "\u2501" in line]  # (the bar: ━)
    assert bars and all(len(line.rstrip()) <= columns for line in bars), bars


def test_no_progress_bar_when_stderr_is_not_a_terminal(runner, tiny):
    result = run(runner, "evaluate", "analogies", str(tiny), "-f", "json")
    assert result.exit_code == 0 and "analogy questions" not in result.stderr


@pytest.mark.parametrize(("args", "status", "message"), [
    (["analogies", "no-such-file.txt"], ExitStatus.USAGE,
     "unknown dataset 'no-such-file.txt': not a dataset name (google) and no such file"),
    (["analogies", "simlex999"], ExitStatus.USAGE,
     "'simlex999' is a word-pair dataset: use 'embedcli evaluate similarity simlex999'"),
    (["similarity", "google"], ExitStatus.USAGE,
     "'google' is an analogy dataset: use 'embedcli evaluate analogies google'"),
    (["analogies", "--restrict", "0"], ExitStatus.USAGE, "--restrict"),
    (["analogies", "--method", "sub"], ExitStatus.USAGE, "--method"),
    (["analogies", "--show-errors", "-1"], ExitStatus.USAGE, "--show-errors"),
    (["analogies", "-m", "no-such-model"], ExitStatus.MODEL, "no-such-model"),
])
def test_errors_are_one_line_and_a_status(runner, args, status, message):
    result = run(runner, "evaluate", *args)
    assert result.exit_code == status, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("embedcli: error: ") and message in line


@pytest.mark.parametrize(("content", "message"), [
    ("athens greece paris france\n: s\nathens greece berlin germany\n",
     "line 1: a question before the first section header"),
    (": s\nathens greece paris france\ncaf\xe9 x y z\n".encode("latin-1"),
     "line 3: not UTF-8 text"),
    (": only\n: headers\n", "no analogy questions found"),
    ("", "no analogy questions found"),
])
def test_a_malformed_analogy_file_names_the_file_and_line(runner, tmp_path, content, message):
    path = tmp_path / "bad.txt"
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    result = run(runner, "evaluate", "analogies", str(path))
    assert result.exit_code == ExitStatus.USAGE
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"embedcli: error: {path}") and message in line


def test_a_malformed_pairs_file_and_a_directory(runner, tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("# nothing but a comment\ncat dog 3\n", "utf-8")
    result = run(runner, "evaluate", "similarity", str(path))
    assert result.exit_code == ExitStatus.USAGE
    assert f"embedcli: error: {path}: no word pairs found" in result.stderr
    result = run(runner, "evaluate", "similarity", str(tmp_path))
    assert result.exit_code == ExitStatus.USAGE
    assert "is a directory" in result.stderr


def test_an_unreadable_file(runner, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "secret.txt"
    path.write_text(": s\na b c d\n")
    path.chmod(0)
    result = run(runner, "evaluate", "analogies", str(path))
    assert result.exit_code == ExitStatus.USAGE
    assert "cannot read dataset" in result.stderr


def test_nothing_evaluable_is_no_answer(runner, tmp_path):
    path = tmp_path / "oov.txt"
    path.write_text(": s\nzzzqqqxx b c d\n", "utf-8")
    result = run(runner, "evaluate", "analogies", str(path))
    assert result.exit_code == ExitStatus.NO_ANSWER
    assert "none of the 1 questions" in result.stderr
    pairs = tmp_path / "oov.tsv"
    pairs.write_text("zzzqqqxx\tcat\t1\n", "utf-8")
    result = run(runner, "evaluate", "similarity", str(pairs))
    assert result.exit_code == ExitStatus.NO_ANSWER
    assert "no pair of" in result.stderr


@pytest.mark.parametrize("command", ["analogies", "similarity"])
def test_every_evaluate_command_has_help_with_an_example(runner, command):
    result = run(runner, "evaluate", command, "--help")
    assert result.exit_code == 0
    assert f"embedcli evaluate {command}" in result.stdout
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    assert f"embedcli evaluate {command}" in readme


def test_the_cli_default_restrict_is_gensims():
    from embedcli.cli import evaluate as cli_eval

    assert cli_eval.DEFAULT_RESTRICT == ev.DEFAULT_RESTRICT == 300000


def test_dataset_names_and_files():
    assert ev.locate("google", "analogies")[1].name == "questions-words.txt"
    assert ev.locate("questions-words", "analogies")[0] == "google"
    assert ev.locate("WS353", "similarity")[1].name == "wordsim353.tsv"
    assert ev.locate("simlex", "similarity")[1].name == "simlex999.txt"
    assert ev.DEFAULT_SIMILARITY == ("wordsim353", "simlex999")


def test_evaluating_imports_neither_gensim_nor_scipy(bundled, session_cache, tiny):
    probe = """
import json, runpy, sys
sys.argv = ["embedcli", *sys.argv[1:]]
try:
    runpy.run_module("embedcli", run_name="__main__")
except SystemExit as exit:
    code = exit.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"gensim", "scipy", "pyarrow"})
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""
    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    env["EMBEDCLI_CACHE_DIR"] = str(session_cache)
    for args in (["analogies", str(tiny)], ["similarity"]):
        done = subprocess.run([sys.executable, "-c", probe, "evaluate", *args, "-f", "json"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert json.loads(done.stderr.splitlines()[-1]) == {"code": 0, "heavy": []}
