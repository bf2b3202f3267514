"""Hostile output and hostile conditions, with real processes and real shells.

A catalogue: each case says what it does, and asserts the documented status, exactly one
clear stderr line, and no wrong answer (stdout empty, or the right answer):

* control characters in a model's words and in ``--model`` (ESC, OSC, BEL, C1, bidi
  overrides, TAB, ...) never reach stdout or stderr raw, in any format;
* closed and full standard streams (``<&-``, ``>&-``, ``> /dev/full``) and a reader that
  leaves a table early; ``COLUMNS=0``;
* SIGTERM and SIGHUP during a conversion (landing while its temporary directory exists),
  and at a waiting shell;
* arguments under a locale that is not UTF-8;
* parentheses; every size a user can ask for bounded before anything is allocated.

The stream and signal cases first prove that the state they claim is reached (a probe
under the same redirection; a process frozen in the state the signal finds).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedcli.errors import ExitStatus, safe
from tests.conftest import PHASES as _PHASES
from tests.conftest import cache_state as _cache_state
from tests.conftest import conversion_phase as _phase
from tests.conftest import write_small_model

EMBEDCLI = [sys.executable, "-m", "embedcli"]
SHELL_EMBEDCLI = f"'{sys.executable}' -m embedcli"

# Words a model file can hold (anything but a newline and a CR): terminal commands (ESC
# sequences: clear the screen, set the title through OSC, colours), a bell, C1 controls
# (CSI and NEL in one character), a bidi override, separators, and rich markup and emoji
# codes, which must be shown as text.
HOSTILE = ["cat", "dog", "esc\x1b[2Jx", "osc\x1b]0;pwned\x07", "bidi\u202eevil", "c1\x9b31m",
           "bell\x07", "tab\tx", "sep\u2028x", "[bold]mk", "[/dim]", ":smile:", "del\x7f",
           "nel\x85x", "vt\x0bx", "bs\x08x", "nul\x00x", "csi\x1b[31mred", "rlo\u2066iso"]
# those that an argument can hold and a query does not split (no NUL, no white space)
ASKABLE = ["esc\x1b[2Jx", "osc\x1b]0;pwned\x07", "bidi\u202eevil", "c1\x9b31m", "bell\x07",
           "[bold]mk", "[/dim]", ":smile:", "del\x7f", "bs\x08x", "csi\x1b[31mred"]
# Nothing that a person or a reader of lines gets may hold these raw (tabs and newlines
# are checked apart: they are the formats' own separators).
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours, on a terminal


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EMBEDCLI_MODEL", "FORCE_COLOR")}
    env["COLUMNS"] = "200"  # no word is cut in a table
    return env | extra


def embedcli(*args: str, input: bytes | str | None = None, env: dict | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    data = input.encode("utf-8") if isinstance(input, str) else input
    return subprocess.run([*EMBEDCLI, *args], input=data, capture_output=True,
                          env=env or _env(), timeout=timeout)


def in_shell(command: str, env: dict | None = None, input: bytes | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """``command`` run by a real bash, ``embedcli`` standing for this interpreter's."""
    return subprocess.run(["bash", "-c", command.replace("embedcli", SHELL_EMBEDCLI, 1)],
                          input=input, capture_output=True, env=env or _env(),
                          timeout=timeout)


def one_line(stderr: bytes, fragment: str) -> str:
    """The stderr of a run that ended with a message: exactly one line, clean, holding
    ``fragment``."""
    text = stderr.decode("utf-8")
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("embedcli: ") and fragment in lines[0], text
    assert not RAW.search(text) and "Traceback" not in text and "internal error" not in text
    return lines[0]


def clean(text: str, tabs: bool = False) -> None:
    """Nothing raw: no control character, and no tab unless the format's own."""
    assert not RAW.search(text), [m.group() for m in RAW.finditer(text)][:5]
    if not tabs:
        assert "\t" not in text


# --------------------------------------------------------------------------- the model


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    """A real word2vec text file with the hostile words, in a file whose name holds ESC,
    OSC and BEL too; converted once into the module's cache."""
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "m\x1b]0;title\x07\x1b[2J.txt"
    rows = [[1.0, 0.1 * k, 0.05 * k * k] for k in range(len(HOSTILE))]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"{len(HOSTILE)} 3\n")
        for word, row in zip(HOSTILE, rows, strict=True):
            f.write(word + " " + " ".join(f"{x:.4f}" for x in row) + "\n")
    env = _env(EMBEDCLI_CACHE_DIR=str(folder / "cache"),
               EMBEDCLI_CONFIG_DIR=str(folder / "config"))
    first = embedcli("vocab", "--has", "cat", "-m", str(path), env=env)
    assert first.returncode == 0, first.stderr
    for line in first.stderr.decode().splitlines():  # the conversion's notes: clean too
        assert line.startswith("embedcli: ") and not RAW.search(line), line
    return {"path": str(path), "env": env}


