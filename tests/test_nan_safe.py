"""A ranking is NaN-safe: a row that a damaged cache turned into NaN never ranks, never
shows a score that is not a number, and leaves every other answer as it was."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run, write_small_model

N, DIM = 30_000, 16


@pytest.fixture
def damaged(tmp_path, fresh_cache, runner):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    words = [f"w{i}" for i in range(N)]
    path = write_small_model(tmp_path / "m.txt", words, vectors)
    assert run(runner, "vocab", "--has", "w1", "-m", str(path)).exit_code == 0  # converts
    (entry,) = [p for p in (fresh_cache / "models").iterdir() if not p.name.startswith(".")]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return path, entry, unit


def _nan_row(entry, row):
    matrix = np.load(entry / "vectors.npy", mmap_mode="r+")
    matrix[row] = np.nan
    matrix.flush()
    del matrix


def _expected(unit, query_rows, signs, skip, bad, k):
    mean = (np.array(signs, dtype=np.float64)[:, None] * unit[query_rows]).sum(axis=0)
    scores = unit.astype(np.float64) @ (mean / np.linalg.norm(mean))
    scores[list(skip) + [bad]] = -np.inf
    return [f"w{i}" for i in np.argsort(-scores, kind="stable")[:k]]


QUERIES = [("neighbors w0", [0], [1]), ("analogy w0 - w1 + w2", [0, 1, 2], [1, -1, 1]),
           ("analogy w0 - w1 + w2 --method mul", [0, 1, 2], None)]


@pytest.mark.parametrize("entry_point", ["command", "batch"])
@pytest.mark.parametrize("query,rows,signs", QUERIES, ids=[q for q, _, _ in QUERIES])
def test_a_nan_row_never_ranks(runner, damaged, entry_point, query, rows, signs):
    path, entry, unit = damaged
    # the row nearest the query turns into NaN: it would be the first answer
    mean = (np.array(signs or [1, -1, 1])[:, None] * unit[rows]).sum(axis=0)
    scores = unit @ mean
    scores[rows] = -np.inf
    bad = int(np.argmax(scores))
    _nan_row(entry, bad)
    if entry_point == "command":
        result = run(runner, *query.split(), "-n", "10", "-m", str(path), "-f", "json")
    else:
        result = run(runner, "batch", "-m", str(path), "-f", "jsonl", input=f"{query} -n 10\n")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert "rebuilding" not in result.stderr  # the NaN row did reach the ranking
    words = [r["word"] for r in data["results"]]
    assert f"w{bad}" not in words
    assert all(r["score"] is not None for r in data["results"])
    assert len(words) == 10
    if signs is not None:  # 3CosAdd: the answers are the undamaged ones, less that row
        assert words == _expected(unit, rows, signs, rows, bad, 10)
    # the damage is real, and models check finds it
    check = run(runner, "models", "check", str(path))
    assert check.exit_code == 3 and "vectors.npy" in check.stderr
