"""Hostile model files: each a real file written here, in every format and container.

Every case ends in one of two ways, never a third: status 3 with exactly one stderr line
``embedcli: error: ...`` that names the file, nothing on stdout and no traceback; or status
0 with the note the README documents, and the file's own values for the word asked about.
Where a fault could hang (a FIFO) or take minutes (a gigantic line), a real process runs
it under a timeout.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import json
import os
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from embedcli.errors import ExitStatus
from tests.conftest import run, write_small_model

ROOT = Path(__file__).resolve().parent.parent
WORDS = ["the", "cat", "dog", "emu", "owl", "yak"]
VECTORS = (np.arange(24, dtype=np.float32).reshape(6, 4) / 8 - 1.0) * np.float32(0.75)
DIM = VECTORS.shape[1]


@pytest.fixture(autouse=True)
def _cache(fresh_cache):
    return fresh_cache


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, bytes]:
    """The model in each format, written by gensim's own writer."""
    folder = tmp_path_factory.mktemp("originals")
    return {fmt: write_small_model(folder / fmt, WORDS, VECTORS, fmt=fmt).read_bytes()
            for fmt in ("glove", "word2vec", "binary")}


# ------------------------------------------------------------------ building the files


def _text_line(word: str, values) -> bytes:
    return (word + " " + " ".join(repr(float(v)) for v in values) + "\n").encode()


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def _header_split(data: bytes, fmt: str) -> tuple[bytes, bytes]:
    """(header line with its newline, or b"" for GloVe; the rest)."""
    if fmt == "glove":
        return b"", data
    cut = data.index(b"\n") + 1
    return data[:cut], data[cut:]


def _binary_records(data: bytes) -> tuple[bytes, list[bytes]]:
    header, rest = _header_split(data, "binary")
    records, pos = [], 0
    while pos < len(rest):
        end = rest.index(b" ", pos) + 1 + 4 * DIM
        records.append(rest[pos:end])
        pos = end
    return header, records


def first_line_short(data: bytes, fmt: str) -> bytes:  # the GloVe 49-in-50 fault
    header, rest = _header_split(data, fmt)
    lines = _lines(rest)
    lines[0] = lines[0].rsplit(b" ", 1)[0]
    return header + b"\n".join(lines) + b"\n"


def one_number_more(data: bytes, fmt: str) -> bytes:  # "of 0.3" would become a word
    header, rest = _header_split(data, fmt)
    lines = _lines(rest)
    lines[2] += b" 0.3"
    return header + b"\n".join(lines) + b"\n"


def header(text: str) -> Callable[[bytes, str], bytes]:
    def rewrite(data: bytes, fmt: str) -> bytes:
        return text.encode() + b"\n" + _header_split(data, fmt)[1]
    rewrite.__name__ = f"header {text!r}"
    return rewrite


def a_line_of_5_mib(data: bytes, fmt: str) -> bytes:
    header, rest = _header_split(data, fmt)
    lines = _lines(rest)
    lines.insert(3, b"huge" + b" 0.5" * (5 << 18))
    return header + b"\n".join(lines) + b"\n"


def row(values) -> Callable[[bytes, str], bytes]:
    """Replace the vector of 'emu' (row 3) with ``values``, in the file's own format."""
    def rewrite(data: bytes, fmt: str) -> bytes:
        vector = np.array(values, dtype=np.float64)
        if fmt == "binary":
            head, records = _binary_records(data)
            with np.errstate(over="ignore"):
                records[3] = b"emu " + vector.astype(np.float32).tobytes()
            return head + b"".join(records)
        head, rest = _header_split(data, fmt)
        lines = _lines(rest)
        lines[3] = _text_line("emu", vector)[:-1]
        return head + b"\n".join(lines) + b"\n"
    rewrite.__name__ = f"emu = {values[0]!r}..."
    return rewrite


def tabs_between_fields(data: bytes, fmt: str) -> bytes:
    head, rest = _header_split(data, fmt)
    return head + rest.replace(b" ", b"\t")


def binary_header(text: str) -> Callable[[bytes, str], bytes]:
    def rewrite(data: bytes, fmt: str) -> bytes:
        head, records = _binary_records(data)
        return text.encode() + b"\n" + b"".join(records)
    rewrite.__name__ = f"binary header {text!r}"
    return rewrite


