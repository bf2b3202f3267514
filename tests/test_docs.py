"""The README, the --help texts and .ci/run agree with each other and with the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from embedcli.errors import ExitStatus
from embedcli.formats import Format

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def _block_after(marker: str) -> list[str]:
    after = README.split(f"<!-- {marker} -->", 1)[1]
    block = after.split("```", 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip()]


def test_the_readme_gives_one_install_and_run_command_and_one_test_command():
    (run_command,) = _block_after("run-command")
    (test_command,) = _block_after("test-command")
    assert "pip install ." in run_command
    assert run_command.endswith('embedcli analogy "king - man + woman"')
    assert "pip install '.[test]'" in test_command and "pytest" in test_command


def test_ci_runs_the_readmes_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in script
    # the extraction in .ci/run finds exactly the README's line
    awk = re.search(r"awk '([^']+)'", script).group(1)
    found = subprocess.run(["awk", awk, str(ROOT / "README.md")], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert found == _block_after("test-command")[0]


def test_the_readme_lists_every_exit_status():
    section = README.split("## Exit statuses and errors", 1)[1].split("\n## ", 1)[0]
    listed = {int(n) for n in re.findall(r"^\| (\d+) \|", section, flags=re.M)}
    assert listed == {int(s) for s in ExitStatus}


def test_the_readme_documents_every_format():
    section = README.split("## Output formats", 1)[1].split("\n## ", 1)[0]
    for fmt in Format:
        assert f"`{fmt.value}`" in section


# --------------------------------------------------------------------------- examples

# The sections whose console blocks are compared here, line by line, with what the tool
# prints (a table, as on an 80-column terminal).
CHECKED_SECTIONS = ("### `embedcli axis", "### `embedcli dims", "## Teaching with embedcli")


def _section(heading: str) -> str:
    after = README.split(heading, 1)[1]
    level = heading.split(" ", 1)[0]
    ends = [i for i in (after.find(f"\n{level} "), after.find("\n## ")) if i >= 0]
    return after[: min(ends)] if ends else after


def _console_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(command, the output lines shown) of each ```console block."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        lines = block.rstrip("\n").splitlines()
        assert lines[0].startswith("$ embedcli "), lines[0]
        found.append((lines[0][2:], lines[1:]))
    return found


EXAMPLES = [example for heading in CHECKED_SECTIONS
            for example in _console_blocks(_section(heading))]


def test_the_checked_sections_have_examples():
    assert len(EXAMPLES) >= 5
    assert "![" in _section("## Teaching with embedcli")


@pytest.mark.parametrize("command,shown", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_a_readme_example_shows_what_the_tool_prints(runner, monkeypatch, command, shown):
    import shlex

    from tests.conftest import run

    monkeypatch.setenv("COLUMNS", "80")
    args = shlex.split(command)[1:]
    if not {"-f", "--format"} & set(args):
        args += ["--format", "table"]  # what a terminal shows
    result = run(runner, *args)
    assert result.exit_code == 0, result.stderr
    printed = [line.rstrip() for line in result.stdout.rstrip("\n").splitlines()]
    while printed and not printed[-1]:
        printed.pop()
    assert printed == [line.rstrip() for line in shown]


# (the command, the file it writes, the picture shown right after it)
PICTURES = re.findall(r"```sh\n(embedcli plot [^\n]*--out (docs/\S+\.png))\n```\n\n"
                      r"!\[[^\]]*\]\((\S+)\)", README)


def test_every_picture_of_the_readme_follows_the_command_that_made_it():
    shown = set(re.findall(r"!\[[^\]]*\]\((docs/\S+\.png)\)", README))
    assert shown == {out for _, out, _ in PICTURES}
    assert all(out == link for _, out, link in PICTURES)
    for _, out, _ in PICTURES:
        assert (ROOT / out).stat().st_size < 120_000, out  # pictures stay small


@pytest.mark.slow
@pytest.mark.parametrize("command,out", [(c, o) for c, o, _ in PICTURES],
                         ids=[o for _, o, _ in PICTURES])
def test_a_readme_picture_is_what_its_command_draws(runner, tmp_path, monkeypatch, command,
                                                    out):
    """The committed picture, byte for byte (plot writes the same bytes for the same
    words, with this matplotlib)."""
    import shlex

    from tests.conftest import run

    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    args = [a if a != out else str(tmp_path / "p.png") for a in shlex.split(command)[1:]]
    result = run(runner, *args)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "p.png").read_bytes() == (ROOT / out).read_bytes()
