"""`embedcli models`: registering, listing, choosing and removing models; concurrent caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedcli.errors import ExitStatus
from tests.conftest import run, run_json, write_small_model

WORDS = ["king", "queen", "man", "woman"]
VECTORS = [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]]


@pytest.fixture
def source(tmp_path, fresh_cache) -> Path:
    return write_small_model(tmp_path / "royals.txt", WORDS, VECTORS)


def test_add_list_info_default_remove(runner, source, tmp_path, fresh_cache):
    added = run(runner, "models", "add", "royals", str(source))
    assert added.exit_code == 0, added.stderr
    assert "registered royals: 4 words x 4 dimensions" in added.stderr
    config = json.loads((tmp_path / "config" / "models.json").read_text())
    assert config["models"]["royals"]["path"] == str(source.resolve())

    listed = {m["name"]: m for m in run_json(runner, "models", "list")}
    assert listed["royals"]["words"] == 4 and listed["royals"]["dim"] == 4
    assert listed["royals"]["cache_bytes"] > 0 and not listed["royals"]["default"]
    assert listed["glove-6b-50d"]["default"]

    info = run_json(runner, "models", "info", "royals")
    assert info["most_frequent"] == WORDS and info["kind"] == "file"

    assert run(runner, "models", "default", "royals").exit_code == 0
    out = run_json(runner, "analogy", "king - man + woman", "-n", "1")
    assert out["model"] == "royals" and out["results"][0]["word"] == "queen"

    removed = run(runner, "models", "remove", "royals")
    assert removed.exit_code == 0
    assert "(1 cache entry)" in removed.stderr
    assert source.exists()  # the user's file is never deleted
    assert not [p for p in (fresh_cache / "models").iterdir() if not p.name.startswith(".")]
    assert run_json(runner, "neighbors", "cat")["model"] == "glove-6b-50d"


def test_environment_wins_over_the_registered_default(runner, source, monkeypatch):
    run(runner, "models", "add", "royals", str(source))
    run(runner, "models", "default", "royals")
    monkeypatch.setenv("EMBEDCLI_MODEL", "glove-6b-50d")
    assert run_json(runner, "neighbors", "cat")["model"] == "glove-6b-50d"
    assert run_json(runner, "neighbors", "king", "-m", "royals")["model"] == "royals"


@pytest.mark.parametrize("args,status,message", [
    (["models", "add", "glove-6b-50d", "x.txt"], ExitStatus.USAGE, "built-in model"),
    (["models", "add", "bad/name", "x.txt"], ExitStatus.USAGE, "not a valid model name"),
    (["models", "add", "new", "/no/such/file.txt"], ExitStatus.MODEL, "unknown model"),
    (["models", "remove", "never-added"], ExitStatus.USAGE, "not a registered model"),
    (["models", "default", "nothing-by-this-name"], ExitStatus.MODEL, "unknown model"),
    (["models", "info", "/no/such/file.txt"], ExitStatus.MODEL, "unknown model"),
])
def test_registry_errors(runner, args, status, message):
    result = run(runner, *args)
    assert result.exit_code == status
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_adding_twice_and_a_broken_file(runner, source, tmp_path):
    assert run(runner, "models", "add", "royals", str(source)).exit_code == 0
    again = run(runner, "models", "add", "royals", str(source))
    assert again.exit_code == ExitStatus.USAGE and "already registered" in again.stderr
    broken = tmp_path / "broken.txt"
    broken.write_text("the 1 2\ncat 1\n")
    failed = run(runner, "models", "add", "broken", str(broken))
    assert failed.exit_code == ExitStatus.MODEL
    assert "broken" not in {m["name"] for m in run_json(runner, "models", "list")}


def test_a_registration_remembers_its_options(runner, tmp_path, bundled_kv):
    path = write_small_model(tmp_path / "v.txt", bundled_kv.index_to_key[:3000],
                             bundled_kv.vectors[:3000])
    assert run(runner, "models", "add", "top1k", str(path), "--limit", "1000",
               "--dtype", "float16").exit_code == 0
    info = run_json(runner, "models", "info", "top1k")
    assert info["words"] == 1000 and info["dtype"] == "float16"


def test_a_corrupt_registry_is_a_clear_error(runner, tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "models.json").write_text("{oops")
    result = run(runner, "neighbors", "cat")
    assert result.exit_code == ExitStatus.MODEL
    assert "models.json" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_converting_at_once_all_answer_and_leave_one_valid_entry(
        tmp_path, bundled_kv, processes):
    path = write_small_model(tmp_path / "v.txt", bundled_kv.index_to_key[:20000],
                             bundled_kv.vectors[:20000])
    cache = tmp_path / "shared-cache"
    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    env |= {"EMBEDCLI_CACHE_DIR": str(cache), "EMBEDCLI_CONFIG_DIR": str(tmp_path / "cfg")}
    procs = [subprocess.Popen([sys.executable, "-m", "embedcli", "analogy",
                               "king - man + woman", "-m", str(path), "-f", "json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(processes)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outputs]
    answers = [json.loads(out)["results"] for out, _ in outputs]
    assert all(a == answers[0] for a in answers)
    assert answers[0][0]["word"] == "queen"
    entries = list((cache / "models").iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".")
    again = subprocess.run([sys.executable, "-m", "embedcli", "neighbors", "king", "-m",
                            str(path), "-f", "plain"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0 and again.stderr == ""
    np.testing.assert_equal(again.stdout.split()[0], "prince")


def _entries(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "models").iterdir() if not p.name.startswith("."))


def test_removing_one_registration_keeps_anothers_cache(runner, source, fresh_cache):
    assert run(runner, "models", "add", "big", str(source)).exit_code == 0
    assert run(runner, "models", "add", "small", str(source), "--limit", "2").exit_code == 0
    both = _entries(fresh_cache)
    assert len(both) == 2
    assert "(1 cache entry)" in run(runner, "models", "remove", "small").stderr
    assert len(_entries(fresh_cache)) == 1 and _entries(fresh_cache)[0] in both
    again = run(runner, "neighbors", "king", "-m", "big")
    assert again.exit_code == 0 and "converting" not in again.stderr  # big's entry is there


def test_removing_a_registration_whose_file_is_gone_removes_its_cache(runner, source,
                                                                      fresh_cache):
    assert run(runner, "models", "add", "gone", str(source)).exit_code == 0
    source.unlink()
    removed = run(runner, "models", "remove", "gone")
    assert removed.exit_code == 0 and "(1 cache entry)" in removed.stderr
    assert _entries(fresh_cache) == []


def test_the_same_file_name_in_two_folders_keeps_two_entries(runner, tmp_path, fresh_cache,
                                                             monkeypatch):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_small_model(tmp_path / folder / "v.txt", WORDS, VECTORS)
    for folder in ("a", "b", "a"):
        monkeypatch.chdir(tmp_path / folder)
        result = run(runner, "neighbors", "king", "-m", "v.txt")
        assert result.exit_code == 0
    assert "converting" not in result.stderr  # a's entry survived b's conversion
    assert len(_entries(fresh_cache)) == 2


def test_two_registrations_of_one_file_share_its_cache(runner, source, fresh_cache):
    assert run(runner, "models", "add", "a", str(source)).exit_code == 0
    assert run(runner, "models", "add", "b", str(source)).exit_code == 0
    assert len(_entries(fresh_cache)) == 1
    removed = run(runner, "models", "remove", "a")
    assert "its cache stays, as b reads the same file the same way" in removed.stderr
    again = run(runner, "neighbors", "king", "-m", "b")
    assert again.exit_code == 0 and "converting" not in again.stderr
    assert "(1 cache entry)" in run(runner, "models", "remove", "b").stderr
    assert _entries(fresh_cache) == []


def test_a_change_of_the_registry_waits_for_the_lock_and_then_loses_nothing(tmp_path, source):
    """While another process holds the registry's lock, `models add` (its model already
    converted, so it reaches the lock at once) waits; released, it adds to what the holder
    wrote instead of overwriting it."""
    import time

    from embedcli.models import Registry

    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    cli = [sys.executable, "-m", "embedcli"]
    assert subprocess.run([*cli, "neighbors", "king", "-m", str(source)], env=env,
                          capture_output=True, timeout=120).returncode == 0
    with Registry.editing() as registry:
        waiting = subprocess.Popen([*cli, "models", "add", "late", str(source)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # far longer than the add takes once it has the lock
        assert waiting.poll() is None  # blocked on the lock
        registry.models["held"] = {"path": str(source)}
        registry.save()
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "registered late" in err
    assert set(json.loads(Registry.path().read_text())["models"]) == {"held", "late"}
