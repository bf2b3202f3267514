"""One path for every query: the same query, good or bad, gets the same answer, message and
status whether it comes as a command, a batch line, a shell line (or a quiz answer)."""

from __future__ import annotations

import json
import shlex

import pytest

from tests.conftest import run

# (the line as a command or a batch line, the shell's way of writing it or None)
CASES = [
    ("neighbors cat -n 3", "cat"),
    ("neighbors paris - france + italy -n 3", None),
    ("analogy king - man + woman -n 3", "king - man + woman"),
    ("analogy man : king :: woman : ? -n 3", "man : king :: woman : ?"),
    ("analogy king man woman -n 3", "king man woman"),
    ("similarity cat dog", "cat ~ dog"),
    ("similarity cat dog car", "cat ~ dog ~ car"),
    ("similarity king - man + woman ~ queen", "king - man + woman ~ queen"),
    ("analogy king - man + woman -n 9223372036854775807 --restrict 5", None),
    ("rank cat dog", None),
    ("doesnt-match breakfast cereal dinner lunch", None),
    # bad queries
    ("neighbors kign", "kign"),
    ("analogy king + + man", "king + + man"),
    ("analogy king - king", "king - king"),
    ("analogy cat ~ dog", None),
    ("neighbors man : king :: woman : ?", None),
    ("similarity cat ~", "cat ~"),
    ("similarity cat", None),
    ("neighbors cat -n 0", None),
    ("analogy 2*king - man --method mul", None),
    ("rank cat", None),
    ("vector cat dog", None),
    ("vector qwxzy", None),
    ('rank "king - man + woman" queen', None),
]


def _command(runner, text):
    result = run(runner, *shlex.split(text), "--format", "json")
    if result.exit_code == 0:
        return json.loads(result.stdout), 0
    return result.stderr.splitlines()[0].removeprefix("embedcli: error: "), result.exit_code


def _lines(runner, command, lines, *args):
    text = "".join(f"{line}\n" for line in lines)
    result = run(runner, command, "--format", "jsonl", *args, input=text)
    out = []
    for line in result.stdout.splitlines():
        obj = json.loads(line)
        obj.pop("line")
        out.append((obj["error"], obj["status"]) if "error" in obj else (obj, 0))
    return out


def test_a_command_a_batch_line_and_a_shell_line_answer_alike(runner):
    by_command = [_command(runner, text) for text, _ in CASES]
    by_batch = _lines(runner, "batch", [text for text, _ in CASES])
    assert by_batch == by_command
    shell = [(k, line) for k, (_, line) in enumerate(CASES) if line is not None]
    by_shell = _lines(runner, "shell", [":top 3", *(line for _, line in shell)])
    expected = []
    for k, _ in shell:
        answer, status = by_command[k]
        if status == 0 and CASES[k][0].startswith("similarity"):
            expected.append((answer, 0))
        else:
            expected.append((answer, status))
    assert by_shell == expected
    # the bad queries all failed, with the documented statuses
    assert [s for _, s in by_command[11:]] == [1, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2]


def test_a_quiz_answer_is_read_as_a_command_reads_a_word(runner, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(": capitals\nfrance paris italy rome\n", "utf-8")
    message, status = _command(runner, "vector kign")
    quiz = run(runner, "quiz", str(questions), input="kign\nrome\n")
    assert status == 1 and quiz.exit_code == 0
    assert f"embedcli: error: {message}" in quiz.stderr.splitlines()


@pytest.mark.parametrize("entry", ["command", "batch", "shell"])
def test_a_huge_top_is_every_word_everywhere_not_an_internal_error(runner, entry, tmp_path):
    words = ["a", "b", "c"]
    from tests.conftest import write_small_model

    path = write_small_model(tmp_path / "m.txt", words, [[1, 0], [0.9, 0.1], [0, 1]])
    top = str(2**63 - 1)
    if entry == "command":
        data, status = _command(runner, f"neighbors a -n {top} -m {path}")
        assert status == 0
    elif entry == "batch":
        ((data, status),) = _lines(runner, "batch", [f"neighbors a -n {top}"], "-m", str(path))
    else:
        ((data, status),) = _lines(runner, "shell", [f":top {top}", "a"], "-m", str(path))
    assert status == 0 and [r["word"] for r in data["results"]] == ["b", "c"]


def test_a_ctrl_c_that_was_handled_does_not_turn_later_errors_into_130(runner):
    """A Ctrl-C the shell or the quiz caught is history: the next run's error is itself."""
    from embedcli.cli import io

    io.INTERRUPTS.append(2)  # what the app's SIGINT handler records
    result = run(runner, "neighbors", "qwxzy")
    assert result.exit_code == 1
    assert result.stderr.startswith("embedcli: error: 'qwxzy' is not in the vocabulary")
    assert not io.interrupted()


@pytest.mark.parametrize("content", [
    "athens greece baghdad iraq\n",
    ": capitals\nathens greece baghdad iraq\n",
    ": capitals\nathens greece baghdad\nathens greece baghdad iraq\n",
])
def test_quiz_and_evaluate_read_a_questions_file_alike(runner, tmp_path, content):
    """One reader of the Google format: what evaluate accepts, quiz asks, with the same note."""
    path = tmp_path / "q.txt"
    path.write_text(content, "utf-8")
    evaluated = run(runner, "evaluate", "analogies", str(path), "-f", "json")
    quiz = run(runner, "quiz", str(path), input="iraq\n")
    assert evaluated.exit_code == 0 and quiz.exit_code == 0, (evaluated.stderr, quiz.stderr)
    assert json.loads(evaluated.stdout)["total"]["evaluated"] == 1
    assert "quiz: 1 question" in quiz.stdout
    notes = [line for line in evaluated.stderr.splitlines() if "skipped" in line]
    assert notes == [line for line in quiz.stderr.splitlines() if "skipped" in line]