def ask(hostile: dict, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return embedcli(*args, "-m", hostile["path"], input=input, env=hostile["env"])


def test_the_model_holds_every_hostile_word_as_written(hostile):
    out = ask(hostile, "vocab", "-f", "json")
    assert out.returncode == 0, out.stderr
    assert [e["word"] for e in json.loads(out.stdout)["words"]] == HOSTILE  # JSON: exact


def _ranking(hostile: dict) -> list[str]:
    out = ask(hostile, "neighbors", "cat", "-n", "100", "--include-inputs", "-f", "json")
    assert out.returncode == 0, out.stderr
    return [r["word"] for r in json.loads(out.stdout)["results"]]


@pytest.mark.parametrize("fmt", ["table", "tsv", "csv", "plain", "json", "jsonl"])
def test_every_format_escapes_the_words_of_a_hostile_model(hostile, fmt):
    words = _ranking(hostile)
    assert sorted(words) == sorted(HOSTILE)
    out = ask(hostile, "neighbors", "cat", "-n", "100", "--include-inputs", "-f", fmt)
    assert out.returncode == 0 and out.stderr == b"", out.stderr
    text = out.stdout.decode("utf-8")
    clean(text, tabs=fmt == "tsv")
    lines = text.splitlines()
    if fmt == "json":
        assert [r["word"] for r in json.loads(text)["results"]] == words
    elif fmt == "jsonl":
        assert [json.loads(line)["word"] for line in lines] == words
    elif fmt == "tsv":
        assert all(line.count("\t") == 3 for line in lines)  # a tab in a word is escaped
        assert [line.split("\t")[1] for line in lines[1:]] == [safe(w) for w in words]
    elif fmt == "csv":
        assert [row[1] for row in csv.reader(io.StringIO(text))][1:] == [safe(w) for w in words]
    elif fmt == "plain":
        assert lines == [safe(w) for w in words]
    else:  # a table: each word escaped, markup and emoji codes as text
        for w in words:
            assert safe(w) in text, w
        assert "[bold]mk" in text and "[/dim]" in text and ":smile:" in text


def test_a_table_on_a_colour_terminal_has_only_its_own_escape_sequences(hostile):
    out = embedcli("neighbors", "cat", "-n", "100", "-f", "table", "-m", hostile["path"],
                   env=hostile["env"] | {"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode("utf-8")
    assert SGR.search(text)  # it is in colour: rich's sequences are there
    clean(SGR.sub("", text))  # and nothing else: no clear screen, no title, no bell
    for attack in ("\x1b[2J", "\x1b]0;", "\x07", "\x9b", "\u202e", "\x1b[31mred"):
        assert attack not in text


# Every command that shows words, in every format it has: nothing raw, ever. (The
# answer's correctness is the other tests' business; here: the words are escaped.)
SHOWING = [
    (["vocab"], ["plain", "table", "tsv", "jsonl", "json"]),
    (["vocab", "--prefix", "esc"], ["plain", "table"]),
    (["similarity", "cat", ASKABLE[0], ASKABLE[1], ASKABLE[2]],
     ["table", "tsv", "csv", "plain", "json", "jsonl"]),
    (["similarity", "cat", ASKABLE[1]], ["table", "tsv", "plain", "json"]),
    (["doesnt-match", "cat", "dog", *ASKABLE[:4]], ["table", "tsv", "csv", "plain", "json"]),
    (["rank", "cat", ASKABLE[1]], ["table", "tsv", "plain", "json"]),
    (["vector", ASKABLE[1]], ["table", "tsv", "plain", "json", "jsonl"]),
    (["analogy", f"cat - dog + {ASKABLE[0]}", "-n", "20"], ["table", "tsv", "plain", "json"]),
    (["explain", f"cat - dog + {ASKABLE[4]}", "-n", "20", "-e", "[/dim]"],
     ["table", "tsv", "plain", "json"]),
    (["interpolate", "cat", ASKABLE[1], "-n", "20", "--steps", "3"],
     ["table", "tsv", "csv", "plain", "json"]),
]


@pytest.mark.parametrize("args,formats", SHOWING, ids=lambda a: " ".join(map(repr, a))[:40])
def test_every_command_escapes_what_it_shows(hostile, args, formats):
    for fmt in formats:
        out = ask(hostile, *args, "-f", fmt)
        assert out.returncode in (0, 1), (fmt, out.stderr)  # explain: 1 if not expected
        text = out.stdout.decode("utf-8")
        assert text.strip(), fmt
        clean(text, tabs=fmt in ("tsv", "plain"))  # plain matrix rows are tab-separated
        clean(out.stderr.decode("utf-8"))
        if fmt in ("json", "jsonl"):
            for line in ([text] if fmt == "json" else text.splitlines()):
                json.loads(line)


BATCH_LINES = (f"neighbors cat -n 100\nsimilarity cat {ASKABLE[4]}\nneighbors k\x1b[2Jing\n"
               f"rank cat {ASKABLE[1]}\n")


@pytest.mark.parametrize("fmt", ["jsonl", "tsv", "table"])
def test_batch_escapes_words_inputs_and_errors(hostile, fmt):
    out = ask(hostile, "batch", "-f", fmt, input=BATCH_LINES)
    assert out.returncode == ExitStatus.NO_ANSWER
    text = out.stdout.decode("utf-8")
    clean(text, tabs=fmt == "tsv")
    assert "k\\x1b[2Jing" in text or fmt == "jsonl"  # the failed line, escaped
    if fmt == "jsonl":
        records = [json.loads(line) for line in text.splitlines()]
        assert records[2]["input"] == "neighbors k\x1b[2Jing"  # JSON: the line as read
        assert sorted(r["word"] for r in records[0]["results"] + records[0]["excluded"]) == \
            sorted(HOSTILE)
    if fmt == "tsv":
        assert {line.count("\t") for line in text.splitlines()} == {6}
    if fmt == "jsonl":  # the message, escaped as every message is
        assert "'k\\x1b[2Jing' is not in the vocabulary" in records[2]["error"]
    one_line(out.stderr, "1 of 4 queries failed")


@pytest.mark.parametrize("fmt", ["jsonl", "table"])
def test_a_driven_shell_escapes_words_inputs_and_errors(hostile, fmt):
    lines = f"cat\ncat ~ {ASKABLE[4]}\nk\x1b[2Jing\n:model {hostile['path']}\n:settings\n"
    out = ask(hostile, "shell", "-f", fmt, "-n", "100", input=lines)
    assert out.returncode == ExitStatus.NO_ANSWER
    clean(out.stdout.decode("utf-8"))
    err = out.stderr.decode("utf-8")
    clean(err)
    assert "'k\\x1b[2Jing' is not in the vocabulary" in err
    if fmt == "jsonl":
        records = [json.loads(line) for line in out.stdout.splitlines()]
        assert records[-1]["settings"][0]["model"] == hostile["path"]  # exact in JSON


def test_the_quiz_escapes_questions_sections_and_answers(hostile, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(f": sec\x1b[2Jtion\ncat dog {ASKABLE[0]} {ASKABLE[4]}\n", "utf-8")
    out = ask(hostile, "quiz", str(questions), "--count", "1",
              input=f"{ASKABLE[4]}\n")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode("utf-8")
    clean(text)
    assert "sec\\x1b[2Jtion" in text and safe(ASKABLE[4]) in text and "right" in text


def test_model_listings_escape_the_path(hostile):
    add = embedcli("models", "add", "evil", hostile["path"], env=hostile["env"])
    assert add.returncode == 0, add.stderr
    clean(add.stdout.decode() + add.stderr.decode())
    for fmt in ("table", "tsv", "json"):
        out = embedcli("models", "list", "-f", fmt, env=hostile["env"])
        assert out.returncode == 0, out.stderr
        clean(out.stdout.decode(), tabs=fmt == "tsv")
        if fmt == "tsv":
            assert "m\\x1b]0;title\\x07" in out.stdout.decode()


# --------------------------------------------------------------------------- messages


MESSAGES = [
    # (what, arguments, status, the escaped fragment of its one line)
    ("a --model path forging a second line",
     ["similarity", "cat", "dog", "-m", "/tmp/x\x1b[2Jy\nembedcli: error: forged"],
     ExitStatus.MODEL, "'/tmp/x\\x1b[2Jy\\nembedcli: error: forged'"),
    ("a --model path with OSC and BEL",
     ["neighbors", "cat", "-m", "/nonexistent/\x1b]0;pwned\x07.txt"],
     ExitStatus.MODEL, "\\x1b]0;pwned\\x07"),
    ("an unknown word with ESC", ["neighbors", "k\x1b[2Jing"], ExitStatus.NO_ANSWER,
     "'k\\x1b[2Jing' is not in the vocabulary"),
    ("an unknown word with a bidi override", ["neighbors", "ab\u202ecd"],
     ExitStatus.NO_ANSWER, "'ab\\u202ecd'"),
    ("an option value with ESC", ["neighbors", "cat", "--top", "\x1b[2J"], ExitStatus.USAGE,
     "\\x1b[2J"),
    ("a batch file name with a newline", ["batch", "/nonexistent/a\nembedcli: forged"],
     ExitStatus.USAGE, "a\\nembedcli: forged"),
    ("a dataset name with ESC", ["quiz", "\x1b[2Jgoogle"], ExitStatus.USAGE, "\\x1b[2Jgoogle"),
]


@pytest.mark.parametrize("what,args,status,fragment", MESSAGES, ids=[m[0] for m in MESSAGES])
def test_messages_escape_what_they_repeat(bundled, what, args, status, fragment):
    out = embedcli(*args, input=b"")
    assert out.returncode == status, out.stderr
    assert out.stdout == b""
    one_line(out.stderr, fragment)


def test_a_word_with_a_carriage_return_is_a_model_error_in_one_line(tmp_path):
    """A CR would rewrite the line it is shown on: a model file whose word holds one is
    refused (words hold no line break), and the message shows it escaped."""
    path = tmp_path / "cr.txt"
    path.write_bytes(b"2 2\ncat 1.0 0.0\ncr\rembedcli: forged 0.0 1.0\n")
    out = embedcli("neighbors", "cat", "-m", str(path),
                   env=_env(EMBEDCLI_CACHE_DIR=str(tmp_path / "cache")))
    assert out.returncode == ExitStatus.MODEL and out.stdout == b""
    lines = out.stderr.decode().splitlines()
    assert [line for line in lines if "error" in line] == [lines[-1]]
    assert "contains a line break" in lines[-1] and "\\r" in lines[-1]
    clean(out.stderr.decode())


def test_suggestions_from_a_hostile_model_are_escaped(hostile):
    out = ask(hostile, "neighbors", "esc\x1b[2Jy")
    assert out.returncode == ExitStatus.NO_ANSWER and out.stdout == b""
    one_line(out.stderr, "did you mean: esc\\x1b[2Jx")


def test_a_caret_line_is_escaped_and_stays_under_the_problem(bundled):
    out = embedcli("analogy", "king\x1b]0;x\x07 + + man")
    assert out.returncode == ExitStatus.USAGE and out.stdout == b""
    error, query, caret = out.stderr.decode().splitlines()
    assert error.startswith("embedcli: error: expected a word after '+'")
    assert query == "  king\\x1b]0;x\\x07 + + man"
    assert query.index("+ man") == caret.index("^")


# --------------------------------------------------------------------------- streams

# What a redirection does to the standard streams, seen from inside a Python process (as
# embedcli sees them): the probe proves each case below reaches the state it claims.
PROBE = """
import json, os, sys
state = {"stdin": sys.stdin is not None, "stdout": sys.stdout is not None}
try:
    os.write(1, b"")
    os.write(1, b"x") if os.fstat(1).st_rdev else None
    state["write"] = "ok"
except OSError as exc:
    state["write"] = exc.strerror
os.write(2, json.dumps(state).encode())
"""


def probe(redirect: str) -> dict:
    out = subprocess.run(["bash", "-c", f"'{sys.executable}' -c '{PROBE}' {redirect}"],
                         capture_output=True, timeout=60)
    return json.loads(out.stderr)


def test_the_probe_sees_each_redirection_as_claimed():
    assert probe("") == {"stdin": True, "stdout": True, "write": "ok"}
    assert probe(">&-") == {"stdin": True, "stdout": False, "write": "Bad file descriptor"}
    assert probe("> /dev/full") == {"stdin": True, "stdout": True,
                                    "write": "No space left on device"}
    assert probe("<&-")["stdin"] is False


# (what, shell command, status, the one stderr line's fragment; None: no line, stdout
# checked empty unless the status is 0)
STREAMS = [
    ("an answer to a closed stdout", "embedcli neighbors cat -n 2 >&-", ExitStatus.OUTPUT,
     "cannot write to standard output: it is closed"),
    ("a table to a closed stdout", "embedcli neighbors cat -n 2 -f table >&-",
     ExitStatus.OUTPUT, "cannot write to standard output: it is closed"),
    ("json to a full disk", "embedcli neighbors cat -n 2 -f json > /dev/full",
     ExitStatus.OUTPUT, "cannot write to standard output: No space left on device"),
    ("a table to a full disk", "embedcli similarity cat dog car -f table > /dev/full",
     ExitStatus.OUTPUT, "cannot write to standard output: No space left on device"),
    ("a long listing to a full disk", "embedcli vocab > /dev/full", ExitStatus.OUTPUT,
     "No space left on device"),
    ("nothing to write, stdout closed", "embedcli vocab --has cat >&-", ExitStatus.OK, None),
    ("an unknown word, stdout closed", "embedcli vocab --has zzqqx >&-",
     ExitStatus.NO_ANSWER, None),
    ("a usage error, stdout closed", "embedcli neighbors cat --top 0 >&-", ExitStatus.USAGE,
     "--top"),
    ("help to a full disk", "embedcli --help > /dev/full", ExitStatus.OUTPUT,
     "No space left on device"),
    ("the list of commands to a full disk", "embedcli > /dev/full", ExitStatus.OUTPUT,
     "No space left on device"),
    ("the version to a closed stdout", "embedcli --version >&-", ExitStatus.OUTPUT,
     "it is closed"),
    ("batch from a closed stdin", "embedcli batch <&-", ExitStatus.USAGE,
     "cannot read standard input: it is closed"),
    ("batch to a full disk", "echo 'similarity cat dog' | embedcli batch > /dev/full",
     ExitStatus.OUTPUT, "No space left on device"),
    ("batch to a closed stdout", "echo 'similarity cat dog' | embedcli batch >&-",
     ExitStatus.OUTPUT, "it is closed"),
    ("a batch file to a full disk, tsv", "embedcli batch {lines} -f tsv > /dev/full",
     ExitStatus.OUTPUT, "No space left on device"),
    ("shell from a closed stdin", "embedcli shell <&-", ExitStatus.USAGE,
     "cannot read standard input: it is closed"),
    ("shell to a closed stdout", "echo cat | embedcli shell >&-", ExitStatus.OUTPUT,
     "it is closed"),
    ("shell to a full disk", "echo cat | embedcli shell > /dev/full", ExitStatus.OUTPUT,
     "No space left on device"),
    ("quiz from a closed stdin", "embedcli quiz --count 1 <&-", ExitStatus.USAGE,
     "cannot read standard input: it is closed"),
    ("quiz to a full disk", "echo rome | embedcli quiz --count 1 > /dev/full",
     ExitStatus.OUTPUT, "No space left on device"),
    ("quiz to a closed stdout", "echo rome | embedcli quiz --count 1 >&-",
     ExitStatus.OUTPUT, "it is closed"),
    ("a closed stderr: the status alone", "embedcli neighbors zzqqx 2>&-",
     ExitStatus.NO_ANSWER, None),
    ("a full stderr: the status alone", "embedcli neighbors zzqqx 2> /dev/full",
     ExitStatus.NO_ANSWER, None),
]


@pytest.mark.parametrize("what,command,status,fragment", STREAMS, ids=[s[0] for s in STREAMS])
def test_closed_and_full_streams(bundled, tmp_path, what, command, status, fragment):
    lines = tmp_path / "lines.txt"
    lines.write_text("similarity cat dog\n" * 5000)
    out = in_shell(command.replace("{lines}", str(lines)))
    assert out.returncode == status, out.stderr
    if fragment is None:
        assert out.stderr == b""
    else:
        one_line(out.stderr, fragment)
    if status != ExitStatus.OK:
        assert out.stdout == b""


def test_a_closed_stdout_still_lets_an_answer_go_to_a_file(bundled, tmp_path):
    """A descriptor closed at start-up leads to /dev/null: a file opened later (here
    the cache's, and this --out) never becomes stdout."""
    picture = tmp_path / "p.svg"
    out = in_shell(f"embedcli plot cat dog car --out {picture} >&-")
    assert out.returncode == 0, out.stderr
    assert picture.read_bytes().lstrip().startswith(b"<?xml")


def test_a_table_to_a_reader_that_leaves_ends_141(bundled):
    """A table is written at once; a reader that leaves during it once went unnoticed
    (status 0). The table is far larger than a pipe holds, so the write really fails."""
    size = in_shell("embedcli neighbors cat -f table -n 20000 | wc -c")
    assert int(size.stdout) > 1_000_000  # 16 times a pipe's 64 KB
    out = in_shell("embedcli neighbors cat -f table -n 20000 | head -1; "
                   "exit ${PIPESTATUS[0]}")
    assert out.returncode == ExitStatus.BROKEN_PIPE, out.stderr
    assert out.stderr == b""
    assert out.stdout.startswith(b"cat  (glove-6b-50d, cosine)") and out.stdout.count(b"\n") == 1


@pytest.mark.parametrize("args", [["similarity", "cat", "dog", "car", "-f", "table"],
                                  ["vocab", "--top", "2000", "-f", "table"]])
def test_every_table_to_a_reader_that_leaves_ends_141(bundled, args):
    proc = subprocess.Popen([*EMBEDCLI, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env())
    proc.stdout.close()  # gone before the first byte
    assert proc.wait(timeout=120) == ExitStatus.BROKEN_PIPE
    assert proc.stderr.read() == b""


@pytest.mark.parametrize("columns", ["0", "-3", "junk", ""])
def test_columns_that_are_no_width_are_ignored(bundled, columns):
    env = _env(COLUMNS=columns)
    table = embedcli("neighbors", "cat", "-n", "2", "-f", "table", env=env)
    assert table.returncode == 0 and b"dog" in table.stdout, table
    helped = embedcli("--help", env=env)
    assert helped.returncode == 0 and b"analogy" in helped.stdout


# --------------------------------------------------------------------------- signals


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, bundled_kv) -> Path:
    folder = tmp_path_factory.mktemp("signals")
    return write_small_model(folder / "v.txt", bundled_kv.index_to_key[:30000],
                             bundled_kv.vectors[:30000])




def _start(model: Path, cache: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as err:
        return subprocess.Popen([*EMBEDCLI, "neighbors", "king", "-m", str(model), "-f",
                                 "json"], env=_env(EMBEDCLI_CACHE_DIR=str(cache)),
                                stdout=subprocess.PIPE, stderr=err)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "X"


@pytest.fixture(scope="module")
def phases(model_file, tmp_path_factory) -> dict[str, float]:
    """When each phase of a conversion is first seen (seconds from the start), measured on
    this machine, polled every half millisecond."""
    folder = tmp_path_factory.mktemp("timing")
    started = time.monotonic()
    proc = _start(model_file, folder / "cache", folder / "log")
    seen: dict[str, float] = {}
    while (phase := _phase(proc, folder / "log", folder / "cache")) != "exited":
        seen.setdefault(phase, time.monotonic() - started)
        time.sleep(0.0005)
    proc.communicate(timeout=60)
    assert proc.returncode == 0 and {"reading", "writing", "published"} <= seen.keys(), seen
    return seen


def _signal_during(model: Path, folder: Path, phase: str, delay: float,
                   signum: int) -> tuple[str, list[str], int, bytes, bytes, Path]:
    """Start a conversion on an empty cache, wait until it is in ``phase`` and ``delay``
    more, freeze it (SIGSTOP) and look: the phase the signal finds and the temporary
    directory's files; then send ``signum`` and let it go on (SIGCONT). Returns the
    phase, those files, the status, stdout, stderr and the cache."""
    folder.mkdir()
    cache, log = folder / "cache", folder / "log"
    proc = _start(model, cache, log)
    try:
        deadline = time.monotonic() + 120
        while _PHASES.index(_phase(proc, log, cache)) < _PHASES.index(phase):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.0005)
        time.sleep(delay)
        proc.send_signal(signal.SIGSTOP)
        while _state(proc.pid) not in "TtZX":
            time.sleep(0.0005)
        found = _phase(proc, log, cache)  # frozen: the state the signal finds
        files = sorted(f.name for t in _cache_state(cache)[1]
                       for f in (cache / "models" / t).iterdir())
        proc.send_signal(signum)  # pending while stopped, delivered as it goes on
        proc.send_signal(signal.SIGCONT)
        out, _ = proc.communicate(timeout=120)
        return found, files, proc.returncode, out, log.read_bytes(), cache
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("signum,status,phase,fraction", [
    (signal.SIGTERM, ExitStatus.TERMINATED, "writing", 0.2),
    (signal.SIGTERM, ExitStatus.TERMINATED, "writing", 0.6),
    (signal.SIGHUP, ExitStatus.HANGUP, "writing", 0.4),
    (signal.SIGTERM, ExitStatus.TERMINATED, "reading", 0.5),
], ids=["TERM early in writing", "TERM late in writing", "HUP in writing", "TERM reading"])
def test_a_signal_during_conversion_unwinds_as_ctrl_c(model_file, phases, tmp_path, signum,
                                                     status, phase, fraction):
    """The signal lands while the conversion is in ``phase`` (proved: the process frozen
    in it, its temporary directory there and filling while writing, no entry); it exits
    with the signal's status and one line, and the temporary directory is gone."""
    after = _PHASES[_PHASES.index(phase) + 1]
    delay = fraction * (phases[after] - phases[phase])
    tries = []
    for attempt in range(6):
        found, files, code, out, err, cache = _signal_during(
            model_file, tmp_path / f"try{attempt}", phase, delay, signum)
        tries.append(f"{delay * 1000:.1f} ms into {phase}: found {found}, files {files}")
        if found == phase:
            break
        delay /= 2  # the machine is faster now: earlier
    else:
        pytest.fail("the signal never landed while " + phase + ": " + "; ".join(tries))
    if phase == "writing":
        assert files, tries  # the temporary directory was there, and held files
    assert code == status, err
    assert out == b""
    lines = err.decode().splitlines()
    assert lines[-1] == f"embedcli: stopped by {signal.Signals(signum).name}", err
    assert [line for line in lines if "stopped" in line] == [lines[-1]]
    assert all(line.startswith("embedcli: ") for line in lines) and b"Traceback" not in err
    entries, temporaries = _cache_state(cache)
    assert temporaries == [] and entries == [], (entries, temporaries)
    print("; ".join(tries))  # the instrumented run, for the record (-s shows it)


@pytest.mark.parametrize("signum,status", [(signal.SIGTERM, ExitStatus.TERMINATED),
                                           (signal.SIGHUP, ExitStatus.HANGUP)])
def test_a_signal_ends_a_driven_shell_and_a_batch_that_wait_for_input(bundled, signum, status):
    for command, query in (("shell", b"cat\n"), ("batch", b"neighbors cat\n")):
        proc = subprocess.Popen([*EMBEDCLI, command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        proc.stdin.write(query)
        proc.stdin.flush()
        answer = proc.stdout.readline()  # answered: it is in its loop, waiting for more
        assert json.loads(answer)["line"] == 1
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == status, err
        assert out == b""
        one_line(err, f"stopped by {signal.Signals(signum).name}")


def test_sigterm_ends_the_interactive_shell_where_ctrl_c_does_not(bundled):
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "embedcli", "shell"], env=_env(TERM="dumb"),
                          timeout=60)
    try:
        child.expect_exact("embedcli> ")
        child.sendintr()  # Ctrl-C: a new prompt, the session goes on
        child.expect_exact("embedcli> ")
        child.kill(signal.SIGTERM)
        child.expect_exact("embedcli: stopped by SIGTERM")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == ExitStatus.TERMINATED


# --------------------------------------------------------------------------- locale


def _c_locale() -> dict[str, str]:
    env = _env(LC_ALL="C", PYTHONUTF8="0", LANG="C")
    seen = subprocess.run([sys.executable, "-c", "import sys; print(sys.getfilesystemencoding())"],
                          env=env, capture_output=True, text=True, timeout=60).stdout.strip()
    if seen != "ascii":
        pytest.skip(f"LC_ALL=C gives the file-system encoding {seen!r} here, not ascii")
    return env


def test_arguments_are_utf8_under_a_c_locale(bundled):
    env = _c_locale()
    has = embedcli("vocab", "--has", "café", env=env)
    assert has.returncode == 0 and has.stdout == b"" and has.stderr == b""
    asked = embedcli("neighbors", "café", "-n", "1", "-f", "json", env=env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["query"] == "café"
    # an argument that is not UTF-8 keeps its bytes, escaped in the one message
    raw = subprocess.run([*EMBEDCLI, "neighbors", os.fsdecode(b"caf\xff")], env=env,
                         capture_output=True, timeout=60)
    assert raw.returncode == ExitStatus.NO_ANSWER and raw.stdout == b""
    one_line(raw.stderr, "'caf\\xff' is not in the vocabulary")


def test_paths_are_opened_by_the_bytes_typed_under_a_c_locale(bundled, tmp_path):
    env = _c_locale() | {"EMBEDCLI_CACHE_DIR": str(tmp_path / "cache")}
    folder = tmp_path / "modèles"
    folder.mkdir()
    model = write_small_model(folder / "é.txt", ["chat", "chien", "café"],
                              [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    lines = folder / "requêtes.txt"
    lines.write_text("similarity chat café\n", "utf-8")
    asked = embedcli("neighbors", "café", "-m", str(model), "-f", "json", env=env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["results"][0]["word"] == "chien"
    batch = embedcli("batch", str(lines), "-m", str(model), env=env)
    assert batch.returncode == 0, batch.stderr
    assert json.loads(batch.stdout)["a"] == "chat"


# --------------------------------------------------------------------------- parentheses


def test_parentheses_group_terms(bundled):
    def answer(query: str) -> dict:
        out = embedcli("analogy", query, "-f", "json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    plain = answer("king - man + woman")
    for grouped in ("(king - man) + woman", "king - (man - woman)", "(king-man)+woman",
                    "((king) - (man)) + (woman)"):
        assert answer(grouped) == plain
    weighted = answer("0.5*(paris - france) + italy")
    assert weighted["query"] == "0.5*paris - 0.5*france + italy"


@pytest.mark.parametrize("query,column,fragment", [
    ("(king - man + woman", 1, "this '(' is not closed"),
    ("king - man) + woman", 11, "this ')' closes no '('"),
    ("king - () + woman", 9, "inside '( )'"),
    ("(king man woman)", 7, "expected '+' or '-' before 'man'"),
])
def test_a_parenthesis_out_of_place_is_a_caret_error(bundled, query, column, fragment):
    out = embedcli("analogy", query)
    assert out.returncode == ExitStatus.USAGE and out.stdout == b""
    error, shown_query, caret = out.stderr.decode().splitlines()
    assert fragment in error and f"(at column {column})" in error
    assert caret.index("^") - 2 == column - 1


def test_a_vocabulary_word_with_parentheses_stays_whole(bundled):
    out = embedcli("neighbors", "(800)", "-n", "1", "-f", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["query"] == "(800)"
    smiley = embedcli("similarity", ":)", ":(", "-f", "json")
    assert smiley.returncode == 0 and json.loads(smiley.stdout)["a"] == ":)"


# --------------------------------------------------------------------------- sizes

WORDS = [f"w{k}" for k in range(1001)]
NOWHERE = ["-m", "/nonexistent/model.txt"]  # a bound said first never loads this


@pytest.mark.parametrize("what,args,fragment", [
    ("interpolate's steps, huge", ["interpolate", "king", "queen", "--steps",
                                   "99999999999999999999", *NOWHERE],
     "--steps takes at most 1,000 points, not 99,999,999,999,999,999,999"),
    ("interpolate's steps", ["interpolate", "king", "queen", "--steps", "1001", *NOWHERE],
     "--steps takes at most 1,000 points"),
    ("a similarity matrix", ["similarity", *WORDS, *NOWHERE],
     "similarity takes at most 1,000 words or expressions"),
    ("a similarity matrix in one text", ["similarity", " ~ ".join(WORDS), *NOWHERE],
     "not 1,001"),
    ("doesnt-match", ["doesnt-match", *WORDS, *NOWHERE], "doesnt-match takes at most 1,000"),
    ("plot's words", ["plot", *WORDS[:201], "--out", "x.png", *NOWHERE],
     "plot takes at most 200 words"),
    ("plot's neighbours", ["plot", "--neighbors", "cat", "--top", "5000", "--out", "x.png",
                           *NOWHERE], "plot takes at most 200 words"),
    ("a heat map's words", ["plot", *WORDS[:41], "--heatmap", "--out", "x.png", *NOWHERE],
     "plot --heatmap takes at most 40 words"),
])
def test_a_size_beyond_its_bound_is_a_usage_error_before_loading(what, args, fragment,
                                                                 tmp_path):
    started = time.monotonic()
    out = subprocess.run([*EMBEDCLI, *args], capture_output=True, env=_env(), cwd=tmp_path,
                         timeout=60)
    assert out.returncode == ExitStatus.USAGE, out.stderr  # not 3: the model never loaded
    assert out.stdout == b"" and not (tmp_path / "x.png").exists()
    one_line(out.stderr, fragment)
    assert time.monotonic() - started < 30


def test_answers_in_all_of_an_interpolation_are_bounded(bundled):
    out = embedcli("interpolate", "king", "queen", "--steps", "1000", "--top", "2000")
    assert out.returncode == ExitStatus.USAGE and out.stdout == b""
    one_line(out.stderr, "asks for 2,000,000 answers; at most 1,000,000")


def test_a_query_of_too_many_different_words_is_a_caret_error(bundled):
    out = embedcli("neighbors", " + ".join(WORDS))
    assert out.returncode == ExitStatus.USAGE and out.stdout == b""
    error = out.stderr.decode().splitlines()[0]
    assert "a query takes at most 1,000 different words, not 1,001" in error
    # the same word any number of times is one word
    many = embedcli("neighbors", " + ".join(["king"] * 5000), "-n", "1", "-f", "plain")
    assert many.returncode == 0 and many.stdout.strip(), many.stderr


def _overlong() -> bytes:
    return b"neighbors " + b"x" * (2 << 20) + b"\n"


@pytest.mark.parametrize("through", ["file", "pipe"])
def test_an_overlong_batch_line_fails_alone(bundled, tmp_path, through):
    data = b"similarity cat dog\n" + _overlong() + b"similarity cat car\n"
    if through == "file":
        path = tmp_path / "lines.txt"
        path.write_bytes(data)
        out = embedcli("batch", str(path))
    else:
        out = embedcli("batch", input=data)
    assert out.returncode == ExitStatus.NO_ANSWER, out.stderr
    first, second, third = (json.loads(line) for line in out.stdout.splitlines())
    assert first["b"] == "dog" and third["b"] == "car"
    assert second == {"line": 2, "input": "", "status": 2,
                      "error": "the line is longer than 1,048,576 bytes; it is skipped"}
    one_line(out.stderr, "1 of 3 queries failed")


def test_an_overlong_shell_line_fails_alone(bundled):
    out = embedcli("shell", input=b"cat\n" + _overlong()[len(b"neighbors "):] + b"dog\n")
    assert out.returncode == ExitStatus.NO_ANSWER
    first, second, third = (json.loads(line) for line in out.stdout.splitlines())
    assert first["query"] == "cat" and third["query"] == "dog" and second["status"] == 2
    assert out.stderr.decode().splitlines()[0] == (
        "embedcli: error: the line is longer than 1,048,576 bytes; it is skipped")


def test_batch_answers_in_passes_of_bounded_size_the_same_answers(bundled, monkeypatch):
    from embedcli import queries
    from embedcli.engine.words import Resolver

    specs = [queries.Spec("neighbors", (w,), top=n) for w, n in
             [("cat", 10), ("dog", 30), ("king", 5), ("paris", 40), ("car", 1)]]
    resolver = Resolver(bundled)
    alone = [queries.answer(bundled, s, resolver) for s in specs]
    monkeypatch.setattr(queries, "PASS_CANDIDATES", 45)
    plans = [queries.plan(bundled, s, resolver) for s in specs]
    assert queries.passes(plans) == [[0, 1], [2], [3, 4]]  # 11+31; 6 (+41 > 45); 41+2
    assert queries.answer_many(bundled, specs, resolver) == alone
