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


# --------------------------------------------------------------------------- console blocks

# Every ```console block of the README is run, in a fresh directory, and its output
# compared with the block: each "$ " line is a command for bash (pipes and files work; a
# block may create the files it needs), run with stdout and stderr on one pseudo-terminal
# as a reader sees them, 88 columns wide, without colour, on the bundled model. Lines are
# compared without trailing spaces (rich pads table rows). A block that cannot be run so
# is preceded by "<!-- console-not-run: REASON -->", and there are few of those.

CONSOLE_COLUMNS = 88
NOT_RUN = re.compile(r"<!-- console-not-run: (.+?) -->\s*$")


def console_blocks(text: str = README) -> list[tuple[int, str | None, list[str]]]:
    """(line number, the reason it is not run or None, the block's lines) of each block."""
    lines = text.splitlines()
    blocks = []
    k = 0
    while k < len(lines):
        opening = re.match(r"^(\s*)```console\s*$", lines[k])
        if not opening:
            k += 1
            continue
        indent = len(opening.group(1))
        before = next((lines[j] for j in range(k - 1, -1, -1) if lines[j].strip()), "")
        reason = NOT_RUN.search(before)
        end = next(j for j in range(k + 1, len(lines)) if lines[j].strip() == "```")
        body = [line[indent:] if line[:indent].strip() == "" else line
                for line in lines[k + 1:end]]
        blocks.append((k + 1, reason.group(1) if reason else None, body))
        k = end + 1
    return blocks


def commands_of(block: list[str]) -> list[tuple[str, list[str]]]:
    """The block's commands, each with the output the README shows for it."""
    out: list[tuple[str, list[str]]] = []
    for line in block:
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            assert out, f"a console block starts with output, not a command: {line!r}"
            out[-1][1].append(line)
    return out


def on_a_terminal(command: str, cwd: Path, env: dict[str, str]) -> str:
    """What a terminal shows for ``bash -c COMMAND`` (stdout and stderr both on it)."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    from tests.conftest import read_terminal

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, CONSOLE_COLUMNS, 0, 0))
    proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    seen = read_terminal(master, proc, 300)
    proc.wait()
    return seen.decode("utf-8").replace("\r\n", "\n")


def test_the_readme_has_console_blocks_and_few_are_not_run():
    blocks = console_blocks()
    assert len(blocks) >= 10
    not_run = [(n, why) for n, why, _ in blocks if why]
    assert len(not_run) <= 2, not_run
    # and the finder finds what a reader sees: every "```console" line opens a block
    assert len(blocks) == len(re.findall(r"^\s*```console\s*$", README, flags=re.M))


def test_the_block_finder_reads_indented_blocks_and_markers():
    text = ("x\n\n<!-- console-not-run: needs a person -->\n```console\n$ a\nb\n```\n"
            "- item:\n\n  ```console\n  $ c\n  d\n  ```\n")
    assert console_blocks(text) == [(4, "needs a person", ["$ a", "b"]), (10, None, ["$ c", "d"])]
    assert commands_of(["$ a", "b", "$ c"]) == [("a", ["b"]), ("c", [])]


@pytest.mark.parametrize("number, block", [(n, b) for n, why, b in console_blocks() if not why],
                         ids=lambda x: f"line {x}" if isinstance(x, int) else "")
def test_every_console_block_shows_what_the_tool_prints(number, block, tmp_path, bundled):
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS", "LINES")}
    env |= {"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": str(CONSOLE_COLUMNS),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    for command, expected in commands_of(block):
        shown = on_a_terminal(command, tmp_path, env)
        got = [line.rstrip() for line in shown.splitlines()]
        while got and not got[-1]:  # (a block cannot show the blank lines it ends with)
            got.pop()
        assert got == [line.rstrip() for line in expected], \
            f"README line {number}: $ {command}\n" + "\n".join(got)


def test_the_teaching_section_shows_pictures():
    assert "![" in README.split("## Teaching with embedcli", 1)[1].split("\n## ", 1)[0]


# (the command, the file it writes, the picture shown right after it)
PICTURES = re.findall(r"```sh\n(embedcli plot [^\n]*--out (docs/\S+\.png))\n```\n\n"
                      r"!\[[^\]]*\]\((\S+)\)", README)


# a screenshot of a page explore wrote, which this script makes (in headless Chromium)
SCREENSHOTS = {"docs/explore-map.png": "scripts/explore_screenshot.py"}


def test_every_picture_of_the_readme_follows_the_command_that_made_it():
    shown = set(re.findall(r"!\[[^\]]*\]\((docs/\S+\.png)\)", README))
    for picture, script in SCREENSHOTS.items():
        assert f"python {script}" in README and (ROOT / script).is_file()
        assert (ROOT / picture).stat().st_size < 300_000, picture
    assert shown == {out for _, out, _ in PICTURES} | set(SCREENSHOTS)
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

    args = [a if a != out else str(tmp_path / "p.png") for a in shlex.split(command)[1:]]
    result = run(runner, *args)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "p.png").read_bytes() == (ROOT / out).read_bytes()
