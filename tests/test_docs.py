"""The README, the --help texts and .ci/run agree with each other and with the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

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
