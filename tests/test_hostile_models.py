"""Hostile conditions for models and their cache (issue 10), one class of fault each.

1. concurrent ``models add`` / ``remove`` / queries lose no update (real processes);
2. a registry of wrong types, a registration that leads back to itself, a read-only config
   directory: a model or usage error naming the file, never an internal error (and a
   property test over random registry JSON);
3. a damaged cache entry of the right size is detected: rebuilt when opening finds it,
   a model error (and removed, so the next run rebuilds) when answering finds it,
   and ``embedcli models check`` finds the rest;
4. the temporary directory of a conversion killed mid-way is swept by the next one;
5. an untrusted gensim save is refused before any conversion is announced.

Each asserts the documented status, exactly one ``embedcli: error:`` line for an error,
and no wrong answer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedcli.errors import ExitStatus
from tests.conftest import run, write_small_model

WORDS = ["cat", "dog", "king", "queen", "man", "woman", "apple"]
VECTORS = [[1, 0.1, 0], [0.9, 0.2, 0], [0, 1, 0.1], [0, 0.9, 0.3], [0.1, 0.5, 0.5],
           [0.1, 0.4, 0.6], [0.5, 0, 1]]


def _one_error_line(stderr: str) -> str:
    """The one ``embedcli: error:`` line of a failed run (notes may come before it)."""
    errors = [line for line in stderr.splitlines() if line.startswith("embedcli: error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    return errors[0]


def _only_an_error(result, status: int, *fragments: str) -> str:
    """A run that failed with ``status``: nothing on stdout, exactly one stderr line."""
    assert result.exit_code == status, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("embedcli: error: "), \
        result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


def _env(cache: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    return env | {"EMBEDCLI_CACHE_DIR": str(cache), "EMBEDCLI_CONFIG_DIR": str(config)}


def _cli(args: list[str], env: dict[str, str], timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "embedcli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def small(tmp_path) -> Path:
    return write_small_model(tmp_path / "small.txt", WORDS, VECTORS)


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Path:
    """30,000 words: every file of its cache is larger than the sample opening reads."""
    rng = np.random.default_rng(10)
    words = WORDS + [f"w{i}" for i in range(30000 - len(WORDS))]
    vectors = rng.normal(size=(len(words), 50)).astype(np.float32)
    vectors[: len(WORDS), :3] += np.asarray(VECTORS, dtype=np.float32) * 20
    return write_small_model(tmp_path_factory.mktemp("large") / "large.txt", words, vectors)


@pytest.fixture(scope="module")
def large_converted(tmp_path_factory, large) -> Path:
    """The large model's cache entry, converted once for the module."""
    from embedcli.models import load

    cache = tmp_path_factory.mktemp("large-cache")
    old = os.environ.get("EMBEDCLI_CACHE_DIR")
    os.environ["EMBEDCLI_CACHE_DIR"] = str(cache)
    try:
        load(str(large))
    finally:
        if old is None:
            del os.environ["EMBEDCLI_CACHE_DIR"]
        else:
            os.environ["EMBEDCLI_CACHE_DIR"] = old
    return _entry(cache)


@pytest.fixture
def large_entry(fresh_cache, large_converted) -> Path:
    """A copy of the large model's entry in this test's own cache."""
    return Path(shutil.copytree(large_converted, fresh_cache / "models" / large_converted.name))


# --------------------------------------------------------------------------- 1. concurrency

WORKERS = 8


