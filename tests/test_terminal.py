"""At the terminal: tables that fit any width, help shown as written, options glued to a
query's words, rare words that look like typos.

The commands come from the app (``tests/test_app.py`` walks it): each one's own help
example, drawn as a table at 40, 60, 80 and 120 columns.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from rich.cells import cell_len

from embedcli.errors import ExitStatus
from tests.conftest import run
from tests.test_app import COMMANDS, FORMATTED, _runnable_example

WIDTHS = (40, 60, 80, 120)
TABLED = [p for p in FORMATTED if p[0] not in ("batch", "shell", "quiz")]  # (stdin readers)
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")


def _example(path) -> list[str]:
    args = _runnable_example(path, COMMANDS[path])
    if "--format" in args:
        k = args.index("--format")
        del args[k:k + 2]
    if path == ("evaluate", "analogies"):
        args += ["--restrict", "3000", "--show-errors", "3"]
    return args


def _at_width(runner, width: int, *args: str) -> str:
    result = runner.invoke(__import__("embedcli.cli.app", fromlist=["app"]).app, list(args),
                           env={"COLUMNS": str(width)})
    assert result.exit_code in (ExitStatus.OK, ExitStatus.NO_ANSWER), result.stderr
    return result.stdout


def _numbers(value, key=""):
    """(key, number) for every number in a JSON value."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v, key)


# JSON figures that no table shows (the table says them another way, or they are
# settings): kept small, and each with its reason.
NOT_IN_TABLES = {
    "restrict",  # a setting, shown only when it cuts the vocabulary
    "words",  # evaluate: the vocabulary's size, shown only when it is the cut
    "top",  # explain: the number of answers asked for
    "coverage", "oov_percent",  # shown as percentages
    "weight",  # explain: shown as +1 / -1
    "questions", "incorrect", "invalid_lines",  # summed up in the coverage line
    "t",  # interpolate: steps shown with 2 decimals, always
    "expected_score", "predicted_score",  # evaluate's wrong answers: the table has the rank
}

PERCENT = {"variance", "cumulative"}  # dims: shares of the variance, shown as percentages


def _shown(x, tokens: set[str]) -> bool:
    if isinstance(x, int):
        return str(x) in tokens or f"{x:,}" in tokens
    return any(f"{x:.{d}f}" in tokens or f"{x:,.{d}f}" in tokens for d in (4, 3, 2, 1))


@pytest.mark.parametrize("path", TABLED, ids=lambda p: " ".join(p))
def test_every_table_fits_every_width_and_never_cuts_a_number(runner, path):
    args = _example(path)
    data = json.loads(_at_width(runner, 120, *path, *args, "--format", "json"))
    wide_title = _at_width(runner, 120, *path, *args, "--format", "table").splitlines()[0]
    for width in WIDTHS:
        out = _at_width(runner, width, *path, *args, "--format", "table")
        lines = out.splitlines()
        assert lines, f"{path} wrote nothing at {width}"
        for line in lines:
            assert cell_len(line) <= width, (width, line)
            assert not re.search(r"(^|\s)-?[\d.,]+…|…[\d.,]+(\s|$)", line), (width, line)
        tokens = {t.strip(",") for t in NUMBER.findall(out.replace("(", " ").replace(")", " "))}
        tokens |= {t.lstrip("#") for t in re.findall(r"#[\d,]+", out)}
        missing = [(k, x) for k, x in _numbers(data) if k not in NOT_IN_TABLES
                   and not _shown(x / 1e6 if k.endswith("_bytes") else
                                  100 * x if k in PERCENT else x, tokens)]
        assert not missing, (width, missing[:5], out)
        # the title's words are all there, whole (wrapped between words, never inside one)
        words = {w.rstrip(":") for w in out.split()}
        assert all(w.rstrip(":") in words for w in wide_title.split() if len(w) < width), \
            (width, out)


