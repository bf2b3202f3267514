"""The catalogue of bad input: every case gets the documented exit status, one line on
stderr that names the problem, no traceback, and nothing on stdout a script could take
for an answer.

Each case is (arguments, expected status, a fragment of the message). Cases that need a
file, a cache or an environment build it in a fixture first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedcli.errors import ExitStatus
from embedcli.formats import Format
from tests.conftest import run, write_small_model

USAGE, NO_ANSWER, MODEL = ExitStatus.USAGE, ExitStatus.NO_ANSWER, ExitStatus.MODEL
LONG = " + ".join(["king"] * 3000) + " - man"

CASES = [
    # empty and whitespace queries, operators and weights without words
    (["analogy", ""], USAGE, "the query is empty"),
    (["analogy", "   "], USAGE, "the query is empty"),
    (["neighbors", "\t"], USAGE, "the query is empty"),
    (["analogy", "+"], USAGE, "expected a word after '+'"),
    (["analogy", "--", "-"], USAGE, "expected a word after '-'"),
    (["analogy", "--", "- "], USAGE, "expected a word after '-'"),
    (["analogy", "king + + man"], USAGE, "expected a word after '+'"),
    (["analogy", "king - - man"], USAGE, "expected a word after '-'"),
    (["analogy", "0.5*"], USAGE, "expected a word after '*'"),
    (["analogy", "*king"], USAGE, "weight before '*'"),
    (["analogy", "king * man"], USAGE, "'king' is not a number"),
    (["analogy", "king man"], USAGE, "expected '+' or '-' between words"),
    (["analogy", "man : king :: woman : queen"], USAGE, "must be '?'"),
    (["analogy", "man : king"], USAGE, "belongs in a proportion"),
    # NaN, infinite and overflowing weights
    (["analogy", "nan*king - man"], USAGE, "not a finite number"),
    (["analogy", "inf*king - man"], USAGE, "not a finite number"),
    (["analogy", "1e999*king - man"], USAGE, "not a finite number"),
    (["analogy", "0*king"], NO_ANSWER, "has no direction"),
    (["analogy", "king - king"], NO_ANSWER, "cancel out"),
    # options
    (["neighbors", "cat", "--top", "0"], USAGE, "--top"),
    (["neighbors", "cat", "--top", "-5"], USAGE, "--top"),
    (["neighbors", "cat", "--top", "abc"], USAGE, "--top"),
    (["neighbors", "cat", "--top", "1.5"], USAGE, "--top"),
    (["neighbors", "cat", "--restrict", "0"], USAGE, "--restrict"),
    (["analogy", "king - man + woman", "--method", "sideways"], USAGE, "--method"),
    (["neighbors", "cat", "--format", "yaml"], USAGE, "--format"),
    (["neighbors", "cat", "--dtype", "float64"], USAGE, "unknown --dtype"),
    (["neighbors", "cat", "--unicode-errors", "ignore"], USAGE, "--unicode-errors"),
    (["neighbors", "cat", "--no-such-option"], USAGE, "No such option"),
    (["analogy", "-king"], USAGE, "goes after '--'"),
    (["analogy", "- "], USAGE, "expected a word after '-'"),
    (["neighbors", "-n", "3", "- + cat"], USAGE, "expected a word after '-'"),
    (["frobnicate"], USAGE, "No such command"),
    (["neighbors"], USAGE, "Missing argument"),
    (["similarity", "cat"], USAGE, "at least two words"),
    (["analogy", "2*king - man + woman", "--method", "mul"], USAGE, "takes no weights"),
    (["analogy", "--method", "mul", "--", "- king - man"], USAGE, "at least one '+' word"),
    # words
    (["neighbors", "kign"], NO_ANSWER, "did you mean: king"),
    (["similarity", "cat", "dgo"], NO_ANSWER, "'dgo' is not in the vocabulary"),
    (["neighbors", "King", "--case-sensitive"], NO_ANSWER, "'King' is not in the vocabulary"),
    (["neighbors", "cat\x00"], NO_ANSWER, "'cat\\x00' is not in the vocabulary"),
    (["neighbors", "ca\nt"], USAGE, "expected '+' or '-' between words"),
    (["analogy", LONG + " + zzzqqq"], NO_ANSWER, "'zzzqqq' is not in the vocabulary"),
    # models that are not there
    (["neighbors", "cat", "-m", "no-such-model"], MODEL, "unknown model 'no-such-model'"),
    (["neighbors", "cat", "-m", "/no/such/file.txt"], MODEL, "unknown model"),
    (["neighbors", "cat", "-m", "/tmp"], MODEL, "is a directory"),
    (["neighbors", "cat", "-m", "glove-twitter-25x"], MODEL, "unknown model"),
]


@pytest.mark.parametrize("args,status,message", CASES,
                         ids=[f"{i}:{' '.join(c[0])[:40]}" for i, c in enumerate(CASES)])
def test_bad_input(runner, args, status, message):
    result = run(runner, *args)
    assert result.exit_code == status, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("embedcli: error:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    # the only other lines allowed: the query and its caret, for a malformed expression
    assert len(lines) in (1, 3)
    assert "Traceback" not in result.stderr


def test_the_catalogue_is_at_least_forty_cases():
    assert len(CASES) + len(MODEL_FILE_CASES) + len(CACHE_CASES) >= 40


# ---------------------------------------------------------------- model files

MODEL_FILE_CASES = [
    ("empty.txt", b"", "is empty"),
    ("blank.txt", b"\n \n", "is empty"),
    ("prose.txt", b"hello world\nthis is prose\n", "not a vector file"),
    ("short.txt", b"the 1 0 0\ncat 0 1\n", "line 2 of"),
    ("nan-word.txt", b"the 1 0 0\ncat 0 x 0\n", "'x' is not a number"),
    ("utf8.txt", b"the 1 0 0\ncaf\xe9 0 1 0\n", "invalid UTF-8 at byte 13"),
    ("onefield.txt", b"word\n", "not a vector file"),
    ("truncated.bin", None, "word2vec binary"),
    ("pickle.kv", b"\x80\x04\x95junk", "--trust"),
    ("archive.zip", b"PK\x03\x04", "zip"),
]


@pytest.mark.parametrize("name,content,message", MODEL_FILE_CASES,
                         ids=[c[0] for c in MODEL_FILE_CASES])
def test_bad_model_files(runner, fresh_cache, tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        write_small_model(path, ["a", "b"], [[1.0, 0.0], [0.0, 1.0]], fmt="binary")
        path.write_bytes(path.read_bytes()[:-3])
    elif name == "archive.zip":
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("vectors.txt", "a 1 0\n")
    else:
        path.write_bytes(content)
    result = run(runner, "neighbors", "a", "-m", str(path))
    assert result.exit_code == MODEL, result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    models = fresh_cache / "models"
    assert not models.exists() or not [p for p in models.iterdir()]  # nothing half-written


# ---------------------------------------------------------------- the cache

def _damage(kind: str, entry: Path) -> None:
    if kind == "truncated vectors":
        data = (entry / "vectors.npy").read_bytes()
        (entry / "vectors.npy").write_bytes(data[: len(data) // 2])
    elif kind == "truncated vocabulary":
        data = (entry / "vocab.txt").read_bytes()
        (entry / "vocab.txt").write_bytes(data[:-3])
    elif kind == "missing offsets":
        (entry / "offsets.npy").unlink()
    elif kind == "missing meta":
        (entry / "meta.json").unlink()
    elif kind == "another version":
        meta = json.loads((entry / "meta.json").read_text())
        (entry / "meta.json").write_text(json.dumps(meta | {"format": 999}))
    elif kind == "stale":
        meta = json.loads((entry / "meta.json").read_text())
        (entry / "meta.json").write_text(json.dumps(meta | {"key": "old"}))
    elif kind == "garbage vectors":
        (entry / "vectors.npy").write_bytes(b"\x00" * (entry / "vectors.npy").stat().st_size)


CACHE_CASES = ["truncated vectors", "truncated vocabulary", "missing offsets", "missing meta",
               "another version", "stale", "garbage vectors"]


@pytest.mark.parametrize("kind", CACHE_CASES)
def test_a_damaged_cache_is_rebuilt_and_the_answer_is_right(runner, fresh_cache, tmp_path,
                                                            kind):
    path = write_small_model(tmp_path / "v.txt", ["king", "queen", "man", "woman"],
                             [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]])
    first = run(runner, "analogy", "king - man + woman", "-m", str(path), "-f", "json")
    (entry,) = (fresh_cache / "models").iterdir()
    _damage(kind, entry)
    again = run(runner, "analogy", "king - man + woman", "-m", str(path), "-f", "json")
    assert again.exit_code == 0
    assert json.loads(again.stdout) == json.loads(first.stdout)
    assert "rebuilding" in again.stderr or "converting" in again.stderr
    assert "Traceback" not in again.stderr


# ---------------------------------------------------------------- the environment

def _cli(args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    full |= {"EMBEDCLI_CACHE_DIR": str(cache)} | env
    return subprocess.run([sys.executable, "-m", "embedcli", *args], env=full,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("fmt", [f.value for f in Format])
def test_an_ascii_terminal_gets_escapes_not_a_crash(bundled, session_cache, fmt):
    out = _cli(["neighbors", "naïve", "-n", "3", "-f", fmt], session_cache,
               PYTHONIOENCODING="ascii")
    assert out.returncode == 0, out.stderr
    assert out.stderr == b""
    out.stdout.decode("ascii")  # pure ASCII
    if fmt == "json":
        assert json.loads(out.stdout)["query"] == "naïve"


def test_an_ascii_terminal_gets_an_escaped_error(bundled, session_cache):
    out = _cli(["neighbors", "naïvx"], session_cache, PYTHONIOENCODING="ascii")
    assert out.returncode == NO_ANSWER
    assert out.stderr.decode("ascii").startswith("embedcli: error: 'na\\xefvx'")


def test_invalid_utf8_in_an_argument(bundled, session_cache):
    out = _cli(["neighbors", os.fsdecode(b"caf\xe9")], session_cache)
    assert out.returncode == NO_ANSWER
    assert b"'caf\\xe9' is not in the vocabulary" in out.stderr
    assert out.stdout == b""


def test_huge_weights_do_not_overflow(runner):
    plain = run(runner, "analogy", "king - man + woman", "-f", "json").stdout
    huge = run(runner, "analogy", "1e300*king - 1e300*man + 1e300*woman", "-f", "json")
    assert huge.exit_code == 0
    assert [r["word"] for r in json.loads(huge.stdout)["results"]] == \
        [r["word"] for r in json.loads(plain)["results"]]


def test_thousands_of_terms(runner):
    result = run(runner, "analogy", LONG, "-f", "plain", "-n", "1")
    assert result.exit_code == 0 and result.stdout.strip()


# ---------------------------------------------------------------- stdin

STDIN_CASES = {
    "a NUL byte": b"neighbors cat\x00dog\n",
    "invalid UTF-8": b"neighbors caf\xe9\n",
    "a 1 MB line": b"neighbors " + b"x" * 1_000_000 + b"\n",
    "a 1 MB expression": b"analogy " + b" + ".join([b"king"] * 200_000) + b" - zzqqx\n",
}


@pytest.mark.parametrize("command", ["batch", "shell"])
@pytest.mark.parametrize("name", list(STDIN_CASES))
def test_bad_lines_on_stdin(bundled, session_cache, command, name):
    """Through a real pipe: the line fails alone (status 1, a JSON error line), with one
    summary line on stderr that stays short, and the memory stays small (a 1 MB unknown
    word once took gigabytes, building its spelling candidates)."""
    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    env["EMBEDCLI_CACHE_DIR"] = str(session_cache)
    env["EMBEDCLI_DATA_DIR"] = str(session_cache / "data")
    # address space that does not grow with the machine's cores (BLAS buffers and malloc
    # arenas are reserved a thread at a time), so that the limit below means the same here
    # as on a 64-core machine
    env |= {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
            "MALLOC_ARENA_MAX": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "embedcli", command, "-f", "jsonl"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, preexec_fn=_two_gigabytes)
    out, err = proc.communicate(STDIN_CASES[name] + b"similarity cat dog\n", timeout=120)
    assert proc.returncode == NO_ANSWER, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert "error" in first and "error" not in second  # the next line is still answered
    assert b"Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith(b"embedcli: error:")]
    assert errors and all(len(line) < 1200 for line in errors), err[:300]


def _two_gigabytes() -> None:
    """In the child: at most 2 GB of address space, so runaway memory is a failure here
    (a MemoryError, status 70) and not the machine's out-of-memory killer."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