def test_concurrent_adds_removes_and_queries_lose_no_update(tmp_path, small):
    """8 processes at a time, each step started together (a barrier): each worker adds two
    names of its own, all 8 add one shared name, then each queries, removes one of its
    names and queries the other. Every registration reported (and not reported removed
    later) is in models.json at the end, and every reported removal is gone."""
    env = _env(tmp_path / "cache", tmp_path / "config")
    barrier = threading.Barrier(WORKERS)
    steps = ["add {k}a", "add shared", "add {k}b", "neighbors {k}a", "remove {k}a",
             "neighbors {k}b", "list"]

    def worker(k: int) -> list[tuple[str, str, subprocess.CompletedProcess]]:
        done = []
        for step in steps:
            verb, *rest = step.format(k=f"w{k}").split()
            name = rest[0] if rest else ""
            args = {"add": ["models", "add", name, str(small)],
                    "remove": ["models", "remove", name],
                    "neighbors": ["neighbors", "cat", "-m", name, "-n", "1", "-f", "plain"],
                    "list": ["models", "list", "-f", "json"]}[verb]
            barrier.wait(timeout=600)
            done.append((verb, name, _cli(args, env)))
        return done

    with ThreadPoolExecutor(WORKERS) as pool:
        runs = [r for rs in pool.map(worker, range(WORKERS)) for r in rs]

    registered, removed = [], []
    for verb, name, result in runs:
        assert result.returncode in (0, ExitStatus.USAGE), (verb, name, result.stderr)
        if result.returncode:
            assert (verb, name) == ("add", "shared"), result.stderr
            assert "already registered" in _one_error_line(result.stderr)
            continue
        if verb == "add":
            assert f"registered {name}: 7 words x 3 dimensions" in result.stderr
            registered.append(name)
        elif verb == "remove":
            assert f"removed {name}" in result.stderr
            removed.append(name)
        elif verb == "neighbors":
            assert result.stdout == "dog\n", result.stderr
        else:
            json.loads(result.stdout)
    assert registered.count("shared") == 1  # exactly one of the eight got the name
    config = json.loads((tmp_path / "config" / "models.json").read_text())
    expected = set(registered) - set(removed)
    assert expected == {"shared", *(f"w{k}b" for k in range(WORKERS))}
    assert set(config["models"]) == expected, (sorted(config["models"]), sorted(expected))
    # nothing half-written is left beside it: the registry and its lock
    assert sorted(p.name for p in (tmp_path / "config").iterdir()) == [".models.json.lock",
                                                                        "models.json"]
    entries = [p for p in (tmp_path / "cache" / "models").iterdir()]
    assert [p.name[0] for p in entries] == ["s"]  # one entry of small.txt, no temporaries
    again = _cli(["neighbors", "cat", "-m", "shared", "-n", "1", "-f", "plain"], env)
    assert (again.returncode, again.stdout, again.stderr) == (0, "dog\n", "")


# --------------------------------------------------------------------------- 2. the registry