def test_the_cases_of_the_issue(runner):
    # evaluate analogies at 60 columns: section names and figures whole
    out = _at_width(runner, 60, "evaluate", "analogies", "--restrict", "3000",
                    "--format", "table")
    assert "capital-common-countries" in out and "gram6-nationality-adjective" not in out
    assert re.search(r"total\s+925\s+1,367\s+0\.68", out), out
    # interpolate: every step's t and every word's score whole
    out = _at_width(runner, 60, "interpolate", "winter", "summer", "--steps", "5",
                    "--format", "table")
    assert all(f"{t:.2f}" in out for t in (0, 0.25, 0.5, 0.75, 1)), out
    # a six-word similarity matrix: every column's figures, at any width
    words = ["cat", "dog", "car", "bus", "train", "plane"]
    data = json.loads(_at_width(runner, 120, "similarity", *words, "--format", "json"))
    for width in WIDTHS:
        out = _at_width(runner, width, "similarity", *words, "--format", "table")
        for row in data["matrix"]:
            for x in row:
                assert f"{x:.2f}" in out or f"{x:.4f}" in out, (width, x, out)
        assert all(w in out.split() for w in words)
    # models list: the path is abbreviated from its start, never folded letter by letter
    out = _at_width(runner, 40, "models", "list", "--format", "table")
    assert "…" in out and out.count("\n") < 10, out
    # a title: wrapped between words
    out = _at_width(runner, 40, "doesnt-match", "breakfast", "cereal", "dinner", "lunch",
                    "--format", "table")
    assert out.splitlines()[0].split() == ["doesnt-match:", "breakfast", "cereal", "dinner"]


def test_a_real_terminal_width_in_a_real_process(tmp_path):
    env = {**os.environ, "COLUMNS": "40"}
    out = subprocess.run([sys.executable, "-m", "embedcli", "analogy", "king - man + woman",
                          "--format", "table"], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert max(cell_len(line) for line in out.splitlines()) <= 40
    assert "0.8524" in out and "queen" in out and "█" not in out  # the bars went first


def test_models_tables_are_for_people(runner):
    data = json.loads(_at_width(runner, 120, "models", "info", "glove-6b-50d",
                                "--format", "json"))
    out = _at_width(runner, 120, "models", "info", "glove-6b-50d", "--format", "table")
    assert f"{data['cache_bytes'] / 1e6:.1f} MB" in out
    assert "default: yes" in out and "true" not in out
    assert "words: 400,000" in out
    listed = re.search(r"most frequent: (.*)", out).group(1).split()
    assert listed == data["most_frequent"]  # the words themselves, nothing added
    assert isinstance(data["cache_bytes"], int) and data["default"] is True  # JSON unchanged
    out = _at_width(runner, 120, "models", "list", "--format", "table")
    assert re.search(r"glove-6b-50d\s+yes\s+400,000\s+50\s+float32\s+[\d.]+ MB", out), out


# --------------------------------------------------------------------------- help


def _docstring_words(command) -> list[str]:
    # (less click's "\b" markers: the paragraphs that keep their lines)
    return (command.help or "").replace("\b", " ").split()


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p))
@pytest.mark.parametrize("columns", ["40", "200"])
def test_help_is_shown_as_written(runner, path, columns):
    result = runner.invoke(__import__("embedcli.cli.app", fromlist=["app"]).app,
                           [*path, "--help"], env={"COLUMNS": columns})
    assert result.exit_code == 0
    # the words as printed, wherever click wrapped the lines (never inside a word)
    text = re.sub(r"\s", "", result.stdout)
    for word in _docstring_words(COMMANDS[path]):
        assert word in text, (word, path)
    for param in COMMANDS[path].params:
        for word in (getattr(param, "help", None) or "").split():
            assert word in text, (word, param.name)


def test_an_emoji_code_in_help_stays_text(runner):
    out = run(runner, "plot", "--help").stdout
    assert "man:king::woman:queen" in out and "👩" not in out


# --------------------------------------------------------------------------- glued options


@pytest.mark.parametrize("args, option", [
    (["analogy", "king", "-man", "+woman"], "-m"),
    (["analogy", "king", "-n", "3", "-man", "+woman"], "-m"),
    (["neighbors", "cat", "-nine"], "-n"),
    (["similarity", "cat", "-fish"], "-f"),
    (["interpolate", "cat", "dog", "-stop"], "-s"),
])
def test_a_short_option_glued_to_a_word_after_a_query_says_how_to_write_it(runner, args,
                                                                            option):
    result = run(runner, *args)
    assert result.exit_code == ExitStatus.USAGE
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    word = next(a for a in args[1:] if a.startswith(option) and len(a) > 2)
    assert line.startswith(f"embedcli: error: '{word}' after the query is read as the "
                           f"option {option}")
    assert "quote the query" in line and "'--'" in line


