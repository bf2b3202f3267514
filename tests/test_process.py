"""Real processes: start-up imports, pipes, signals and the progress display on a terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedcli.errors import ExitStatus
from tests.conftest import files_at_most, run_with_stderr_on_a_terminal, write_small_model

HEAVY = ("gensim", "scipy", "pyarrow", "pydantic", "matplotlib")

# Runs the CLI in this interpreter and reports which heavy modules it imported.
PROBE = """
import json, runpy, sys
sys.argv = ["embedcli", *sys.argv[1:]]
try:
    runpy.run_module("embedcli", run_name="__main__")
except SystemExit as exit:
    code = exit.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EMBEDCLI_MODEL", "FORCE_COLOR")}
    env["EMBEDCLI_CACHE_DIR"] = str(cache)
    return env


def embedcli(*args: str, cache: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embedcli", *args], env=_env(cache),
                          capture_output=True, text=True, timeout=120, **kwargs)


def test_a_query_on_a_cached_model_imports_no_heavy_library(bundled, session_cache):
    probe = subprocess.run([sys.executable, "-c", PROBE, "analogy", "king - man + woman",
                            "--format", "json"], env=_env(session_cache),
                           capture_output=True, text=True, timeout=120)
    report = json.loads(probe.stderr.splitlines()[-1])
    assert report == {"code": 0, "heavy": []}
    assert json.loads(probe.stdout)["results"][0]["word"] == "queen"


