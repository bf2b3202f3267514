"""Shell completion, through real processes with the variables the shells' scripts set:
vocabulary words for a query (read from the cache, without numpy), model names for
--model, and the scripts of --show-completion and --install-completion."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def complete(words: str, cword: int, style: str = "bash_complete") -> list[str]:
    out = subprocess.run([sys.executable, "-m", "embedcli"], capture_output=True, text=True,
                         env=_env(_EMBEDCLI_COMPLETE=style, COMP_WORDS=words,
                                  COMP_CWORD=str(cword)), check=True)
    return out.stdout.splitlines()


@pytest.mark.parametrize("style", ["bash_complete", "complete_bash"])  # click's, typer's
def test_a_query_word_completes_from_the_vocabulary_in_frequency_order(bundled, style):
    got = complete("embedcli analogy king - man + wom", 6, style)
    expected = [w for w in bundled.words() if w.startswith("wom")][:len(got)]
    assert got == expected and "woman" in got and len(got) >= 5


@pytest.mark.parametrize("words, cword", [
    ("embedcli neighbors ca", 2), ("embedcli similarity cat do", 3),
    ("embedcli interpolate winter su", 3), ("embedcli doesnt-match a b c", 4),
])
def test_every_word_argument_completes(bundled, words, cword):
    prefix = words.split()[cword]
    got = complete(words, cword)
    assert got and all(w.startswith(prefix) for w in got)
    assert got[0] == next(w for w in bundled.words() if w.startswith(prefix))


def test_model_names_complete_for_model(bundled):
    assert complete("embedcli analogy king -m gl", 4) == ["glove-6b-50d",
                                                          "glove-wiki-gigaword-50"]
    assert complete("embedcli models info glove-w", 3) == ["glove-wiki-gigaword-50"]
    assert not any(complete("embedcli analogy king -m ./", 4))  # a path: the shell's own


def test_commands_complete():
    assert complete("embedcli neig", 1) == ["neighbors"]


def test_completing_a_word_imports_neither_numpy_nor_rich(bundled):
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "embedcli"],
                         capture_output=True, text=True, check=True,
                         env=_env(_EMBEDCLI_COMPLETE="complete_bash",
                                  COMP_WORDS="embedcli neighbors wom", COMP_CWORD="2"))
    assert "woman" in out.stdout.split()
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert not {"numpy", "rich", "embedcli.models", "embedcli.cli.classroom"} & imported


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o default -F"),
                                           ("zsh", "compdef"), ("fish", "complete --command")])
def test_show_completion_for_each_shell(shell, marker):
    out = subprocess.run([sys.executable, "-m", "embedcli", "--show-completion", shell],
                         capture_output=True, text=True, check=True,
                         env=_env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")).stdout
    assert marker in out and f"_EMBEDCLI_COMPLETE=complete_{shell}" in out


def test_the_bash_script_completes_in_a_real_bash(bundled, tmp_path):
    script = subprocess.run([sys.executable, "-m", "embedcli", "--show-completion", "bash"],
                            capture_output=True, text=True, check=True,
                            env=_env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")).stdout
    (tmp_path / "embedcli.sh").write_text(script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "embedcli").write_text(f"#!/bin/sh\nexec {sys.executable} -m embedcli \"$@\"\n")
    (bin_dir / "embedcli").chmod(0o755)
    probe = ("source embedcli.sh; COMP_WORDS=(embedcli neighbors kin); COMP_CWORD=2; "
             "_embedcli_completion embedcli; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         check=True, env=_env(PATH=f"{bin_dir}:{os.environ['PATH']}")).stdout
    assert out.splitlines()[:3] == [w for w in bundled.words() if w.startswith("kin")][:3]


def test_install_completion_writes_the_script_for_bash(tmp_path):
    subprocess.run([sys.executable, "-m", "embedcli", "--install-completion", "bash"],
                   capture_output=True, text=True, check=True,
                   env=_env(HOME=str(tmp_path), _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"))
    assert "embedcli" in (tmp_path / ".bashrc").read_text()
    installed = list((tmp_path / ".bash_completions").glob("embedcli*"))
    assert installed and "_EMBEDCLI_COMPLETE=complete_bash" in installed[0].read_text()


def test_a_registered_model_completes_its_name_and_its_own_words(runner, fresh_cache, tmp_path):
    from tests.conftest import run, write_small_model

    path = write_small_model(tmp_path / "tiny.txt", ["alpha", "alpine", "beta"],
                             [[1, 0], [0, 1], [1, 1]])
    assert run(runner, "models", "add", "tiny", str(path)).exit_code == 0
    assert complete("embedcli neighbors -m ti", 3) == ["tiny"]
    assert complete("embedcli neighbors -m tiny al", 4) == ["alpha", "alpine"]
    assert run(runner, "models", "default", "tiny").exit_code == 0
    assert complete("embedcli neighbors be", 2) == ["beta"]  # the default model's words
