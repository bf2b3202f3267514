"""Faults and load with real processes: killed conversions, and many readers of one cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PHASES as _PHASES
from tests.conftest import cache_state as _cache_state
from tests.conftest import conversion_phase as _phase
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


# Where a conversion is, seen from outside, in order. The note "converting ..." comes
# before the file is read; the entry is then written in a temporary directory
# (``models/.<entry>.tmp-*``) and renamed into place ("published"); the answer follows.


def _start(model: Path, cache: Path, log: Path, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    with open(log, "wb") as err:
        return subprocess.Popen(_cmd(str(model)), env=_env(cache), stdout=stdout, stderr=err)


def _timed_conversion(model: Path, cache: Path, log: Path) -> tuple[bytes, dict[str, float]]:
    """Convert on an empty cache, watching it: the answer, and when each phase was first
    seen (seconds from the start; polled every half millisecond)."""
    started = time.monotonic()
    proc = _start(model, cache, log, stdout=subprocess.PIPE)  # the answer is 1 KB: no stall
    seen: dict[str, float] = {}
    while (phase := _phase(proc, log, cache)) != "exited":
        seen.setdefault(phase, time.monotonic() - started)
        time.sleep(0.0005)
    seen["exited"] = time.monotonic() - started
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, log.read_text()
    assert {"reading", "writing", "published"} <= seen.keys(), seen  # each one seen
    return out, seen


def _process_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "X"
    return stat.rsplit(")", 1)[1].split()[0]


def _kill_during(model: Path, cache: Path, log: Path, phase: str,
                 delay: float) -> tuple[str, bool, int | None, dict[str, int]]:
    """Start a conversion on the empty ``cache``, wait until it is in ``phase``, wait
    ``delay`` more, then kill it with SIGKILL. Returns the phase it was killed in, whether
    it was running right before the kill (poll() None), its status after it, and the files
    (and sizes) of its temporary directory at the moment of the kill.

    Right before the kill the process is stopped (SIGSTOP), so that what is looked at (not
    exited, a temporary directory, no entry) is exactly the state the kill finds; a stopped
    process runs no further, so the cache is left as a plain SIGKILL at that moment would
    leave it."""
    proc = _start(model, cache, log)
    try:
        deadline = time.monotonic() + 120
        while _PHASES.index(_phase(proc, log, cache)) < _PHASES.index(phase):
            assert time.monotonic() < deadline, f"never reached {phase}: {log.read_text()}"
            time.sleep(0.0005)
        time.sleep(delay)
        proc.send_signal(signal.SIGSTOP)  # does nothing if it has been reaped
        while _process_state(proc.pid) not in "TtZX":  # stopped, or exited already
            assert time.monotonic() < deadline, _process_state(proc.pid)
            time.sleep(0.0005)
        killed_in = _phase(proc, log, cache)  # frozen: the state the kill finds
        files: dict[str, int] = {}
        for temporary in _cache_state(cache)[1]:
            for f in (cache / "models" / temporary).iterdir():
                files[f.name] = f.stat().st_size
        alive = proc.poll() is None  # right before the kill
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        return killed_in, alive, proc.returncode, files
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)


# (phase, fraction of that phase's measured length to wait after it is first seen)
_KILL_POINTS = [("reading", 0.5), ("writing", 0.2), ("writing", 0.45), ("writing", 0.7)]
_ATTEMPTS = 6


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_a_conversion_killed_mid_way_is_rebuilt_and_answers(tmp_path, model_file):
    """SIGKILL at measured points of a real conversion, each on an empty cache; each kill
    is checked to have come while converting (a late or early one is tried again, sooner
    or later); after it, a new run answers as an unkilled one and leaves one valid entry."""
    expected_out, seen = _timed_conversion(model_file, tmp_path / "ref", tmp_path / "ref.log")
    expected = json.loads(expected_out)
    length = {"reading": seen["writing"] - seen["reading"],  # the note until the temporary
              "writing": seen["published"] - seen["writing"]}  # the temporary until renamed
    report = [f"converted in {seen['exited']:.3f} s: " +
              ", ".join(f"{p} from {t:.3f} s" for p, t in seen.items())]
    for number, (phase, fraction) in enumerate(_KILL_POINTS):
        delay, tries = fraction * length[phase], []
        for attempt in range(_ATTEMPTS):
            cache, log = tmp_path / f"kill{number}-{attempt}", tmp_path / f"{number}-{attempt}.log"
            killed_in, alive, status, files = _kill_during(model_file, cache, log, phase, delay)
            assert killed_in != "exited" or status == 0, log.read_text()  # no failed run
            tries.append(f"{delay * 1000:.1f} ms after {phase} began: killed while {killed_in}")
            if killed_in == phase:
                break
            late = _PHASES.index(killed_in) > _PHASES.index(phase)
            delay = delay / 2 if late else delay * 1.5 + 0.002
        else:
            pytest.fail(f"no kill landed while {phase} in {_ATTEMPTS} tries "
                        f"(the conversion: {report[0]}): {tries}")
        # it was converting when killed: not exited, and (writing) its temporary entry was
        # there, unpublished; the kill is what ended it
        assert alive and status == -signal.SIGKILL, (alive, status, tries)
        entries, temporaries = _cache_state(cache)
        assert entries == [], (entries, tries)
        assert bool(temporaries) == (phase == "writing") and bool(files) == (phase == "writing")
        report.append(f"kill {number}: {'; '.join(tries)}; temporary files {files}")

        again = subprocess.run(_cmd(str(model_file)), env=_env(cache), capture_output=True,
                               timeout=300)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == expected
        # exactly one entry, and valid: the next run answers from it, converting nothing.
        # The killed run's temporary directory may stay until the next conversion sweeps it
        # (tests/test_hostile_models.py tests the sweep).
        entries, temporaries = _cache_state(cache)
        assert len(entries) == 1, entries
        assert (cache / "models" / entries[0] / "meta.json").is_file()
        cached = subprocess.run(_cmd(str(model_file)), env=_env(cache), capture_output=True,
                                timeout=300)
        assert cached.returncode == 0 and b"converting" not in cached.stderr, cached.stderr
        assert json.loads(cached.stdout) == expected
        report[-1] += f"; then one entry, {len(temporaries)} stale temporary left"
    print("\n".join(report))


def test_eight_readers_share_the_memory_mapped_cache(bundled, session_cache, tmp_path):
    """8 processes at once: all answer, and the mapped matrix is shared, not copied 8 times."""
    # Each process answers, then waits until all 8 have answered (so all 8 map the cache at
    # the same moment), then reads its own resident (Rss) and proportional (Pss) memory.
    script = (
        "import gc, os, re, sys, time, runpy\n"
        "gc.disable()  # the run's model must stay mapped while the others answer\n"
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
    assert rss > 8 * matrix_kib, mem  # each process has the whole 78 MiB matrix mapped and resident
    # the matrix is paid for about once, not 8 times: the 8 together cost less than
    # 8 processes' private memory (Python, numpy: under 60 MiB each) plus 2 matrices
    assert pss < 8 * 60 * 1024 + 2 * matrix_kib, (rss, pss)


# slow: the same streaming as test_batch.py's 200,000-line test, at five times the size
@pytest.mark.slow
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