def cut_inside_the_last_record(data: bytes, fmt: str) -> bytes:
    return data[:-5]


def cut_between_records(data: bytes, fmt: str) -> bytes:
    head, records = _binary_records(data)
    return head + b"".join(records[:-1])


def a_word_of_5_mib(data: bytes, fmt: str) -> bytes:
    head, records = _binary_records(data)
    return head + b"".join(records[:2]) + b"x" * (5 << 20)


def junk_after_the_last_record(data: bytes, fmt: str) -> bytes:
    return data + b"junk"


def byte_order_mark(data: bytes, fmt: str) -> bytes:
    return b"\xef\xbb\xbf" + data


@dataclass(frozen=True)
class Case:
    fault: Callable[[bytes, str], bytes]
    formats: tuple[str, ...]
    message: str  # in the error line (status 3), or the note (status 0)
    ok: bool = False  # status 0, with the note
    word: str = "cat"  # asked about; its vector must be the file's own

    def __str__(self) -> str:
        return self.fault.__name__


TEXT = ("glove", "word2vec")
CASES = [
    # lines that disagree with the dimension: never "words with spaces"
    Case(first_line_short, ("glove",), "line 2 has a word and 4 numbers, but line 1 has a "
                                       "word and 3"),
    Case(first_line_short, ("word2vec",), "line 2 has a word and 3 numbers, but its header "
                                          "says 4 dimensions"),
    Case(header("6 3"), ("word2vec",), "line 2 has a word and 4 numbers, but its header "
                                       "says 3 dimensions"),
    Case(header("6 5"), ("word2vec",), "line 2 has a word and 4 numbers, but its header "
                                       "says 5 dimensions"),
    Case(one_number_more, TEXT, "has a word and 5 numbers, but"),
    Case(header("-3 4"), ("word2vec",), "is no 'COUNT DIM' header: it says a count below zero"),
    Case(header("6 0"), ("word2vec",), "is no 'COUNT DIM' header: it says 0 dimensions"),
    Case(header("6 99999999"), ("word2vec",), "it says 99,999,999 dimensions"),
    Case(binary_header("6 0"), ("binary",), "is no 'COUNT DIM' header: it says 0 dimensions"),
    Case(binary_header("6 3"), ("binary",), "its header's dimension, 3, is wrong"),
    # header counts: every word, with a note (never an allocation of billions of rows)
    Case(header("3 4"), ("word2vec",), "the header says 3 words but the file has 6; read all 6",
         ok=True, word="yak"),
    Case(header("3000000000 4"), ("word2vec",), "the header says 3,000,000,000 words but the "
                                                "file has 6", ok=True, word="yak"),
    Case(binary_header("3 4"), ("binary",), "the header says 3 words but the file has 6; read "
                                            "all 6", ok=True, word="yak"),
    Case(binary_header("9 4"), ("binary",), "the header says 9 words but the file has 6",
         ok=True, word="yak"),
    Case(binary_header("3000000000 4"), ("binary",), "the header says 3,000,000,000 words but "
                                                     "the file has 6", ok=True, word="yak"),
    # cut off
    Case(cut_inside_the_last_record, ("binary",), "it ends in the middle of record 6"),
    Case(cut_between_records, ("binary",), "the header says 6 words but the file has 5",
         ok=True, word="owl"),
    Case(junk_after_the_last_record, ("binary",), "it ends in the middle of record 7"),
    # lines and words too long to be real: named at once
    Case(a_line_of_5_mib, TEXT, "is longer than 4 MiB"),
    Case(a_word_of_5_mib, ("binary",), "is longer than 4 MiB"),
    # values: 1e39 is infinite in float32; 1e30 and 1e-30 have no float32 length
    Case(row([1e39, 0, 0, 0]), TEXT, "1 vectors hold NaN or infinity; they are set to zero",
         ok=True),
    Case(row([float("inf"), 0, 0, 0]), ("binary",), "1 vectors hold NaN or infinity", ok=True),
    Case(row([1e30] * DIM), TEXT + ("binary",), "1 vectors have a length float32 cannot hold",
         ok=True),
    Case(row([1e-30] * DIM), TEXT + ("binary",), "1 vectors have a length float32 cannot "
                                                 "hold", ok=True),
    # what gensim would split otherwise, or keep in a word
    Case(tabs_between_fields, TEXT, "tabs or runs of spaces between fields", ok=True,
         word="yak"),
    Case(byte_order_mark, ("binary",), "a byte-order mark before the header", ok=True,
         word="the"),
]
CONTAINERS = ("plain", "gzip", "bz2", "zip")