def test_the_probe_would_see_a_heavy_library_if_it_were_imported(tmp_path):
    # the first run parses the text file with pyarrow: the probe must notice that
    path = write_small_model(tmp_path / "m.txt", ["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
    probe = subprocess.run([sys.executable, "-c", PROBE, "neighbors", "a", "-m", str(path)],
                           env=_env(tmp_path / "cache"), capture_output=True, text=True,
                           timeout=120)
    assert "pyarrow" in json.loads(probe.stderr.splitlines()[-1])["heavy"]


def test_the_console_script_and_python_m_agree(bundled, session_cache):
    script = Path(sys.executable).with_name("embedcli")
    if not script.exists():
        pytest.skip("console script not installed next to this interpreter")
    args = ["similarity", "cat", "dog", "--format", "json"]
    direct = subprocess.run([str(script), *args], env=_env(session_cache), capture_output=True,
                            text=True, timeout=120)
    module = embedcli(*args, cache=session_cache)
    assert direct.returncode == module.returncode == 0
    assert json.loads(direct.stdout) == json.loads(module.stdout)


@pytest.mark.parametrize("args,stdin,first", [
    (["neighbors", "cat", "-n", "2"], None, "rank\tword\tscore\texcluded"),
    (["batch"], "similarity cat dog\n", '{"line": 1,'),
    (["shell"], "cat ~ dog\n", '{"line": 1,'),
])
def test_force_color_in_a_pipe_keeps_machine_output(bundled, session_cache, args, stdin, first):
    """FORCE_COLOR asks for colour; a pipe still gets tsv or JSON lines, not a table."""
    out = subprocess.run([sys.executable, "-m", "embedcli", *args], input=stdin,
                         env=_env(session_cache) | {"FORCE_COLOR": "1"}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(first) and "\x1b" not in out.stdout


def test_a_reader_that_stops_early_gets_no_traceback(bundled, session_cache):
    # enough output to fill the pipe, so the write really fails
    proc = subprocess.Popen([sys.executable, "-m", "embedcli", "neighbors", "cat", "--format",
                             "tsv", "--top", "200000"], env=_env(session_cache),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"rank\tword\tscore\texcluded\n"  # `| head -1` reads
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == ExitStatus.BROKEN_PIPE
    assert stderr == b""


def test_head_in_a_real_shell_pipeline(bundled, session_cache):
    out = subprocess.run(f"'{sys.executable}' -m embedcli neighbors cat --format tsv "
                         "--top 200000 | head -1", shell=True, env=_env(session_cache),
                         capture_output=True, text=True, timeout=120)
    assert out.stdout == "rank\tword\tscore\texcluded\n" and out.stderr == ""


def _start_converting(cache: Path) -> tuple[subprocess.Popen, float]:
    proc = subprocess.Popen([sys.executable, "-m", "embedcli", "neighbors", "cat"],
                            env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stderr.readline()  # the note comes before gensim is imported and reads
    assert b"converting" in line, line
    return proc, time.monotonic()


@pytest.fixture(scope="module")
def converting_seconds(tmp_path_factory) -> float:
    """How long converting the bundled model takes on this machine, from the note to exit."""
    proc, started = _start_converting(tmp_path_factory.mktemp("timing"))
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0 and out
    return time.monotonic() - started


# A fixed delay once landed after the answer; so the signal comes at a fraction of a
# measured conversion: early ones land while gensim and scipy import (where CPython once
# turned a caught interrupt into death by SIGINT, status -2), later ones while reading.
# A run that still finishes first (the machine got faster) is no trial: it goes again,
# sooner.
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5])
def test_ctrl_c_during_conversion_exits_130_and_leaves_no_partial_cache(tmp_path, fraction,
                                                                      converting_seconds):
    delay = fraction * converting_seconds
    for attempt in range(4):
        cache = tmp_path / f"cache{attempt}"
        proc, started = _start_converting(cache)
        time.sleep(max(0.0, started + delay - time.monotonic()))
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0 and out:
            delay /= 2
            continue
        assert out == b"", err
        assert proc.returncode == ExitStatus.INTERRUPTED, err
        assert b"Traceback" not in err
        models = cache / "models"
        assert not models.exists() or list(models.iterdir()) == []
        return
    pytest.fail(f"every conversion finished before the signal (last delay {delay:.2f} s)")


# What an extension module does when Ctrl-C lands during its initialisation (seen in CI,
# from scipy under gensim): the KeyboardInterrupt comes out as an ImportError.
INTERRUPTED_IMPORT = """
import os, signal, sys, time
import embedcli.models
from embedcli.cli.app import main

def load(*args, **kwargs):
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        raise ImportError("initialization failed") from None

embedcli.models.load = load
sys.argv = ["embedcli", "neighbors", "cat"]
main()
"""


def test_ctrl_c_that_an_import_turns_into_an_error_still_exits_130(tmp_path):
    out = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT], env=_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == ExitStatus.INTERRUPTED, out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr


def test_progress_is_shown_when_stderr_is_a_terminal(tmp_path):
    path = write_small_model(tmp_path / "m.txt", ["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
    status, stdout, seen = run_with_stderr_on_a_terminal(
        ["neighbors", "a", "-m", str(path), "-f", "plain"], _env(tmp_path / "cache"))
    assert status == 0 and stdout == b"b\n"
    assert b"converting" in seen
    assert b"reading" in seen or b"normalising" in seen  # rich's live progress lines
    assert b"\x1b[" in seen  # drawn with terminal control codes


def test_no_progress_codes_when_stderr_is_not_a_terminal(tmp_path):
    path = write_small_model(tmp_path / "m.txt", ["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
    out = embedcli("neighbors", "a", "-m", str(path), "-f", "plain", cache=tmp_path / "c")
    assert out.returncode == 0 and out.stdout == "b\n"
    assert "\x1b[" not in out.stderr and "converting" in out.stderr


def test_a_cache_that_cannot_be_written_in_full_falls_back_to_memory(tmp_path, bundled_kv):
    """A full disk, simulated: the child may not write files larger than 64 KiB."""
    path = write_small_model(tmp_path / "v.txt", bundled_kv.index_to_key[:5000],
                             bundled_kv.vectors[:5000])  # a 1 MB vectors.npy in the cache

    cache = tmp_path / "cache"
    out = subprocess.run([sys.executable, "-m", "embedcli", "analogy", "king - man + woman",
                          "-m", str(path), "-f", "plain", "-n", "1"], env=_env(cache),
                         capture_output=True, text=True, timeout=120,
                         preexec_fn=files_at_most(64 * 1024))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "queen\n"
    assert "warning: cannot write the cache" in out.stderr and "from memory" in out.stderr
    assert "Traceback" not in out.stderr
    leftovers = list((cache / "models").iterdir()) if (cache / "models").exists() else []
    assert leftovers == []  # no half-written entry


EVERY_COMMAND = [
    ["analogy", "king - man + woman", "-n", "100000", "-f", "tsv"],
    ["neighbors", "cat", "-n", "100000", "-f", "jsonl"],
    ["similarity", "cat", "dog", "car", "-f", "csv"],
    ["doesnt-match", "breakfast", "cereal", "dinner", "lunch", "-f", "tsv"],
    ["vector", "cat", "-f", "tsv"],
    ["vocab"],
    ["rank", "cat", "dog"],
    ["interpolate", "cat", "dog", "-f", "tsv"],
    ["explain", "king - man + woman", "-f", "json"],
    ["models", "list", "-f", "tsv"],
    ["models", "info", "glove-6b-50d", "-f", "json"],
    ["evaluate", "similarity", "-f", "tsv"],
]


@pytest.mark.parametrize("args", EVERY_COMMAND, ids=lambda a: " ".join(a[:2]))
def test_head_1_on_every_command_ends_quietly(bundled, session_cache, args):
    proc = subprocess.Popen([sys.executable, "-m", "embedcli", *args], env=_env(session_cache),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    status = proc.wait(timeout=300)
    assert first.strip()
    assert status in (0, ExitStatus.BROKEN_PIPE), stderr
    assert b"Traceback" not in stderr and b"Error" not in stderr, stderr


@pytest.mark.parametrize("args,stdin", [(a, None) for a in EVERY_COMMAND] + [
    ([], None), (["--help"], None), (["neighbors", "--help"], None),
    (["quiz", "--seed", "1"], "queen\n"), (["batch"], "similarity cat dog\n"),
    (["shell"], "cat\n"),
], ids=lambda a: " ".join(a[:2]) if isinstance(a, list) else "")
def test_a_reader_gone_before_the_first_word_gives_141(bundled, session_cache, args, stdin):
    """stdout is a pipe whose reader has already left: whatever the command writes first
    fails, so the status is exactly 141, quietly (help text and the quiz included)."""
    read, write = os.pipe()
    os.close(read)
    try:
        out = subprocess.run([sys.executable, "-m", "embedcli", *args], input=stdin,
                             stdout=write, stderr=subprocess.PIPE, env=_env(session_cache),
                             text=True, timeout=300)
    finally:
        os.close(write)
    assert out.returncode == ExitStatus.BROKEN_PIPE, out.stderr
    assert "Traceback" not in out.stderr and "Error" not in out.stderr, out.stderr


def test_head_1_on_a_long_batch_ends_quietly(bundled, session_cache):
    lines = "".join("similarity cat dog\nneighbors cat -n 3\n" for _ in range(20000))
    out = subprocess.run(f"'{sys.executable}' -m embedcli batch -f jsonl | head -1",
                         shell=True, input=lines, env=_env(session_cache), capture_output=True,
                         text=True, timeout=300)
    assert json.loads(out.stdout)["line"] == 1
    assert out.stderr == ""
