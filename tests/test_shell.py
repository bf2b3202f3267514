"""embedcli shell: the line language, driven by a program through pipes, and interactive
through a real pseudo-terminal (pexpect): prompt, answers, suggestions, Ctrl-C, Ctrl-D,
Tab completion and history kept across sessions."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from embedcli.cli.prompt import Completer
from embedcli.errors import ExitStatus, UsageError
from embedcli.lines import SHELL_COMMANDS as COMMANDS
from embedcli.lines import Setting, read_shell_line
from embedcli.queries import Spec, sides
from tests.conftest import run

VOCAB = {"cat", "dog", "car", "e-mail", "x~y", "king", "man", "woman"}


def is_word(w: str) -> bool:
    return w in VOCAB


def interpret(line: str, is_word):
    return read_shell_line(line, Spec(""), is_word)


# --------------------------------------------------------------------------- lines


@pytest.mark.parametrize("line,command,words", [
    ("cat", "neighbors", ()),
    ("  king - man + woman ", "analogy", ()),
    ("man : king :: woman : ?", "analogy", ()),
    ("cat ~ dog", "similarity", ("cat", "dog")),
    ("cat~dog", "similarity", ("cat", "dog")),
    ("cat ~ dog ~ car", "similarity", ("cat", "dog", "car")),
    ("x~y ~ cat", "similarity", ("x~y", "cat")),  # a vocabulary word holding '~' stays whole
    ("e-mail ~ cat", "similarity", ("e-mail", "cat")),
    ("king - man ~ woman", "similarity", ("king - man", "woman")),
])
def test_query_lines(line, command, words):
    """A query line is the spec of the command it stands for."""
    spec = interpret(line, is_word)
    assert spec.command == command
    if words:
        found = sides(spec, SimpleNamespace(is_word=is_word))
        assert tuple(str(q) for q in found) == words


@pytest.mark.parametrize("line,expected", [
    (":top 5", ("top", "5")),
    (":n 3", ("top", "3")),
    (":method mul", ("method", "mul")),
    (":restrict off", ("restrict", "off")),
    (":model glove-6b-50d", ("model", "glove-6b-50d")),
    (":help", ("help", "")),
    (":quit", ("quit", "")),
    (":q", ("quit", "")),
    (":settings", ("settings", "")),
])
def test_command_lines(line, expected):
    assert interpret(line, is_word) == Setting(*expected)


def test_explain_lines_are_explain_specs():
    spec = interpret(":explain king - man + woman", is_word)
    assert (spec.command, spec.args) == ("explain", ("king - man + woman",))


def test_blank_lines_and_comments_ask_nothing():
    assert interpret("", is_word) is None
    assert interpret("   ", is_word) is None
    assert interpret("# a note", is_word) is None


@pytest.mark.parametrize("line,message", [
    (":frobnicate", "unknown command ':frobnicate'"),
    (":top", ":top needs a value"),
    (":explain", ":explain needs an analogy"),
    ("cat ~", "on each side of '~'"),
    ("~ cat", "on each side of '~'"),
    ("cat dog ~ car", "expected '\\+' or '-' between words"),
])
def test_malformed_lines(line, message):
    with pytest.raises(UsageError, match=message):
        spec = interpret(line, is_word)
        sides(spec, SimpleNamespace(is_word=is_word))


def test_completion_offers_words_by_prefix_most_frequent_first(bundled):
    class Session:
        model = bundled

    complete = Completer(Session())
    words = complete.candidates("king - qu", 7, "qu")
    assert words == [w for w in bundled.words() if w.startswith("qu")][:200]
    assert complete.candidates("ouagadou", 0, "ouagadou") == ["ouagadougou"]
    assert complete.candidates("Ouagadou", 0, "Ouagadou") == ["ouagadougou"]  # lower-case
    assert complete.candidates("king - ", 7, "") == []  # nothing typed: nothing offered
    assert complete.candidates(":to", 0, ":to") == [":top"]
    assert complete.candidates(":", 0, ":") == list(COMMANDS)
    assert complete.candidates(":method m", 8, "m") == ["mul"]
    assert "glove-6b-50d" in complete.candidates(":model gl", 7, "gl")


# --------------------------------------------------------------------------- driven


def test_driven_by_a_pipe_one_json_line_per_query(runner):
    script = "\n".join([
        "cat", "", "# a comment", ":top 2", "king - man + woman", "cat ~ dog",
        "cat ~ dog ~ car", ":method mul", "man : king :: woman : ?", ":settings",
        ":explain king - man + woman",
    ]) + "\n"
    result = run(runner, "shell", input=script)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["line"] for x in lines] == [1, 5, 6, 7, 9, 10, 11]
    neighbours, analogy, pair, matrix, mul, settings, explained = lines
    assert neighbours["method"] == "cosine" and len(neighbours["results"]) == 10
    assert neighbours["results"][0]["word"] == "dog"
    assert analogy["query"] == "king - man + woman" and len(analogy["results"]) == 2
    assert analogy["results"][0]["word"] == "queen"
    assert (pair["a"], pair["b"]) == ("cat", "dog") and pair["similarity"] > 0.9
    assert matrix["words"] == ["cat", "dog", "car"]
    assert mul["method"] == "mul" and mul["results"][0]["word"] == "queen"
    assert settings["settings"] == [{"model": "glove-6b-50d", "top": 2, "method": "mul",
                                     "restrict": None}]
    assert explained["answer"] == "queen" and explained["base"]["answer"]["rank"] == 2
    assert "embedcli>" not in result.stdout  # no prompt, no banner


def test_driven_errors_are_lines_too_and_never_end_the_session(runner):
    result = run(runner, "shell", input="kign\nking + + man\n:top x\ncat\n:quit\ndog\n")
    assert result.exit_code == ExitStatus.NO_ANSWER  # some lines failed, as in `batch`
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["line"] for x in lines] == [1, 2, 3, 4]  # nothing after :quit
    assert lines[0] == {"line": 1, "input": "kign", "error": lines[0]["error"], "status": 1}
    assert "did you mean: king" in lines[0]["error"]
    assert "expected a word after '+'" in lines[1]["error"]
    assert lines[3]["results"][0]["word"] == "dog"
    err = result.stderr.splitlines()
    assert err[0].startswith("embedcli: error: 'kign' is not in the vocabulary")
    assert err[1:4] == ["embedcli: error: expected a word after '+', found '+' (at column 8)",
                        "  king + + man", "         ^"]
    assert err[-1] == "embedcli: error: 3 of 4 lines failed (their output lines carry the error)"


def test_driven_table_format_and_wrong_formats(runner):
    table = run(runner, "shell", "--format", "table", input="cat ~ dog\n")
    assert table.exit_code == 0 and "cat ~ dog" in table.stdout and "0.9218" in table.stdout
    wrong = run(runner, "shell", "--format", "csv", input="cat\n")
    assert wrong.exit_code == ExitStatus.USAGE and "table or jsonl" in wrong.stderr


def _env(session_cache: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EMBEDCLI_MODEL", "FORCE_COLOR")}
    env |= {"EMBEDCLI_CACHE_DIR": str(session_cache), "EMBEDCLI_DATA_DIR": str(tmp_path / "data"),
            "NO_COLOR": "1", "TERM": "xterm", "COLUMNS": "200", "LINES": "50"}
    return env


def test_a_program_gets_each_answer_before_it_sends_the_next_line(bundled, session_cache,
                                                                   tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "embedcli", "shell"],
                            env=_env(session_cache, tmp_path), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def ask(line: str) -> dict:
        proc.stdin.write(line.encode() + b"\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, f"no answer to {line!r} while the pipe stayed open"
        return json.loads(proc.stdout.readline())

    try:
        assert ask("cat")["results"][0]["word"] == "dog"
        assert ask("king - man + woman")["results"][0]["word"] == "queen"
        assert "did you mean" in ask("kign")["error"]
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=60) == ExitStatus.NO_ANSWER
    assert proc.stdout.read() == b""
    assert not (tmp_path / "data").exists()  # no history without a terminal


# --------------------------------------------------------------------------- a terminal


pexpect = pytest.importorskip("pexpect")


def _spawn(session_cache: Path, tmp_path: Path, *args: str):
    child = pexpect.spawn(sys.executable, ["-m", "embedcli", "shell", "-n", "3", *args],
                          env=_env(session_cache, tmp_path), dimensions=(50, 200),
                          encoding="utf-8", timeout=60)
    child.expect_exact("embedcli shell: model glove-6b-50d")
    child.expect_exact("embedcli> ")
    return child


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _answer(child, line: str | None = None) -> str:
    """Send a line (if any) and return what came before the next prompt, as plain text."""
    if line is not None:
        child.sendline(line)
    child.expect_exact("embedcli> ")
    return ANSI.sub("", child.before)


def test_the_interactive_shell_on_a_terminal(bundled, session_cache, tmp_path):
    child = _spawn(session_cache, tmp_path)
    try:
        # an analogy: a table
        out = _answer(child, "king - man + woman")
        assert re.search(r"king - man \+ woman\s+\(glove-6b-50d, add\)", out)
        assert re.search(r"1\s+queen\s+0\.8524", out) and "left out" in out
        # an unknown word: the commands' suggestions, and the session goes on
        out = _answer(child, "kign")
        assert ("embedcli: error: 'kign' is not in the vocabulary of glove-6b-50d (400,000 "
                "words); did you mean: king, sign") in out
        # a malformed query: the caret under the problem
        out = _answer(child, "king + + man")
        assert "(at column 8)\r\n  king + + man\r\n         ^" in out
        # Tab completes a word (the only one with this prefix)
        child.send("ouagadou\t")
        child.expect_exact("gou")
        out = _answer(child, "")
        assert re.search(r"ouagadougou\s+\(glove-6b-50d, cosine\)", out)
        # Tab twice lists the words of an ambiguous prefix
        child.send("queensland\t\t")
        child.expect_exact("queenslanders")
        child.expect_exact("embedcli> queensland")  # the line, drawn again under the list
        # Ctrl-C drops the line being typed: a fresh prompt, nothing answered
        child.sendintr()
        out = _answer(child)
        assert "error" not in out and "cosine)" not in out
        out = _answer(child, "cat ~ dog")
        assert re.search(r"cat ~ dog\s+0\.9218", out)
        assert "queensland" not in out  # the cancelled text is gone
        # settings
        assert "top 1" in _answer(child, ":top 1")
        out = _answer(child, "paris - france + italy")
        assert re.search(r"1\s+rome\s+0\.8466", out) and "milan" not in out
        # Ctrl-D leaves, with status 0
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "data" / "shell_history").read_text().splitlines()
    assert history == ["king - man + woman", "kign", "king + + man", "ouagadougou",
                       "cat ~ dog", ":top 1", "paris - france + italy"]


def test_history_is_kept_across_sessions(bundled, session_cache, tmp_path):
    first = _spawn(session_cache, tmp_path)
    assert re.search(r"1\s+rome", _answer(first, "paris - france + italy"))
    first.sendline(":quit")
    first.expect(pexpect.EOF)
    first.close()
    assert first.exitstatus == 0
    second = _spawn(session_cache, tmp_path)
    try:
        second.send("\x1b[A")  # Up: a line of the session before (":quit", then the query)
        second.expect_exact(":quit")
        second.send("\x1b[A")
        second.expect_exact("paris - france + italy")
        assert re.search(r"1\s+rome", _answer(second, ""))
        second.sendeof()
        second.expect(pexpect.EOF)
    finally:
        second.close()
    assert second.exitstatus == 0
    lines = (tmp_path / "data" / "shell_history").read_text().splitlines()
    assert lines == ["paris - france + italy", ":quit", "paris - france + italy"]


def test_model_switches_and_a_bad_model_keeps_the_current_one(runner, tmp_path):
    from tests.conftest import write_small_model

    small = write_small_model(tmp_path / "small.txt", ["north", "south", "east", "west"],
                              [[1.0, 0.0], [-1.0, 0.1], [0.0, 1.0], [0.1, -1.0]])
    script = f":model {small}\nnorth\n:model {tmp_path / 'nope.txt'}\nnorth ~ east\n"
    result = run(runner, "shell", "-n", "1", input=script)
    assert result.exit_code == ExitStatus.NO_ANSWER  # the bad :model line
    neighbours, error, pair = (json.loads(line) for line in result.stdout.splitlines())
    assert neighbours["model"].endswith("small.txt")
    assert [r["word"] for r in neighbours["results"]] == ["west"]  # cosine 0.0995
    assert error["line"] == 3 and "nope.txt" in error["error"]
    assert (pair["a"], pair["b"]) == ("north", "east")  # still the small model
    assert pair["similarity"] == pytest.approx(0.0, abs=1e-6)


def test_the_quiz_on_a_terminal_ends_with_ctrl_d(bundled, session_cache, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(": capitals\nfrance paris italy rome\nfrance paris japan tokyo\n")
    child = pexpect.spawn(sys.executable, ["-m", "embedcli", "quiz", str(questions),
                                           "--seed", "1"],
                          env=_env(session_cache, tmp_path), dimensions=(50, 200),
                          encoding="utf-8", timeout=60)
    def until_asked() -> str:
        child.expect_exact("your answer> ")
        return ANSI.sub("", child.before)

    try:
        first = re.search(r"1/2  france : paris :: (italy|japan) : \?", until_asked())
        answer = {"italy": "rome", "japan": "tokyo"}[first.group(1)]
        child.sendline(answer)
        out = until_asked()
        assert f"right: {answer}." in out and "score 1/1   model 1/1" in out
        assert "2/2  france : paris ::" in out
        child.sendeof()
        child.expect(pexpect.EOF)
        assert "final score: 1/1  (the model: 1/1)" in ANSI.sub("", child.before)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_the_readme_shell_session_is_what_a_terminal_shows(bundled, session_cache, tmp_path):
    """The README's shell session (the one console block tests/test_docs.py cannot run
    through bash: a person types at the prompt) typed at a real terminal of the README's
    width: each answer, line by line, as the README shows it."""
    from tests.test_docs import CONSOLE_COLUMNS, console_blocks

    sessions = [b for _, why, b in console_blocks() if why and "test_shell.py" in why]
    assert len(sessions) == 1
    block = sessions[0]
    assert block[0].startswith("$ embedcli shell ")
    args = block[0].split()[3:]  # after "$ embedcli shell"
    child = pexpect.spawn(sys.executable, ["-m", "embedcli", "shell", *args],
                          env=_env(session_cache, tmp_path) | {"COLUMNS": str(CONSOLE_COLUMNS)},
                          dimensions=(50, CONSOLE_COLUMNS), encoding="utf-8", timeout=60)
    try:
        first = next(k for k, line in enumerate(block) if line.startswith("embedcli> "))
        banner, rest = block[1:first], block[first:]
        child.expect_exact("embedcli> ")
        shown = ANSI.sub("", child.before).replace("\r", "").strip().split("\n")
        assert [line.rstrip() for line in shown] == banner
        typed: list[tuple[str, list[str]]] = []
        for line in rest:
            if line.startswith("embedcli> "):
                typed.append((line.removeprefix("embedcli> "), []))
            else:
                typed[-1][1].append(line)
        for line, shown in typed:
            out = _answer(child, line).replace("\r", "").split("\n")
            assert out[0].rstrip() == line  # the line as typed, echoed by the terminal
            got = [x.rstrip() for x in out[1:]]
            while got and not got[-1]:
                got.pop()
            assert got == [x.rstrip() for x in shown], (line, got)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