def contained(tmp_path: Path, data: bytes, container: str) -> tuple[str, Path]:
    """Write ``data`` as a plain, gzip, bz2 file or zip member: (the --model value, the
    path on disk)."""
    if container == "gzip":
        path = tmp_path / "model.gz"
        path.write_bytes(gzip.compress(data, compresslevel=1))
    elif container == "bz2":
        path = tmp_path / "model.bz2"
        path.write_bytes(bz2.compress(data, compresslevel=1))
    elif container == "zip":
        path = tmp_path / "models.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("vectors.txt", data)
        return f"{path}:vectors.txt", path
    else:
        path = tmp_path / "model.vec"
        path.write_bytes(data)
    return str(path), path


def assert_one_error_naming(result, path: Path, status: int = ExitStatus.MODEL) -> str:
    assert result.exit_code == status, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("embedcli: error:")]
    assert len(errors) == 1, result.stderr
    assert str(path) in errors[0], errors[0]
    return errors[0]


def ask(runner, spec: str, word: str = "cat"):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = run(runner, "vector", word, "-m", spec, "-f", "json")
    leaked = [w for w in seen if issubclass(w.category, RuntimeWarning)]
    assert not leaked, [str(w.message) for w in leaked]
    return result


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("case,fmt", [(c, f) for c in CASES for f in c.formats], ids=str)
def test_a_hostile_file_is_an_error_or_read_with_a_note(runner, tmp_path, originals, case,
                                                        fmt, container):
    data = case.fault(originals[fmt], fmt)
    spec, path = contained(tmp_path, data, container)
    result = ask(runner, spec, case.word)
    if not case.ok:
        assert case.message in assert_one_error_naming(result, path)
        return
    assert result.exit_code == 0, result.stderr
    assert "error" not in result.stderr and "Warning" not in result.stderr
    assert case.message in result.stderr
    answer = np.array(json.loads(result.stdout)["vector"], dtype=np.float32)
    np.testing.assert_array_equal(answer, VECTORS[WORDS.index(case.word)])


