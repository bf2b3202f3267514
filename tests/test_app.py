"""Tests derived from the app itself: every command, every format, every loading option.

The lists come from walking the Typer app (and the examples in each command's help), so a
new command is covered the moment it is registered; nothing here is kept by hand.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command

from embedcli.cli.app import AREAS, app
from embedcli.errors import ExitStatus
from embedcli.formats import Format
from tests.conftest import run

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
LOADING = {"limit", "trust", "unicode_errors", "dtype"}


def _leaves(group, path=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _leaves(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(_leaves(get_command(app)))
IDS = [" ".join(p) for p in COMMANDS]


def _params(command) -> set[str]:
    return {p.name for p in command.params}


def _examples(path: tuple[str, ...], command) -> list[list[str]]:
    """The argument lists of the command's own help examples (``embedcli PATH ARGS``)."""
    found = []
    for line in (command.help or "").splitlines():
        for match in re.finditer(rf"embedcli {re.escape(' '.join(path))}(?=\s|$)([^|(]*)", line):
            found.append(shlex.split(match.group(1)))
    return found


def _runnable_example(path, command) -> list[str]:
    """The first example that names no file the test does not have."""
    for args in _examples(path, command):
        if not any(re.search(r"\.(txt|tsv|png|svg|pdf|zip)", a) or "/" in a for a in args):
            return args
    pytest.skip(f"every example of {' '.join(path)} names a file")


def test_the_walk_finds_every_area_and_the_nested_commands():
    assert {"analogy", "batch", "shell", "quiz", "vocab"} <= {p[0] for p in COMMANDS}
    assert ("models", "add") in COMMANDS and ("evaluate", "analogies") in COMMANDS
    assert len(AREAS) == 6


def test_help_lists_the_commands_in_the_order_of_the_areas(runner):
    result = run(runner, "--help")
    listed = re.findall(r"^  (\S+) ", result.stdout.partition("Commands:")[2], flags=re.M)
    commands = [c for c in listed if c in {p[0] for p in COMMANDS}]
    assert commands[:3] == ["analogy", "neighbors", "similarity"]
    assert commands[-2:] == ["evaluate", "models"]


def test_the_list_of_commands_is_the_whole_apps(runner):
    """``embedcli --help`` builds its list without the commands' parameters: it must
    print exactly what the whole app prints."""
    from embedcli.cli.app import for_arguments

    for args in (["--help"], ["-h"], []):
        listed = runner.invoke(for_arguments(args), args)
        whole = runner.invoke(app, args)
        assert listed.exit_code == whole.exit_code == 0
        assert "analogy" in listed.stdout and listed.stdout == whole.stdout


def _example_lines(command) -> list[str]:
    return [line.strip() for line in (command.help or "").splitlines()
            if line.startswith(("embedcli ", "printf "))]


@pytest.mark.parametrize("path", [p for p, c in COMMANDS.items() if _example_lines(c)],
                         ids=lambda p: " ".join(p))
def test_the_help_keeps_the_lines_of_its_examples(runner, path):
    """Help is plain text, rewrapped by paragraph; a paragraph that shows commands keeps
    its lines, so every example reads as typed (at a width narrower than the lines)."""
    shown = _example_lines(COMMANDS[path])
    printed = {line.strip() for line in run(runner, *path, "--help").stdout.splitlines()}
    for line in shown:
        assert line in printed


@pytest.mark.parametrize("path", COMMANDS, ids=IDS)
def test_every_command_has_help_with_an_example(runner, path):
    result = run(runner, *path, "--help")
    assert result.exit_code == 0, result.stderr
    assert re.search(rf"embedcli {' '.join(path)}(\s|$)", result.stdout), result.stdout
    assert _examples(path, COMMANDS[path]), f"{' '.join(path)}'s help has no example"
    assert f"embedcli {path[0]}" in README


@pytest.mark.parametrize("path", [p for p, c in COMMANDS.items()
                                  if "model" in _params(c) or LOADING & _params(c)],
                         ids=lambda p: " ".join(p))
