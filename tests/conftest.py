"""Shared fixtures: every test runs against temporary cache and config directories.

The bundled model is converted once per session into a shared cache directory; tests
that need a fresh cache ask for ``fresh_cache``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from embedcli.cli.app import app

BUNDLED_CACHE = "bundled_cache"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(BUNDLED_CACHE)


@pytest.fixture(scope="session")
def _matplotlib_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mpl")


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, session_cache: Path, tmp_path: Path,
             _matplotlib_dir: Path) -> None:
    # matplotlib makes its config and cache folders where it is first imported: not home
    monkeypatch.setenv("MPLCONFIGDIR", str(_matplotlib_dir))
    monkeypatch.setenv("EMBEDCLI_CACHE_DIR", str(session_cache))
    monkeypatch.setenv("EMBEDCLI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("EMBEDCLI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("EMBEDCLI_MODEL", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("EMBEDCLI_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def bundled_kv():
    """gensim's KeyedVectors over the bundled GloVe vectors: the reference for every score."""
    import pyarrow.parquet as pq
    from gensim.models import KeyedVectors

    from embedcli.models import resolve

    data = resolve("glove-6b-50d").location.path
    words = pq.read_table(data / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(data / "glove_6B_50d_emb.npy")
    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(words, vectors)
    return kv


@pytest.fixture(scope="session")
def bundled(session_cache: Path):
    """The bundled model through embedcli's cache (converted once per session)."""
    import os

    from embedcli.models import load

    old = os.environ.get("EMBEDCLI_CACHE_DIR")
    os.environ["EMBEDCLI_CACHE_DIR"] = str(session_cache)
    try:
        return load("glove-6b-50d")
    finally:
        if old is None:
            del os.environ["EMBEDCLI_CACHE_DIR"]
        else:
            os.environ["EMBEDCLI_CACHE_DIR"] = old


@pytest.fixture
def runner(bundled) -> CliRunner:
    """A CliRunner; the bundled model's shared cache is already built."""
    return CliRunner()


def run(runner: CliRunner, *args: str, input: str | None = None):
    """Invoke the CLI in-process; stdout and stderr are kept apart."""
    return runner.invoke(app, list(args), input=input)


def run_json(runner: CliRunner, *args: str) -> dict:
    result = run(runner, *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def write_small_model(path: Path, words: list[str], vectors, *, fmt: str = "word2vec") -> Path:
    """Write a real vector file through gensim's own writer.

    fmt: "word2vec" (text with a header), "glove" (text without one) or "binary".
    """
    from gensim.models import KeyedVectors

    vectors = np.asarray(vectors, dtype=np.float32)
    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(words, vectors)
    kv.save_word2vec_format(str(path), binary=fmt == "binary", write_header=fmt != "glove")
    return path


def run_with_stderr_on_a_terminal(args: list[str], env: dict[str, str],
                                  timeout: float = 120,
                                  columns: int = 100) -> tuple[int, bytes, bytes]:
    """Run ``python -m embedcli ARGS`` with stderr on a real pseudo-terminal and stdout a
    pipe: (status, stdout, everything the terminal showed)."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {k: v for k, v in env.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env |= {"TERM": "xterm", "COLUMNS": str(columns)}
    proc = subprocess.Popen([sys.executable, "-m", "embedcli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = read_terminal(master, proc, timeout)
    stdout = proc.stdout.read()
    return proc.wait(timeout=timeout), stdout, seen


def read_terminal(master: int, proc, timeout: float) -> bytes:
    """Everything a child shows on the pseudo-terminal ``master`` (its end is closed after),
    until it closes the terminal, or exits, or shows nothing for ``timeout`` seconds."""
    import os
    import select

    seen = b""
    try:
        while True:
            if select.select([master], [], [], min(timeout, 1.0))[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
            else:
                timeout -= 1.0
                if timeout <= 0:
                    break
    finally:
        os.close(master)
    return seen


# The stages of a conversion, in order, as a test that interrupts one sees them.
PHASES = ("starting", "reading", "writing", "published", "exited")


def files_at_most(size: int):
    """A ``preexec_fn`` for a child that may write no file larger than ``size`` bytes
    (RLIMIT_FSIZE): a write past it fails with EFBIG ("File too large"), as on a full disk,
    instead of killing the child with SIGXFSZ."""
    import resource
    import signal

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def cache_state(cache: Path) -> tuple[list[str], list[str]]:
    """The published entries and the temporary conversion directories in ``cache``."""
    try:
        names = os.listdir(cache / "models")
    except FileNotFoundError:
        return [], []
    return ([n for n in names if not n.startswith(".")],
            [n for n in names if n.startswith(".") and ".tmp-" in n])


def conversion_phase(proc: subprocess.Popen, log: Path, cache: Path) -> str:
    if proc.poll() is not None:
        return "exited"
    entries, temporaries = cache_state(cache)
    if entries:
        return "published"
    if temporaries:
        return "writing"
    return "reading" if b"converting" in log.read_bytes() else "starting"