@pytest.mark.parametrize("args", [
    ["analogy", "-n", "2", "--", "king", "-man", "+woman"],
    ["analogy", "king -man +woman", "-n2"],
    ["neighbors", "cat", "-n3"],
    ["similarity", "cat", "dog", "-fjson"],
    ["explain", "king", "man", "woman", "-equeen"],  # --expect takes a word
])
def test_what_is_meant_as_an_option_still_is(runner, args):
    result = run(runner, *args)
    assert result.exit_code == ExitStatus.OK, result.stderr


# --------------------------------------------------------------------------- rare words


def test_a_rare_word_close_to_a_frequent_one_gets_one_note(runner, bundled):
    assert bundled.index("wom") > 100_000  # the premise: a real, rare word
    result = run(runner, "analogy", "king - man + wom + wom", "--format", "json")
    assert result.exit_code == 0
    json.loads(result.stdout)  # stdout is the answer alone
    notes = [line for line in result.stderr.splitlines() if "'wom'" in line]
    assert len(notes) == 1, result.stderr
    assert notes[0].startswith("embedcli: note: 'wom' is a rare word in glove-6b-50d (#")
    close = re.search(r"did you mean (.*)\?", notes[0]).group(1).split(", ")
    assert close and all(bundled.index(w) < 100_000 for w in close)


def test_a_frequent_word_gets_no_note(runner):
    result = run(runner, "analogy", "king - man + woman", "--format", "json")
    assert result.stderr == ""


def test_the_note_on_every_entry_point(runner):
    for args, given in ((["batch"], "neighbors wom\nneighbors wom\n"),
                        (["shell"], "wom\n"), (["neighbors", "wom"], None)):
        result = run(runner, *args, "--format", "jsonl" if args != ["neighbors", "wom"]
                     else "json", input=given)
        assert result.stderr.count("'wom' is a rare word") == 1, (args, result.stderr)
        assert "rare word" not in result.stdout


def test_a_batch_of_rare_words_gets_a_bounded_number_of_notes(runner, bundled):
    from embedcli.engine.words import RARE, RARE_NOTES, one_edit

    frequent = set(bundled.words(RARE))
    typos = [w for w in bundled.words()[RARE:RARE + 20_000]
             if w.isalpha() and one_edit(w) & frequent][:3 * RARE_NOTES]
    assert len(typos) == 3 * RARE_NOTES  # the premise: many rare words that look like typos
    result = run(runner, "batch", "--format", "jsonl",
                 input="".join(f"neighbors {w}\n" for w in typos))
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == len(typos)
    notes = result.stderr.splitlines()
    assert len([n for n in notes if "is a rare word" in n]) == RARE_NOTES
    assert notes[-1] == (f"embedcli: note: more rare words that look like typos; no more "
                         f"notes of them in this run (after {RARE_NOTES})")
    assert len(notes) == RARE_NOTES + 1


@pytest.mark.parametrize("args, given", [
    (["batch", "--format", "table"], "neighbors cat -n 3\nsimilarity cat dog car bus train\n"
                                     "doesnt-match breakfast cereal dinner lunch\n"),
    (["shell", "--format", "table"], "cat\ncat ~ dog ~ car ~ bus ~ train ~ plane\n"),
])
def test_the_tables_of_batch_and_shell_fit_too(runner, args, given):
    app = __import__("embedcli.cli.app", fromlist=["app"]).app
    for width in WIDTHS:
        result = runner.invoke(app, args, input=given, env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.stderr
        for line in result.stdout.splitlines():
            assert cell_len(line) <= width, (width, line)
            assert not re.search(r"(^|\s)-?[\d.,]+…|…[\d.,]+(\s|$)", line), (width, line)
        assert "0.92" in result.stdout  # cat ~ dog, whole at any width