def test_every_command_that_reads_a_model_takes_the_four_loading_options(runner, path):
    command = COMMANDS[path]
    assert LOADING <= _params(command)
    # and checks them the same way: one message, before any work
    if path == ("models", "add"):  # its example names a file the test does not have
        args = ["x", "glove-6b-50d"]
    else:
        args = _runnable_example(path, command)
    result = run(runner, *path, *args, "--unicode-errors", "sideways", input="")
    assert result.exit_code == ExitStatus.USAGE, (result.stdout, result.stderr)
    assert result.stderr == ("embedcli: error: --unicode-errors takes strict or replace, not "
                             "'sideways'\n")


def test_no_subwords_is_on_exactly_the_commands_that_look_up_typed_words(runner, tmp_path,
                                                                        monkeypatch):
    # each command that reads a model runs its first example (with --no-subwords where it
    # is offered); --no-subwords changes how a typed word is looked up, so it must be
    # offered exactly where words are looked up, and be in force for every look-up
    from embedcli.engine import words

    looked_up: list[bool] = []  # each look-up's `subwords`
    real = words.Resolver.__call__

    def spying(self, word):
        looked_up.append(self.subwords)
        return real(self, word)

    monkeypatch.setattr(words.Resolver, "__call__", spying)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "queries.txt").write_text("neighbors cat\n", "utf-8")
    seen = {}
    for path, command in COMMANDS.items():
        if not LOADING & _params(command):
            continue
        offered = "no_subwords" in _params(command)
        args = ["x", "glove-6b-50d"] if path == ("models", "add") else \
            [*_examples(path, command)[0], *(["--restrict", "3000"]
                                              if path[0] == "evaluate" else [])]
        looked_up.clear()
        result = run(runner, *path, *args, *(["--no-subwords"] if offered else []),
                     input="cat\n")  # a line for shell, an answer for quiz
        assert result.exit_code in (0, 1), (path, result.stderr)  # models check: 1, unconverted
        seen[" ".join(path)] = (offered, list(looked_up))
    for name, (offered, calls) in seen.items():
        assert offered == bool(calls), (name, offered, len(calls))
        assert not any(calls), name  # with --no-subwords given, no look-up used subwords
    assert {offered for offered, _ in seen.values()} == {True, False}  # both kinds ran


FORMATTED = [p for p, c in COMMANDS.items() if "format" in _params(c)]


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("path", FORMATTED, ids=lambda p: " ".join(p))
def test_every_output_format_of_every_command(runner, path, fmt):
    command = COMMANDS[path]
    args = _runnable_example(path, command)
    if "--format" in args:  # the example's own format gives way to the one tested
        k = args.index("--format")
        del args[k:k + 2]
    if path == ("evaluate", "analogies"):
        args += ["--restrict", "3000"]  # the whole Google set in six formats is slow
    # a line for the commands that read stdin: a query (batch), a word (shell, quiz)
    line = "cat\n" if path in (("shell",), ("quiz",)) else "neighbors cat\n"
    result = run(runner, *path, *args, "--format", fmt.value, input=line)
    choices = getattr(next(p for p in command.params if p.name == "format").type, "choices",
                      [f.value for f in Format])
    allowed = {"batch": ("jsonl", "tsv", "table"), "shell": ("jsonl", "table"),
               "quiz": ("jsonl", "table")}.get(path[0])
    if allowed is not None and fmt.value not in allowed:
        assert result.exit_code == ExitStatus.USAGE, result.stdout
        assert result.stderr.count("\n") == 1 and result.stdout == ""
        return
    assert fmt.value in choices
    assert result.exit_code == ExitStatus.OK, result.stderr
    out = result.stdout
    assert out.strip(), f"{' '.join(path)} --format {fmt.value} wrote nothing"
    if fmt is Format.json:
        json.loads(out)
    elif fmt is Format.jsonl:
        assert all(json.loads(line) is not None for line in out.splitlines())
    elif fmt in (Format.tsv, Format.csv):
        sep = "\t" if fmt is Format.tsv else ","
        assert sep in out.splitlines()[0] or len(out.splitlines()) >= 1
