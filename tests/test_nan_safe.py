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


@pytest.mark.parametrize("dim", [1, 2, 3, 50, 300])
def test_the_one_pass_row_checks_equal_their_definition(dim):
    """_row_checks clears most rows by their squared length alone; on rows of every kind
    of value (NaN, infinities, denormals, values whose squares overflow or underflow),
    its answers are the definition's: isfinite over every value, then the squared
    length and the largest magnitude of each finite row."""
    from embedcli.readers import _LONGEST_SQUARE, _SHORTEST_PEAK, _row_checks

    rng = np.random.default_rng(dim)
    values = np.array([0, 1e-30, -1e-30, 1e-20, 1e-19, 3e-19, 1e-22, 1e19, 1.9e19, 1e30,
                       -1e30, np.inf, -np.inf, np.nan, 1, 0.5, -2, 1e-45, 1e-38], np.float32)
    rows = rng.choice(values, size=(20_000, dim)).astype(np.float32)
    scale = rng.choice([1e-20, 1e-19, 1e-18, 1e18, 1e19, 1], size=(len(rows[::7]), 1))
    rows[::7] = rng.standard_normal((len(rows[::7]), dim)) * scale
    finite = np.isfinite(rows).all(axis=1)
    zeroed = np.where(finite[:, None], rows, 0)
    with np.errstate(over="ignore", under="ignore"):
        squares = np.einsum("ij,ij->i", zeroed, zeroed)
    peak = np.abs(zeroed).max(axis=1)
    unusable = ~(squares < _LONGEST_SQUARE) | ((peak > 0) & (peak < _SHORTEST_PEAK))
    got_finite, got_unusable = _row_checks(rows, block=997)
    assert 0 < (~finite).sum() < len(rows) and 0 < unusable.sum()  # every kind is there
    np.testing.assert_array_equal(got_finite, finite)
    np.testing.assert_array_equal(got_unusable, unusable)