def _registry(tmp_path: Path, content: str | bytes) -> None:
    (tmp_path / "config").mkdir(exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    (tmp_path / "config" / "models.json").write_bytes(data)


# (models.json, the query's model, the message) for what breaks the whole file, then for
# what breaks one registration (other commands still work, and remove removes it)
WHOLE_FILE = [
    ("{oops", "not valid JSON"),
    ("[1, 2]", "holds [1, 2], not an object"),
    ('"models"', "not an object"),
    ('{"models": [1]}', '"models" in the model registry'),
    ('{"models": "x"}', '"models" in the model registry'),
    (b'{"models": {"\xff": 1}}', "not UTF-8"),
    ("[" * 100000 + "]" * 100000, "cannot be read as JSON"),
]
ONE_ENTRY = [
    ('{"models": {"a": 5}}', "is 5, not an object"),
    ('{"models": {"a": []}}', "is [], not an object"),
    ('{"models": {"a": {}}}', 'has no "path"'),
    ('{"models": {"a": {"path": 5}}}', 'has no "path"'),
    ('{"models": {"a": {"path": ""}}}', 'has no "path"'),
    ('{"models": {"a": {"path": "SMALL", "limit": "x"}}}', '"limit": "x"'),
    ('{"models": {"a": {"path": "SMALL", "limit": true}}}', '"limit": true'),
    ('{"models": {"a": {"path": "SMALL", "dtype": 5}}}', '"dtype": 5'),
    ('{"models": {"a": {"path": "SMALL", "trust": "yes"}}}', '"trust": "yes"'),
    ('{"models": {"a": {"path": "SMALL", "unicode_errors": 1}}}', '"unicode_errors": 1'),
    ('{"models": {"a": {"path": "a"}}}', "go round in a loop (a -> a); give 'a' a file"),
    ('{"models": {"a": {"path": "b"}, "b": {"path": "a"}}}',
     "(a -> b -> a); give 'b' a file: embedcli models remove b"),
    ('{"models": {"a": {"path": "b"}, "b": {"path": "c"}, "c": {"path": "b"}}}',
     "(a -> b -> c -> b); give 'c' a file"),
    ('{"models": {"a": {"path": "/no/such/file.txt"}}}', "not there any more"),
    ('{"models": {"a": {"path": "x\\u0000y"}}}', "not there any more"),
    ('{"models": {"a": {"path": "~nosuchuser/v.txt"}}}', "not there any more"),
]


@pytest.mark.parametrize("content,message", WHOLE_FILE, ids=lambda v: str(v)[:30])
def test_a_registry_file_embedcli_cannot_read_is_a_model_error(runner, tmp_path, small,
                                                                content, message):
    _registry(tmp_path, content)
    for args in (["neighbors", "cat"], ["neighbors", "cat", "-m", str(small)],
                 ["models", "list"], ["models", "add", "x", str(small)],
                 ["models", "remove", "a"], ["models", "default", "glove-6b-50d"]):
        error = _only_an_error(run(runner, *args), ExitStatus.MODEL, message)
        assert str(tmp_path / "config" / "models.json") in error  # names the file to fix


@pytest.mark.parametrize("content,message", ONE_ENTRY, ids=lambda v: str(v)[:40])
def test_a_broken_registration_fails_only_its_own_commands(runner, tmp_path, small,
                                                            content, message):
    _registry(tmp_path, content.replace("SMALL", str(small)))
    error = _only_an_error(run(runner, "neighbors", "cat", "-m", "a"), ExitStatus.MODEL,
                           message, "embedcli models remove ")
    assert str(tmp_path / "config" / "models.json") in error or "registered as" in error
    # the rest works: another model, the listing (which shows it as unavailable), adding
    assert run(runner, "neighbors", "cat", "-m", str(small), "-n", "1", "-f", "plain"
               ).stdout == "dog\n"
    listed = run(runner, "models", "list", "-f", "json")
    assert listed.exit_code == 0, listed.stderr
    row = {r["name"]: r for r in json.loads(listed.stdout)}["a"]
    assert row["source"].startswith("(unavailable: ") and row["words"] is None
    assert run(runner, "models", "add", "fine", str(small)).exit_code == 0
    # and the advice works: removing the broken registration
    removed = run(runner, "models", "remove", "a")
    assert removed.exit_code == 0 and "removed a" in removed.stderr
    models = json.loads((tmp_path / "config" / "models.json").read_text())["models"]
    assert "a" not in models and "fine" in models


@pytest.mark.parametrize("default", ["5", "[]", "{}", "true"])
def test_a_default_that_is_not_a_name_is_a_model_error_and_can_be_replaced(runner, tmp_path,
                                                                           default):
    _registry(tmp_path, f'{{"default": {default}, "models": {{}}}}')
    _only_an_error(run(runner, "neighbors", "cat"), ExitStatus.MODEL,
                   f'"default" in the model registry {tmp_path / "config" / "models.json"}',
                   "embedcli models default NAME")
    assert run(runner, "models", "default", "glove-6b-50d").exit_code == 0
    assert run(runner, "neighbors", "cat", "-n", "1", "-f", "plain").stdout == "dog\n"


def _read_only(folder: Path) -> Callable[[], None]:
    """Make ``folder`` read-only: chmod for a user, a read-only bind mount for root (who
    writes through permissions); returns the undo. Skips where neither works."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return lambda: folder.chmod(0o700)
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode == 0:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True)
        if ro.returncode == 0:
            return lambda: subprocess.run(["umount", str(folder)], check=True)
        subprocess.run(["umount", str(folder)], check=True)
    pytest.skip("root, and no read-only bind mount allowed here")


def test_a_read_only_config_directory_is_a_model_error_before_any_conversion(tmp_path, small):
    """Through real processes (a mount is seen by the processes that run after it)."""
    env = _env(tmp_path / "cache", tmp_path / "config")
    assert _cli(["models", "add", "keep", str(small)], env).returncode == 0
    other = write_small_model(tmp_path / "other.txt", WORDS, VECTORS)  # not converted yet
    undo = _read_only(tmp_path / "config")
    try:
        results = {what: _cli(args, env) for what, args in [
            ("add", ["models", "add", "other", str(other)]),
            ("remove", ["models", "remove", "keep"]),
            ("default", ["models", "default", "keep"]),
            ("query", ["neighbors", "cat", "-m", "keep", "-n", "1", "-f", "plain"]),
            ("list", ["models", "list", "-f", "json"])]}
    finally:
        undo()
    for what in ("add", "remove", "default"):
        result = results[what]
        assert result.returncode == ExitStatus.MODEL, (what, result.stderr)
        line = _one_error_line(result.stderr)
        assert result.stderr == line + "\n"  # nothing converted before the refusal
        assert f"cannot change the model registry {tmp_path / 'config' / 'models.json'}" in line
        assert "writable" in line
    # reading it still works
    assert (results["query"].returncode, results["query"].stdout) == (0, "dog\n")
    assert results["list"].returncode == 0
    assert set(json.loads((tmp_path / "config" / "models.json").read_text())["models"]) == {
        "keep"}


def test_a_config_directory_that_cannot_be_one_is_a_model_error(runner, tmp_path, small,
                                                                 monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("EMBEDCLI_CONFIG_DIR", str(blocker / "config"))
    for args in (["models", "add", "x", str(small)], ["models", "default", "glove-6b-50d"],
                 ["models", "list"], ["neighbors", "cat"]):
        _only_an_error(run(runner, *args), ExitStatus.MODEL,
                       f"the config directory {blocker / 'config'} is not a directory")


_SCALARS = (st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats()
            | st.text(max_size=6))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
_NAMES = st.sampled_from(["a", "b", "c"])


def _registry_json(small: str) -> st.SearchStrategy[bytes]:
    entry = st.fixed_dictionaries({"path": st.sampled_from([small, "a", "b", "c", ""]) | _JSON},
                                  optional={
        "dtype": st.sampled_from(["float32", "float16"]) | _JSON,
        "limit": st.integers(-2, 5) | _JSON,
        "trust": st.booleans() | _JSON,
        "unicode_errors": st.sampled_from(["strict", "replace"]) | _JSON,
        "identity": _JSON}) | _JSON
    registry = st.fixed_dictionaries({}, optional={
        "default": _NAMES | _JSON, "models": st.dictionaries(_NAMES, entry, max_size=3) | _JSON})
    return st.one_of(
        (registry | _JSON).map(lambda v: json.dumps(v).encode("utf-8")),
        st.binary(max_size=24))


@pytest.fixture(scope="module")
def property_model(tmp_path_factory) -> Path:
    return write_small_model(tmp_path_factory.mktemp("prop") / "small.txt", WORDS, VECTORS)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_registry_content_gives_a_documented_status(runner, tmp_path, fresh_cache,
                                                        property_model, data):
    """Random JSON (and bytes) as models.json: listing, adding, querying a registered name
    and removing one end with 0, 1, 2 or 3, never 70; an error is one line."""
    content = data.draw(_registry_json(str(property_model)), label="models.json")
    name = data.draw(_NAMES, label="name")
    _registry(tmp_path, content)
    for args in (["models", "list", "-f", "json"], ["neighbors", "cat", "-m", name, "-n", "1"],
                 ["models", "info", name, "-f", "json"], ["models", "add", "new",
                                                          str(property_model)],
                 ["models", "remove", name], ["models", "default", name]):
        result = run(runner, *args)
        assert result.exit_code in (0, 1, 2, 3), (args, result.exit_code, result.stderr)
        assert "Traceback" not in result.stderr
        if result.exit_code:
            _one_error_line(result.stderr)
            assert result.stdout == ""


# --------------------------------------------------------------------------- 3. the cache


def _entry(cache: Path) -> Path:
    (entry,) = [p for p in (cache / "models").iterdir() if not p.name.startswith(".")]
    return entry


def _rewrite(entry: Path, name: str, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """Change an array file in place, keeping its size (the damage a size check misses)."""
    before = (entry / name).stat().st_size
    np.save(entry / name, change(np.load(entry / name).copy()))
    assert (entry / name).stat().st_size == before


def _set(index: Callable[[np.ndarray], int], value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(a: np.ndarray) -> np.ndarray:
        a[index(a)] = value
        return a
    return change


def _flip_vocab_byte(entry: Path, word: bytes) -> None:
    vocab = bytearray((entry / "vocab.txt").read_bytes())
    at = vocab.index(b"\n" + word + b"\n") + 2
    vocab[at] ^= 0x01  # "dog" -> "dng": one byte, same size
    (entry / "vocab.txt").write_bytes(bytes(vocab))


def _edit_meta(entry: Path, **changes) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    (entry / "meta.json").write_text(json.dumps(meta | changes))


def _row_of(word: str) -> int:
    return WORDS.index(word)


DAMAGE = {
    "reversed rows": lambda e: _rewrite(e, "vectors.npy", lambda a: a[::-1].copy()),
    "NaN rows": lambda e: _rewrite(e, "vectors.npy", lambda a: np.full_like(a, np.nan)),
    "one NaN row": lambda e: _rewrite(e, "vectors.npy", _set(lambda a: _row_of("dog"), np.nan)),
    "zeroed norms": lambda e: _rewrite(e, "norms.npy", np.zeros_like),
    "zeroed hash table": lambda e: _rewrite(e, "word_buckets.npy", np.zeros_like),
    "zeroed word order": lambda e: _rewrite(e, "word_order.npy", np.zeros_like),
    "a byte of the queried word": lambda e: _flip_vocab_byte(e, b"cat"),
    "a byte of an answer word": lambda e: _flip_vocab_byte(e, b"dog"),
    "an offset out of range": lambda e: _rewrite(e, "offsets.npy",
                                                 _set(lambda a: _row_of("cat") + 1, 10**12)),
    "an offset that is negative": lambda e: _rewrite(e, "offsets.npy",
                                                     _set(lambda a: _row_of("dog"), -5)),
    "a row out of range in word_order": lambda e: _rewrite(
        e, "word_order.npy", _set(lambda a: int(np.flatnonzero(a == _row_of("cat"))[0]), 10**9)),
    "a negative row in word_order": lambda e: _rewrite(
        e, "word_order.npy", _set(lambda a: int(np.flatnonzero(a == _row_of("cat"))[0]), -3)),
    "exact values": lambda e: _rewrite(e, "raw_steps.npy", lambda a: 255 - a),
    "meta count a string": lambda e: _edit_meta(e, count="7"),
    "meta dim negative": lambda e: _edit_meta(e, dim=-1),
    "meta files a list": lambda e: _edit_meta(e, files=[1]),
    "meta checksums missing": lambda e: _edit_meta(e, crc32=None),
    "meta notes a number": lambda e: _edit_meta(e, notes=5),
    "meta a list": lambda e: (e / "meta.json").write_text("[1]"),
    "meta format a string": lambda e: _edit_meta(e, format="4"),
    "meta not UTF-8": lambda e: (e / "meta.json").write_bytes(b"\xff\xfe{}"),
}
QUERY = ["neighbors", "cat", "-n", "3", "-f", "json"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damage_in_a_small_entry_is_found_on_opening_and_rebuilt(runner, fresh_cache, small,
                                                                  kind):
    """An entry whose files are all smaller than the sample is checked in full on opening:
    any damage is rebuilt at once, with a note, and the answer is the right one."""
    good = run(runner, *QUERY, "-m", str(small))
    assert good.exit_code == 0
    DAMAGE[kind](_entry(fresh_cache))
    again = run(runner, *QUERY, "-m", str(small))
    assert again.exit_code == 0, again.stderr
    assert again.stdout == good.stdout  # never a wrong answer
    assert f"the cache for {small} is damaged (" in again.stderr
    assert "; rebuilding it" in again.stderr.splitlines()[0]
    assert run(runner, *QUERY, "-m", str(small)).stderr == ""  # rebuilt: sound again


# damage that opening a large entry finds: the file's sampled checksum, its header, the
# shapes, the ends of the vocabulary and its table, meta.json
FOUND_ON_OPENING = ["reversed rows", "NaN rows", "zeroed norms", "zeroed hash table",
                    "zeroed word order", "exact values", "meta count a string",
                    "meta dim negative", "meta files a list", "meta checksums missing",
                    "meta notes a number", "meta a list", "meta not UTF-8",
                    "meta format a string"]


@pytest.mark.parametrize("kind", FOUND_ON_OPENING)
def test_damage_in_a_large_entry_that_opening_finds_is_rebuilt(runner, large_entry, large,
                                                                kind):
    good = run(runner, *QUERY, "-m", str(large))
    assert good.exit_code == 0 and good.stderr == ""  # the copied entry is used
    DAMAGE[kind](large_entry)
    again = run(runner, *QUERY, "-m", str(large))
    assert (again.exit_code, again.stdout) == (0, good.stdout), again.stderr
    assert f"the cache for {large} is damaged (" in again.stderr and "rebuilding" in again.stderr


def _unsampled(path: Path, start: int, end: int) -> bool:
    """Whether bytes [start, end) of ``path`` lie outside what opening it reads."""
    from embedcli.models import sampled_ranges

    return all(end <= lo or start >= hi for lo, hi in sampled_ranges(path.stat().st_size))


def _npy_data(path: Path) -> int:
    """Where a .npy file's data begins."""
    with open(path, "rb") as fh:
        np.lib.format.read_array_header_1_0(fh) if np.lib.format.read_magic(fh) == (1, 0) \
            else pytest.fail(f"{path}: not a version 1.0 .npy file")
        return fh.tell()


def _targets(entry: Path) -> tuple[int, int]:
    """A word of the large model and its nearest neighbour whose bytes (in vocab.txt,
    their offsets, their places in word_order) opening does not read: damage there is
    found only by the answer's own checks (or by models check)."""
    offsets, order = np.load(entry / "offsets.npy"), np.load(entry / "word_order.npy")
    at = {f: _npy_data(entry / f) for f in ("offsets.npy", "word_order.npy")}

    def hidden(row: int) -> bool:
        where = int(np.flatnonzero(order == row)[0])
        return (_unsampled(entry / "vocab.txt", int(offsets[row]) - 1, int(offsets[row + 1]))
                and _unsampled(entry / "offsets.npy", at["offsets.npy"] + 8 * row,
                               at["offsets.npy"] + 8 * (row + 2))
                and _unsampled(entry / "word_order.npy", at["word_order.npy"] + 4 * where,
                               at["word_order.npy"] + 4 * where + 4))

    vectors = np.load(entry / "vectors.npy")  # unit rows: cosine is the dot product
    for row in range(1000, 29000, 97):
        if not hidden(row):
            continue
        scores = vectors @ vectors[row]
        scores[row] = -np.inf
        neighbour = int(np.argmax(scores))
        if hidden(neighbour):
            return row, neighbour
    pytest.fail("no word of the large model lies outside the sampled bytes")


def _flip_byte_of(entry: Path, row: int) -> None:
    vocab = bytearray((entry / "vocab.txt").read_bytes())
    vocab[int(np.load(entry / "offsets.npy")[row]) + 1] ^= 0x01  # one byte, same size
    (entry / "vocab.txt").write_bytes(bytes(vocab))


def _in_order(row: int) -> Callable[[np.ndarray], int]:
    return lambda order: int(np.flatnonzero(order == row)[0])


# damage that only an answer finds: (what, damage(entry, queried row, answer row))
FOUND_ANSWERING: dict[str, Callable[[Path, int, int], None]] = {
    "a byte of the queried word": lambda e, q, a: _flip_byte_of(e, q),
    "a byte of an answer word": lambda e, q, a: _flip_byte_of(e, a),
    "an offset out of range": lambda e, q, a: _rewrite(
        e, "offsets.npy", _set(lambda _: q + 1, 10**12)),
    "an offset that is negative": lambda e, q, a: _rewrite(e, "offsets.npy",
                                                          _set(lambda _: a, -5)),
    "a row out of range in word_order": lambda e, q, a: _rewrite(
        e, "word_order.npy", _set(_in_order(q), 10**9)),
    "a negative row in word_order": lambda e, q, a: _rewrite(
        e, "word_order.npy", _set(_in_order(q), -3)),
}


@pytest.mark.parametrize("kind", FOUND_ANSWERING)
def test_damage_that_an_answer_finds_is_a_model_error_and_the_next_run_rebuilds(
        runner, large_entry, large, kind):
    """One value changed in a large file, where the sample opening reads does not look:
    the query whose answer depends on it fails (the cache is removed), and the next run
    converts again and answers rightly."""
    entry = large_entry
    queried, answer = _targets(entry)
    word = (entry / "vocab.txt").read_bytes().split(b"\n")[queried + 1].decode()
    query = ["neighbors", word, "-m", str(large), "-n", "3", "-f", "json"]
    good = run(runner, *query)
    assert good.exit_code == 0 and good.stderr == ""
    assert json.loads(good.stdout)["results"][0]["word"] == (entry / "vocab.txt").read_bytes(
        ).split(b"\n")[answer + 1].decode()  # the neighbour _targets found
    FOUND_ANSWERING[kind](entry, queried, answer)
    # the command finds the damage while answering, removes the entry, converts again and
    # answers rightly in the same run; a batch line fails alone (status 3) instead
    again = run(runner, *query)
    assert (again.exit_code, again.stdout) == (0, good.stdout), again.stderr
    assert again.stderr.startswith(f"embedcli: note: the cache of {large} in {entry} is "
                                   "damaged (")
    assert "it has been removed, and is converted again when next used" in again.stderr
    assert "converting" in again.stderr


def test_damage_that_explore_finds_while_mapping_is_rebuilt_in_the_same_run(
        runner, large_entry, large, tmp_path):
    """explore, which is not a query on the one path, retries the same way: the damage is
    found while its words are resolved, the entry removed, converted again, and the page
    written from the rebuilt model."""
    entry = large_entry
    queried, _ = _targets(entry)
    word = (entry / "vocab.txt").read_bytes().split(b"\n")[queried + 1].decode()
    _flip_byte_of(entry, queried)
    out = tmp_path / "map.html"
    again = run(runner, "explore", word, "-m", str(large), "--frequent", "20", "--out",
                str(out))
    assert again.exit_code == 0, again.stderr
    assert again.stderr.startswith(f"embedcli: note: the cache of {large} in {entry} is "
                                   "damaged (")
    assert "converting" in again.stderr and word in out.read_text("utf-8")


def test_the_vector_command_checks_the_exact_values_it_gives(runner, large_entry, large):
    good = run(runner, "vector", "cat", "-m", str(large), "-f", "json")
    entry = large_entry
    raw = bytearray((entry / "raw_steps.npy").read_bytes())
    at = next(i for i in range(len(raw) // 3, len(raw))
              if _unsampled(entry / "raw_steps.npy", i, i + 1))
    raw[at] ^= 0xFF  # one byte that no sample reads
    (entry / "raw_steps.npy").write_bytes(bytes(raw))
    again = run(runner, "vector", "cat", "-m", str(large), "-f", "json")
    assert (again.exit_code, again.stdout) == (0, good.stdout), again.stderr  # rebuilt
    assert "raw_steps.npy does not match its checksum" in again.stderr.splitlines()[0]


def test_models_check_is_0_for_a_sound_cache_and_1_for_none(runner, fresh_cache, small):
    none = run(runner, "models", "check", str(small))
    _only_an_error(none, ExitStatus.NO_ANSWER, "no cache entry yet")
    assert run(runner, "neighbors", "cat", "-m", str(small)).exit_code == 0
    sound = run(runner, "models", "check", str(small))
    assert sound.exit_code == 0 and sound.stdout == ""
    assert sound.stderr.startswith(f"embedcli: the cache of {small} is sound: 9 files, ")


@pytest.mark.parametrize("name", ["vectors.npy", "norms.npy", "vocab.txt", "offsets.npy",
                                  "word_buckets.npy", "word_order.npy", "raw_steps.npy",
                                  "raw_fixes.npy"])
def test_models_check_names_the_damaged_file_and_removes_the_entry(runner, large_entry,
                                                                    large, name):
    """One byte changed in a file (outside what opening samples, for files larger than
    the sample): ``models check`` reads every byte and names the file."""
    entry = large_entry
    assert run(runner, "models", "check", str(large)).exit_code == 0
    data = bytearray((entry / name).read_bytes())
    at = next(i for i in range(len(data) // 2, len(data)) if _unsampled(entry / name, i, i + 1)
              or len(data) <= 65536)
    data[at] ^= 0x10
    (entry / name).write_bytes(bytes(data))
    _only_an_error(run(runner, "models", "check", str(large)), ExitStatus.MODEL,
                   f"the cache of {large} in {entry} is damaged ({name} does not match its "
                   "checksum)")
    assert not entry.exists()  # the next run converts again (as the tests above show)


def test_models_check_takes_registered_names_and_the_loading_options(runner, fresh_cache,
                                                                    small):
    assert run(runner, "models", "add", "s", str(small), "--dtype", "float16").exit_code == 0
    assert run(runner, "models", "check", "s").exit_code == 0
    # the same file read another way is another entry, not converted yet
    _only_an_error(run(runner, "models", "check", str(small), "--limit", "3"),
                   ExitStatus.NO_ANSWER, "nothing to check")


def test_opening_a_cache_costs_no_more_than_before(bundled, session_cache):
    """What opening checks is O(1) or a sample: opening the bundled model stays about a
    millisecond (as before checksums), far from the 35 ms a CRC of its matrix costs."""
    from embedcli.models import entry_dir_for, open_entry, resolve

    source = resolve("glove-6b-50d")
    times = []
    for _ in range(9):
        started = time.perf_counter()
        model, problem = open_entry(entry_dir_for(source), source)
        times.append(time.perf_counter() - started)
        assert model is not None, problem
    assert sorted(times)[4] < 0.010, times


# --------------------------------------------------------------------------- 4. the sweep


def _temporaries(cache: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(cache / "models") if ".tmp-" in n)
    except FileNotFoundError:
        return []


def _published(cache: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(cache / "models") if not n.startswith("."))
    except FileNotFoundError:
        return []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "X"


def _signal_while_writing(model: Path, env: dict[str, str], sig: int
                          ) -> tuple[list[str], int | None]:
    """Start a conversion, and when its temporary directory exists, stop it (SIGSTOP),
    check that it is still there and nothing is published, and send ``sig`` (then
    SIGCONT, for the signals a stopped process would hold). Returns the temporaries seen
    at the signal and the status; retries if the conversion was too quick to catch."""
    cache = Path(env["EMBEDCLI_CACHE_DIR"])
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-m", "embedcli", "neighbors", "cat", "-m",
                                 str(model)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not _temporaries(cache) and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.0005)
            proc.send_signal(signal.SIGSTOP)
            while _state(proc.pid) not in "TtZX":
                time.sleep(0.0005)
            seen, alive = _temporaries(cache), proc.poll() is None
            if alive and seen and not _published(cache):
                proc.send_signal(sig)
                proc.send_signal(signal.SIGCONT)
                return seen, proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
        for leftover in (cache / "models").iterdir():  # too late: start again
            subprocess.run(["rm", "-rf", str(leftover)], check=True)
    pytest.fail("never caught the conversion while it wrote its temporary directory")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP],
                         ids=["KILL", "TERM", "HUP"])