# ------------------------------------------------------------------ damaged containers


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _stored_zip(data: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("vectors.txt", data)
    return buffer.getvalue()


DAMAGE = {
    "gzip cut in half": ("model.gz", lambda d: gzip.compress(d)[: len(gzip.compress(d)) // 2],
                         "is cut off"),
    "gzip without its trailer": ("model.gz", lambda d: gzip.compress(d)[:-4], "is cut off"),
    "gzip with a corrupt byte": ("model.gz", lambda d: _flip(gzip.compress(d), 30), "cannot "
                                 "read"),
    "gzip with a bad CRC": ("model.gz", lambda d: _flip(gzip.compress(d), -6), "corrupt"),
    "gzip of nothing": ("model.gz", lambda d: gzip.compress(b""), "is empty"),
    "bz2 cut in half": ("model.bz2", lambda d: bz2.compress(d)[: len(bz2.compress(d)) // 2],
                        "is cut off"),
    "bz2 with a corrupt byte": ("model.bz2", lambda d: _flip(bz2.compress(d), 40), "cannot "
                                "read"),
    "zip member with a bad CRC": ("models.zip:vectors.txt",
                                  lambda d: _flip(_stored_zip(d), 60), "the zip archive is "
                                  "damaged (Bad CRC-32"),
    "zip cut in half": ("models.zip:vectors.txt",
                        lambda d: _stored_zip(d)[: len(_stored_zip(d)) // 2], "zip archive"),
    "only looks like a zip": ("models.zip:vectors.txt", lambda d: b"PK\x03\x04" + b"junk" * 50,
                              "it looks like a zip archive, but is none"),
    "only looks like a zip, no member": ("models.zip", lambda d: b"PK\x03\x04" + b"junk" * 50,
                                         "it looks like a zip archive, but is none"),
}


@pytest.mark.parametrize("fmt", ["glove", "word2vec", "binary"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_container_is_a_model_error_naming_the_file(runner, tmp_path, originals,
                                                              damage, fmt):
    name, make, message = DAMAGE[damage]
    file_name, _, member = name.partition(":")
    path = tmp_path / file_name
    path.write_bytes(make(originals[fmt] * 50))  # big enough for a cut to land in the data
    result = ask(runner, f"{path}:{member}" if member else str(path))
    assert message in assert_one_error_naming(result, path)


def test_an_io_error_while_reading_is_a_model_error_naming_the_file(runner, tmp_path,
                                                                    originals, monkeypatch):
    from embedcli import readers

    path = tmp_path / "v.txt"
    path.write_bytes(originals["word2vec"])

    def failing(self, size=-1):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(readers._CountingReader, "read", failing)
    error = assert_one_error_naming(ask(runner, str(path)), path)
    assert "Input/output error" in error


@pytest.mark.parametrize("kind", ["directory", "character device", "symlink to a directory"])
def test_a_path_that_is_no_regular_file_is_refused(runner, tmp_path, kind):
    path = {"directory": tmp_path, "character device": Path(os.devnull),
            "symlink to a directory": tmp_path / "link"}[kind]
    if kind.startswith("symlink"):
        (tmp_path / "dir").mkdir()
        path.symlink_to(tmp_path / "dir")
    assert_one_error_naming(ask(runner, str(path)), path)


# ------------------------------------------------------------------ real processes


def _run(args: list[str], tmp_path: Path, timeout: float = 60) -> tuple[int, str, str, float]:
    env = {k: v for k, v in os.environ.items() if k != "EMBEDCLI_MODEL"}
    env |= {"EMBEDCLI_CACHE_DIR": str(tmp_path / "process-cache"), "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "embedcli", *args], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout, out.stderr, time.monotonic() - started


def _one_error(status: int, stdout: str, stderr: str, path: Path) -> str:
    assert status == ExitStatus.MODEL, (status, stderr)
    assert stdout == "" and "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("embedcli: error:")]
    assert len(errors) == 1 and str(path) in errors[0], stderr
    return errors[0]


@pytest.mark.parametrize("how", ["the FIFO", "a link to the FIFO"])
def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path, how):
    fifo = tmp_path / "vectors.txt"
    os.mkfifo(fifo)
    path = fifo if how == "the FIFO" else tmp_path / "link.txt"
    if path != fifo:
        path.symlink_to(fifo)
    try:
        status, stdout, stderr, took = _run(["vocab", "-m", str(path)], tmp_path, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("embedcli waited on the FIFO (it opened it for reading)")
    assert "named pipe (FIFO)" in _one_error(status, stdout, stderr, path)
    assert took < 20


def test_a_small_gzip_of_one_gigantic_line_is_refused_at_once(tmp_path):
    path = tmp_path / "one-line.txt.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(b"word")
        block = b" 0.5" * (1 << 18)  # 1 MiB
        for _ in range(100):  # a 100 MB line; the file is 0.5 MB
            out.write(block)
        out.write(b"\n")
    assert path.stat().st_size < 4 << 20
    try:
        status, stdout, stderr, took = _run(["vocab", "-m", str(path)], tmp_path, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a 100 MB line took more than a minute")
    assert "line 1 of" in _one_error(status, stdout, stderr, path)
    assert took < 20, took  # the read stops at 4 MiB (it took 42 s, and 3.4 GB, before)


def test_values_that_overflow_float32_leak_no_warning(tmp_path):
    """gensim's "RuntimeWarning: overflow encountered in cast", with a line of its source,
    went to stderr for a value of 1e39."""
    path = tmp_path / "v.txt"
    path.write_bytes(b"".join(_text_line(w, v) for w, v in zip(WORDS, VECTORS))
                     + b"big 1e39 0 0 0\nlong " + b" ".join([b"1e30"] * DIM) + b"\n")
    status, stdout, stderr, _ = _run(["vocab", "-m", str(path)], tmp_path)
    assert status == 0, stderr
    assert stdout.split() == WORDS + ["big", "long"]
    assert "Warning" not in stderr and "keyedvectors.py" not in stderr
    assert "1 vectors hold NaN or infinity; they are set to zero" in stderr
    assert "1 vectors have a length float32 cannot hold" in stderr
