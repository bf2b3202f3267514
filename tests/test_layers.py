"""The rules of the code, checked by tools: the import layers (import-linter), module-level
imports of heavy libraries (ruff), types (mypy), and what each kind of run imports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ["embedcli.queries", "embedcli.engine", "embedcli.engine.ranking", "embedcli.models",
        "embedcli.readers", "embedcli.classroom", "embedcli.evaluate", "embedcli.render",
        "embedcli.lines", "embedcli.explore", "embedcli.page"]
HEAVY = ["numpy", "gensim", "scipy", "pyarrow", "matplotlib", "rich", "plotly"]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install '.[test]'")
    return found


@pytest.mark.parametrize("command", [
    ["lint-imports"],
    ["ruff", "check", "embedcli", "tests", "scripts"],
    ["mypy"],
], ids=["import-linter", "ruff", "mypy"])
def test_the_code_keeps_its_rules(command):
    result = subprocess.run([_tool(command[0]), *command[1:]], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


PROBE = """
import json, sys
sys.argv = ["embedcli", *sys.argv[1:]]
from embedcli.cli.app import main
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _imports(*args: str, env: dict[str, str] | None = None) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, timeout=120, env=env)
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["analogy", "--help"],
                                  ["analogy", "--top", "x", "king"], ["frobnicate"], []],
                         ids=["version", "help", "command help", "usage error",
                              "unknown command", "no arguments"])
def test_help_version_and_usage_errors_import_no_numpy_and_no_core(args):
    modules = _imports(*args)
    assert "embedcli.cli.app" in modules  # the probe did run the app
    found = [m for m in [*CORE, *HEAVY] if m in modules]
    allowed: set[str] = set()  # (help is click's plain text: no rich)
    assert set(found) <= allowed, found


def test_a_query_imports_only_what_it_uses(bundled, session_cache):
    import os

    env = {**os.environ, "EMBEDCLI_CACHE_DIR": str(session_cache)}
    modules = _imports("analogy", "king - man + woman", "--format", "json", env=env)
    assert {"numpy", "embedcli.engine.ranking", "embedcli.render.results"} <= modules
    unused = ["embedcli.classroom", "embedcli.evaluate", "embedcli.plot", "embedcli.explore",
              "embedcli.page", "plotly",
              "embedcli.render.classroom", "embedcli.render.evaluate", "readline",
              "matplotlib", "gensim", "scipy", "pyarrow",
              # a converted model is read without the readers, nor what they need
              "embedcli.readers", "embedcli.fasttext_bin", "zipfile", "gzip", "tempfile",
              "csv"]
    assert [m for m in unused if m in modules] == []


def test_the_commands_of_each_area_are_listed_for_the_run_that_names_one():
    import importlib

    import typer.main

    from embedcli.cli.app import AREAS, COMMANDS

    registered = {name: area for area in AREAS
                  for name in typer.main.get_group(importlib.import_module(area).app).commands}
    assert registered == COMMANDS


@pytest.mark.parametrize("args", [["analogy", "--top", "x", "king"], ["models", "--help"]],
                         ids=["query", "models"])
def test_a_command_imports_only_its_own_area(args):
    from embedcli.cli.app import AREAS, COMMANDS

    modules = _imports(*args)
    assert [area for area in AREAS if area in modules] == [COMMANDS[args[0]]]


def test_version_alone_imports_no_typer():
    modules = _imports("--version")
    assert "typer" not in modules and "embedcli.cli.root" not in modules