def test_a_conversion_killed_while_writing_is_swept_by_the_next(tmp_path, large, sig):
    env = _env(tmp_path / "cache", tmp_path / "config")
    seen, status = _signal_while_writing(large, env, sig)
    assert status in (-sig, 128 + sig, ExitStatus.INTERRUPTED), status  # the signal ended it
    (temporary,) = seen
    left = _temporaries(tmp_path / "cache")
    if sig == signal.SIGKILL:  # nothing can clean up after SIGKILL: it is left
        assert left == [temporary]
    assert left in ([], [temporary])  # TERM and HUP may clean up themselves (as Ctrl-C)
    again = _cli(["neighbors", "cat", "-m", str(large), "-n", "1", "-f", "plain"], env)
    assert again.returncode == 0 and again.stdout == "dog\n", again.stderr
    assert "converting" in again.stderr
    assert _temporaries(tmp_path / "cache") == []  # swept
    assert len(_published(tmp_path / "cache")) == 1
    pid = temporary.split(".tmp-", 1)[1].split("-")[0]
    assert _state(int(pid)) == "X"  # it named its process, which had gone


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_the_sweep_keeps_the_temporaries_of_live_processes(runner, fresh_cache, small):
    """Only what no running process owns goes: a dead pid, a reused pid (another start
    time), an unowned one untouched for over an hour; a live process's stays, and so does
    an unowned fresh one (an older embedcli may be writing it)."""
    from embedcli.models import owner_tag

    models = fresh_cache / "models"
    models.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "120"])
    finished = subprocess.Popen(["true"])
    finished.wait()
    try:
        live, mine = owner_tag(sleeper.pid), owner_tag()
        pid, start, machine = mine.split("-")
        names = {
            "live": f".x-1.tmp-{live}-abc123", "this process": f".x-2.tmp-{mine}-abc123",
            "dead": f".x-3.tmp-{finished.pid}-{start}-{machine}-abc123",
            "reused pid": f".x-4.tmp-{pid}-{int(start) + 1}-{machine}-abc123",
            "old removal": f".x-5.old-{finished.pid}-{start}-{machine}-abc123",
            "unowned, fresh": ".x-6.tmp-abc123", "unowned, old": ".x-7.tmp-def456",
            "another machine, old": f".x-8.tmp-{pid}-{start}-00000000-abc123",
            "another machine, fresh": f".x-9.tmp-{pid}-{start}-00000000-def456",
        }
        aged = {"unowned, old", "another machine, old"}  # untouched for two hours
        for what, name in names.items():
            (models / name).mkdir()
            (models / name / "vectors.npy").write_bytes(b"x" * 1000)
            if what in aged:
                for p in (models / name / "vectors.npy", models / name):
                    os.utime(p, (time.time() - 7200, time.time() - 7200))
        result = run(runner, "neighbors", "cat", "-m", str(small), "-n", "1", "-f", "plain")
        assert result.exit_code == 0 and "converting" in result.stderr
        kept = {what for what, name in names.items() if (models / name).exists()}
    finally:
        sleeper.kill()
        sleeper.wait()
    assert kept == {"live", "this process", "unowned, fresh", "another machine, fresh"}


# --------------------------------------------------------------------------- 5. pickles


@pytest.fixture
def gensim_save(tmp_path) -> Path:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3, count=0, dtype=np.float32)
    kv.add_vectors(WORDS, np.asarray(VECTORS, dtype=np.float32))
    kv.save(str(tmp_path / "small.kv"))
    return tmp_path / "small.kv"


@pytest.mark.parametrize("args", [["neighbors", "cat", "-m", "KV"],
                                  ["models", "add", "kv", "KV"]])
def test_an_untrusted_pickle_is_refused_before_any_conversion_is_announced(
        runner, fresh_cache, tmp_path, gensim_save, args):
    result = run(runner, *[str(gensim_save) if a == "KV" else a for a in args])
    _only_an_error(result, ExitStatus.MODEL, "is a gensim save (a pickle)", "--trust")
    assert "converting" not in result.stderr
    assert _published(fresh_cache) == [] and _temporaries(fresh_cache) == []
    assert not (tmp_path / "config" / "models.json").exists()  # nothing registered
    trusted = run(runner, *[str(gensim_save) if a == "KV" else a for a in args], "--trust")
    assert trusted.exit_code == 0, trusted.stderr
