"""Faults and load with real processes: killed conversions, and many readers of one cache."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_small_model


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    return env | {"EMBEDCLI_CACHE_DIR": str(cache)}


def _cmd(model: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "embedcli", "analogy", "king - man + woman", "-m", model,
            "-f", "json", *args]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, bundled_kv) -> Path:
    folder = tmp_path_factory.mktemp("kill")
    return write_small_model(folder / "v.txt", bundled_kv.index_to_key[:30000],
                             bundled_kv.vectors[:30000])


def test_a_conversion_killed_at_random_points_is_rebuilt_and_answers(tmp_path, model_file):
    cache = tmp_path / "cache"
    reference = subprocess.run(_cmd(str(model_file)), env=_env(tmp_path / "ref"),
                               capture_output=True, timeout=300, check=True)
    expected = json.loads(reference.stdout)
    rng = random.Random(1234)
    for delay in sorted(rng.uniform(0.2, 3.0) for _ in range(4)):
        proc = subprocess.Popen(_cmd(str(model_file)), env=_env(cache),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        again = subprocess.run(_cmd(str(model_file)), env=_env(cache), capture_output=True,
                               timeout=300)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == expected
        entries = [p for p in (cache / "models").iterdir() if not p.name.startswith(".")]
        assert len(entries) == 1


def test_eight_readers_share_the_memory_mapped_cache(bundled, session_cache, tmp_path):
    """8 processes at once: all answer, and the mapped matrix is shared, not copied 8 times."""
    # Each process answers, then waits until all 8 have answered (so all 8 map the cache at
    # the same moment), then reads its own resident (Rss) and proportional (Pss) memory.
    script = (
        "import os, re, sys, time, runpy\n"
        "barrier = sys.argv[1]\n"
        "sys.argv = ['embedcli', 'neighbors', 'cat', '-f', 'json']\n"
        "try:\n    runpy.run_module('embedcli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stdout.flush()\n"
        "open(os.path.join(barrier, str(os.getpid())), 'w').close()\n"
        "deadline = time.time() + 120\n"
        "while len(os.listdir(barrier)) < 8 and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "smaps = open('/proc/self/smaps_rollup').read()\n"
        "get = lambda k: int(re.search(k + r':\\s+(\\d+)', smaps).group(1))\n"
        "print('MEM', get('Rss'), get('Pss'), file=sys.stderr)\n"
        "time.sleep(0.5)\n")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", script, str(barrier)],
                              env=_env(session_cache), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(8)]
    results = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in results]
    answers = [json.loads(out)["results"] for out, _ in results]
    assert all(a == answers[0] for a in answers) and answers[0][0]["word"] == "dog"
    mem = [tuple(map(int, err.decode().split("MEM ")[1].split())) for _, err in results]
    rss = sum(r for r, _ in mem)  # KiB, shared pages counted in every process
    pss = sum(p for _, p in mem)  # KiB, shared pages divided among the processes sharing them
    matrix_kib = 400_000 * 50 * 4 // 1024
    assert rss > 8 * matrix_kib  # each process has the whole 78 MiB matrix mapped and resident
    # the matrix is paid for about once, not 8 times: the 8 together cost less than
    # 8 processes' private memory (Python, numpy: under 60 MiB each) plus 2 matrices
    assert pss < 8 * 60 * 1024 + 2 * matrix_kib, (rss, pss)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_million_line_batch_streams_in_constant_memory(bundled, session_cache, tmp_path):
    """1,000,000 lines through a pipe peak at the memory of 10,000 (within 10 MB)."""
    from tests.test_batch import _lines_file, _peak_rss_mb

    small = _lines_file(tmp_path / "small.txt", "similarity cat dog\n", 10_000)
    million = _lines_file(tmp_path / "million.txt", "similarity cat dog\n", 1_000_000)
    args = ["batch", "--format", "tsv"]
    small_mb, small_status = _peak_rss_mb(args, small, _env(session_cache))
    large_mb, large_status = _peak_rss_mb(args, million, _env(session_cache))
    assert small_status == large_status == 0
    assert large_mb - small_mb < 10, (small_mb, large_mb)
