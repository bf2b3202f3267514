"""`embedcli batch`: the line syntax, answers equal to the single commands' and gensim's,
error lines, exit statuses, formats, and streaming through real pipes."""

from __future__ import annotations

import json
import os
import random
import select
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedcli.errors import ExitStatus, UsageError
from embedcli.lines import read_batch_line, split_line
from embedcli.queries import Spec, check
from tests.conftest import run, write_small_model

DEFAULTS = Spec("")


def parse_line(text, defaults=DEFAULTS, is_word=lambda _w: False):
    """A batch line read and checked, as batch does before answering it."""
    spec = read_batch_line(text, defaults, is_word)
    if spec is not None:
        check(spec)
    return spec

# ~100 lines of every kind, with per-line options; each is also asked as a single command.
ANALOGIES = [
    "king - man + woman", "paris - france + italy", "walking - walked + swam",
    "bigger - big + cold", "tokyo - japan + germany", "brother - son + daughter",
    "cars - car + apple", "london - england + spain", "good - best + bad", "he - she + her",
    "microsoft - windows + google", "water + ice", "man : king :: woman : ?",
    "king man woman", "paris - 0.5*france + 0.5*italy", "King - man + woman",
]
NEIGHBOURS = ["cat", "frog", "computer", "paris", "love", "e-mail", "x-ray", "c++", "1990",
              "quickly", "einstein", "banana", "paris - france + italy", "the", "zyzzyva"]
MIXED = (
    [f"analogy {q}" for q in ANALOGIES]
    + [f"analogy {q} -n 3" for q in ANALOGIES[:6]]
    + [f"analogy {q} --restrict 30000" for q in ANALOGIES[:6]]
    + [f"analogy {q} --method mul" for q in ANALOGIES[:6]]
    + [f"analogy {q} --method=mul --restrict=20000 -n5" for q in ANALOGIES[6:10]]
    + [f"analogy {q} --include-inputs --top 4" for q in ANALOGIES[:4]]
    + [f"neighbors {q}" for q in NEIGHBOURS]
    + [f"neighbors {q} -n 5" for q in NEIGHBOURS]
    + [f"neighbors {q} -n 25 --restrict 50000" for q in NEIGHBOURS[:6]]
    + [f"neighbors {q} --include-inputs -n 2" for q in NEIGHBOURS[:4]]
    + ["neighbors cat --restrict 5 -n 10", "analogy king - man + woman --restrict 3 -n 8"]
    + [f"similarity {a} {b}" for a, b in [("cat", "dog"), ("king", "queen"), ("car", "banana"),
                                        ("good", "bad"), ("e-mail", "email"), ("Paris", "london")]]
    + ["similarity cat dog car truck", "similarity one two three"]
    + [f"doesnt-match {w}" for w in ["breakfast cereal dinner lunch", "cat dog mouse car",
                                     "paris london berlin banana", "red green blue happy"]]
    + [f"rank {a} {b}" for a, b in [("cat", "dog"), ("king", "queen"), ("car", "banana"),
                                     ("paris", "france"), ("cat", "cat")]]
    + ["vector cat", "vector e-mail", "vector Paris"]
)


def _single_args(line: str) -> list[str]:
    """The same query as arguments of the single command (quoted as a shell would)."""
    command, *rest = line.split()
    options, words = [], []
    tokens = iter(rest)
    for token in tokens:
        if token in ("-n", "--top", "--method", "--restrict"):
            options += [token, next(tokens)]
        elif token.startswith(("--top=", "--method=", "--restrict=", "--include-inputs")) or (
                token.startswith("-n") and token[2:].isdigit()):
            options.append(token)
        else:
            words.append(token)
    if command in ("analogy", "neighbors"):
        words = [" ".join(words)]
    return [command, *words, *options]


def _batch(runner, lines: list[str], *args: str):
    return run(runner, "batch", *args, input="\n".join(lines) + "\n")


def _objects(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


# --------------------------------------------------------------------------- answers


def test_every_batch_answer_is_the_single_commands_json_plus_its_line(runner):
    assert len(MIXED) >= 100
    result = _batch(runner, MIXED, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    objects = _objects(result)
    assert [o["line"] for o in objects] == list(range(1, len(MIXED) + 1))
    for line, obj in zip(MIXED, objects, strict=True):
        single = run(runner, *_single_args(line), "--format", "json")
        assert single.exit_code == 0, (line, single.stderr)
        expected = json.loads(single.stdout)
        assert {k: v for k, v in obj.items() if k != "line"} == expected, line


def _gensim_terms(canonical: str) -> list[tuple[str, float]]:
    """'paris - 0.5*france + italy' -> [("paris", 1.0), ("france", -0.5), ("italy", 1.0)]."""
    tokens = canonical.split()
    signed = [("+", tokens[0])] + list(zip(tokens[1::2], tokens[2::2], strict=True))
    terms = []
    for op, term in signed:
        weight, _, word = term.rpartition("*") if "*" in term else ("1", "", term)
        terms.append((word, float(weight) * (-1 if op == "-" else 1)))
    return terms


@pytest.mark.parametrize("method", ["add", "mul"])
def test_batch_rankings_equal_gensim(runner, bundled_kv, method):
    analogies = [q for q in ANALOGIES if method == "add" or "*" not in q]  # mul: no weights
    lines = [f"analogy {q}" for q in analogies] + [f"neighbors {w}" for w in NEIGHBOURS[:12]]
    result = _batch(runner, lines, "--format", "jsonl", "--method", method)
    assert result.exit_code == 0, result.stderr
    objects = _objects(result)
    assert len(objects) == len(lines)
    for obj in objects:
        terms = _gensim_terms(obj["query"])
        if obj["method"] == "mul":
            theirs = bundled_kv.most_similar_cosmul(
                positive=[t for t, w in terms if w > 0], negative=[t for t, w in terms if w < 0],
                topn=10)
        else:
            theirs = bundled_kv.most_similar(positive=terms, topn=10)
        assert [r["word"] for r in obj["results"]] == [w for w, _ in theirs], obj["query"]
        np.testing.assert_allclose([r["score"] for r in obj["results"]],
                                   [s for _, s in theirs], atol=1e-6)


@pytest.fixture(scope="module")
def random_queries(bundled):
    """200 random 3CosAdd plans and rank_query's answers to them.

    Random words make negative terms rank far down (the comparison path) and positive ones
    near the top (the candidate path); random --restrict, --top and --include-inputs;
    weights."""
    from embedcli.engine.ranking import make_plan, rank_query
    from embedcli.engine.words import Resolver
    from embedcli.expr import parse

    resolver = Resolver(bundled)
    words = [w for w in bundled.words()[:60000] if w.isalpha()]
    rng = random.Random(20240611)
    plans, singles = [], []
    while len(plans) < 200:
        shape = rng.random()
        if shape < 0.3:
            text = rng.choice(words)
        elif shape < 0.85:
            text = f"{rng.choice(words)} - {rng.choice(words)} + {rng.choice(words)}"
        else:
            text = (f"{rng.choice(words)} - 0.5*{rng.choice(words)} + 2*{rng.choice(words)}"
                    f" - {rng.choice(words)}")
        query = parse(text, resolver.is_word)
        top = rng.choice([1, 3, 10, 10, 50])
        restrict = rng.choice([None, None, None, 2000, 30000, 7])
        include = rng.random() < 0.15
        plans.append(make_plan(bundled, query, resolver, "add", top, restrict, include, None))
        singles.append(rank_query(bundled, query, resolver, top=top, restrict=restrict,
                                  include_inputs=include))
    return plans, singles


@pytest.mark.parametrize("workers,dense_at,bottom_at,block", [
    (1, 256, 256, None), (2, 0, 0, 4096), (3, 10**9, 0, None), (2, 0, 10**9, 1024)])
def test_the_blocked_engine_equals_one_query_at_a_time(bundled, random_queries, monkeypatch,
                                                       workers, dense_at, bottom_at, block):
    """rank_many (one pass for many queries) == rank_query, exactly: serial and on threads,
    with every threshold counted by comparison (0, 0), along with the candidates (10**9)
    or by the rows below it (0, 10**9)."""
    import contextlib

    from embedcli.engine import ranking, scan

    monkeypatch.setattr(scan, "worker_count", lambda _cap: workers)
    monkeypatch.setattr(scan, "_DENSE_AT", dense_at)
    monkeypatch.setattr(scan, "_BOTTOM_AT", bottom_at)
    monkeypatch.setattr(scan, "one_blas_thread", lambda: contextlib.nullcontext(True))
    if block:
        monkeypatch.setattr(scan, "block_rows", lambda _queries: block)
    plans, singles = random_queries
    if dense_at > 10**6 or bottom_at > 10**6:  # many rows taken out: slow, fewer queries
        plans, singles = plans[:60], singles[:60]
    assert ranking.rank_many(bundled, plans) == singles


@pytest.mark.parametrize("dense_at,bottom_at", [(256, 256), (0, 0), (0, 10**9)])
def test_rank_lines_in_one_pass_equal_one_at_a_time(bundled, monkeypatch, dense_at, bottom_at):
    """word_ranks (every rank line of a batch in one pass) == word_rank, exactly."""
    from embedcli.engine import ranking, scan
    from embedcli.engine.words import Resolver

    monkeypatch.setattr(scan, "_DENSE_AT", dense_at)
    monkeypatch.setattr(scan, "_BOTTOM_AT", bottom_at)
    resolver = Resolver(bundled)
    words = bundled.words()
    rng = random.Random(20240613)
    pairs = [(rng.choice(words[:50000]), rng.choice(words)) for _ in range(60)]
    pairs += [("cat", "cat"), ("cat", "dog"), ("the", "of"), ("king", "queen")]
    singles = [ranking.word_rank(bundled, a, b, resolver) for a, b in pairs]
    assert ranking.word_ranks(bundled, [(resolver(a), resolver(b)) for a, b in pairs]) == singles


def test_ties_go_to_the_more_frequent_word_in_both_paths(runner, tmp_path):
    # b and c have the same vector: equal scores everywhere
    words = ["a", "b", "c", "d", "e"]
    vectors = [[1, 0.1, 0], [1, 0.5, 0], [1, 0.5, 0], [0, 1, 0], [0, 0, 1]]
    path = write_small_model(tmp_path / "ties.txt", words, vectors)
    single = run(runner, "neighbors", "a", "-m", str(path), "--format", "json")
    assert single.exit_code == 0, single.stderr
    expected = json.loads(single.stdout)
    assert [r["word"] for r in expected["results"]] == ["b", "c", "d", "e"]
    batch = _batch(runner, ["neighbors a", "neighbors a -n 2", "neighbors b --restrict 2"],
                   "-m", str(path), "-f", "jsonl")
    assert batch.exit_code == 0, batch.stderr
    first, second, third = _objects(batch)
    assert {k: v for k, v in first.items() if k != "line"} == expected
    assert [r["word"] for r in second["results"]] == ["b", "c"]
    # c is outside --restrict 2: not a candidate, and no rank
    assert third["excluded"] == [{"word": "b", "rank": 1, "score": pytest.approx(1.0)}]
    assert [r["word"] for r in third["results"]] == ["a"]


# --------------------------------------------------------------------------- line syntax


@pytest.mark.parametrize("text,command,words,options", [
    ("analogy king - man + woman", "analogy", ["king", "-", "man", "+", "woman"], {}),
    ("analogy king - man + woman -n 3", "analogy", ["king", "-", "man", "+", "woman"],
     {"top": 3}),
    ("analogy -n3 --method MUL --restrict=500 king man woman", "analogy",
     ["king", "man", "woman"], {"top": 3, "method": "mul", "restrict": 500}),
    ('analogy "king - man + woman" --top=2', "analogy", ["king - man + woman"], {"top": 2}),
    ('neighbors "-king + queen -n 3"', "neighbors", ["-king + queen -n 3"], {}),
    ("neighbors -king + queen", "neighbors", ["-king", "+", "queen"], {}),
    ("neighbors -- -n", "neighbors", ["-n"], {}),
    ("neighbors don't", "neighbors", ["don't"], {}),
    ('similarity " \'', "similarity", ['"', "'"], {}),
    ("neighbors cat --include-inputs", "neighbors", ["cat"], {"include_inputs": True}),
    ("  doesnt-match\ta  b c ", "doesnt-match", ["a", "b", "c"], {}),
])
def test_parse_line(text, command, words, options):
    spec = parse_line(text)
    assert (spec.command, list(spec.args)) == (command, words)
    for name, value in options.items():
        assert getattr(spec, name) == value
    untouched = {"top": 10, "method": "add", "restrict": None, "include_inputs": False}
    for name, value in untouched.items():
        if name not in options:
            assert getattr(spec, name) == value


@pytest.mark.parametrize("text", ["", "   ", "# a comment", "   # indented comment"])
def test_blank_and_comment_lines_carry_no_query(text):
    assert parse_line(text) is None


@pytest.mark.parametrize("text,message", [
    ("frobnicate cat", "unknown command 'frobnicate'"),
    ('"neighbors" cat', "unknown command 'neighbors'"),
    ("neighbors cat --method mul", "neighbors takes no --method"),
    ("similarity cat dog -n 3", "similarity takes no -n/--top"),
    ("neighbors cat -n 0", "0 is not at least 1"),
    ("neighbors cat -n abc", "'abc' is not a whole number"),
    ("neighbors cat --top", "needs a value"),
    ("analogy king man woman --method cos", "'cos' (use add or mul)"),
    ("neighbors cat --tpo 3", "no such option: --tpo"),
    ("similarity cat", "similarity needs at least two words"),
    ("doesnt-match cat dog", "doesnt-match needs at least three words"),
    ("rank cat", "rank takes two words"),
    ("vector cat dog", "vector takes one word"),
])
def test_malformed_lines(text, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_line(text)


def test_an_option_like_vocabulary_word_is_a_word():
    spec = parse_line("neighbors --weird", is_word=lambda w: w == "--weird")
    assert spec.args == ("--weird",)


def test_split_line_keeps_unclosed_quotes_as_words():
    assert split_line('a "b c" "d e') == [("a", False), ("b c", True), ('"d', False),
                                          ("e", False)]


def test_batch_options_are_the_defaults_and_lines_override_them(runner):
    lines = ["analogy king - man + woman", "analogy king - man + woman -n 1 --method add",
             "neighbors cat", "neighbors cat --top 4"]
    result = _batch(runner, lines, "-n", "2", "--method", "mul", "--restrict", "30000",
                    "--include-inputs", "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    a, b, c, d = _objects(result)
    assert (a["method"], len(a["results"]), a["restrict"], a["excluded"]) == ("mul", 2, 30000, [])
    assert (b["method"], len(b["results"])) == ("add", 1)
    assert (c["method"], len(c["results"]), c["results"][0]["word"]) == ("cosine", 2, "cat")
    assert len(d["results"]) == 4


# --------------------------------------------------------------------------- errors


def test_failed_lines_give_error_objects_and_the_rest_go_on(runner):
    lines = ["neighbors cat -n 1", "neighbors kign", "", "# comment", "analogy king + + man",
             "frobnicate", "analogy king - king", "analogy 2*king - man --method mul",
             "similarity cat dog", "neighbors cat --method mul"]
    result = _batch(runner, lines, "-f", "jsonl")
    assert result.exit_code == ExitStatus.NO_ANSWER
    objects = _objects(result)
    assert [o["line"] for o in objects] == [1, 2, 5, 6, 7, 8, 9, 10]
    errors = [o for o in objects if "error" in o]
    assert all(set(o) == {"line", "input", "error", "status"} for o in errors)
    assert [o["status"] for o in errors] == [1, 2, 2, 1, 2, 2]
    assert [o["input"] for o in errors] == [lines[n - 1] for n in (2, 5, 6, 7, 8, 10)]
    # the same message as the single command's stderr line
    single = run(runner, "neighbors", "kign")
    assert single.stderr == f"embedcli: error: {errors[0]['error']}\n"
    assert "did you mean: king" in errors[0]["error"]
    assert errors[1]["error"] == "expected a word after '+', found '+' (at column 8)"
    assert "cancel out" in errors[3]["error"]
    assert "takes no weights" in errors[4]["error"]
    assert objects[0]["results"][0]["word"] == "dog" and objects[6]["b"] == "dog"
    assert result.stderr.strip().endswith("6 of 8 queries failed (their output lines carry the "
                                          "error)")


def test_all_lines_fine_is_exit_0_with_nothing_on_stderr(runner):
    result = _batch(runner, ["similarity cat dog", "# done"], "-f", "jsonl")
    assert (result.exit_code, result.stderr) == (0, "")


def test_a_lower_case_fallback_notes_once(runner):
    result = _batch(runner, ["neighbors Cat -n 1", "similarity Cat dog"], "-f", "jsonl")
    assert result.exit_code == 0
    assert result.stderr == "embedcli: note: 'Cat' is not in glove-6b-50d; using 'cat'\n"
    strict = _batch(runner, ["neighbors Cat"], "-f", "jsonl", "--case-sensitive")
    assert strict.exit_code == 1 and "'Cat' is not in the vocabulary" in strict.stdout


def test_empty_input_is_no_output(runner):
    result = _batch(runner, [], "-f", "jsonl")
    assert (result.exit_code, result.stdout) == (0, "")


def test_batch_refuses_formats_it_cannot_stream(runner):
    result = _batch(runner, ["similarity cat dog"], "-f", "json")
    assert result.exit_code == ExitStatus.USAGE
    assert "batch writes jsonl, tsv or table" in result.stderr and result.stdout == ""


def test_a_missing_input_file_is_a_usage_error(runner, tmp_path):
    result = run(runner, "batch", str(tmp_path / "nope.txt"))
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr == f"embedcli: error: cannot read {tmp_path / 'nope.txt'}: no such file\n"


# --------------------------------------------------------------------------- input and formats


def test_file_stdin_and_dash_give_the_same_output(runner, tmp_path):
    lines = ["neighbors cat -n 2", "similarity cat dog", "doesnt-match a b c d"]
    path = tmp_path / "queries.txt"
    path.write_text("\n".join(lines))  # no final newline
    from_file = run(runner, "batch", str(path), "-f", "jsonl")
    from_stdin = _batch(runner, lines, "-f", "jsonl")
    from_dash = run(runner, "batch", "-", "-f", "jsonl", input="\n".join(lines))
    assert from_file.exit_code == from_stdin.exit_code == from_dash.exit_code == 0
    assert from_file.stdout == from_stdin.stdout == from_dash.stdout
    assert len(from_file.stdout.splitlines()) == 3


def test_crlf_and_undecodable_bytes(runner, tmp_path):
    path = tmp_path / "q.txt"
    path.write_bytes(b"similarity cat dog\r\nneighbors caf\xe9\r\n")
    result = run(runner, "batch", str(path), "-f", "jsonl")
    assert result.exit_code == 1
    first, second = _objects(result)
    assert first["similarity"] == pytest.approx(0.9218, abs=1e-4)
    assert second["input"] == "neighbors caf\ufffd"
    assert "is not in the vocabulary" in second["error"]


def test_tsv_layout(runner):
    lines = ["analogy king - man + woman -n 2", "similarity cat dog car", "rank cat dog",
             "doesnt-match breakfast cereal dinner lunch", "vector cat", "neighbors kign"]
    result = _batch(runner, lines, "-f", "tsv")
    assert result.exit_code == 1
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["line", "command", "query", "rank", "word", "score", "error"]
    assert all(len(r) == 7 for r in rows)
    assert rows[1][:5] == ["1", "analogy", "king - man + woman", "1", "queen"]
    assert rows[2][:5] == ["1", "analogy", "king - man + woman", "2", "throne"]
    assert [r[2:5] for r in rows[3:6]] == [["cat", "", "dog"], ["cat", "", "car"],
                                          ["dog", "", "car"]]
    assert rows[6][:5] == ["3", "rank", "cat", "1", "dog"]
    assert rows[7][:5] == ["4", "doesnt-match", "breakfast cereal dinner lunch", "1", "cereal"]
    vector = [r for r in rows if r[1] == "vector"]
    assert len(vector) == 50 and vector[0][3:6] == ["1", "", "0.45281"]
    assert rows[-1][:3] == ["6", "neighbors", "kign"] and rows[-1][3:6] == ["", "", ""]
    assert rows[-1][6].startswith("'kign' is not in the vocabulary")


def test_table_format_shows_each_line(runner):
    result = _batch(runner, ["neighbors cat -n 2", "neighbors kign"], "-f", "table")
    assert result.exit_code == 1
    out = result.stdout
    assert "line 1: neighbors cat -n 2" in out and "dog" in out and "rabbit" in out
    assert "line 2: neighbors kign" in out and "error: 'kign' is not in the vocabulary" in out


def test_jsonl_is_the_default_when_not_a_terminal(runner):
    result = _batch(runner, ["similarity cat dog"])
    assert json.loads(result.stdout) == {"line": 1, "a": "cat", "b": "dog",
                                         "similarity": pytest.approx(0.9218, abs=1e-4)}


# --------------------------------------------------------------------------- real processes


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EMBEDCLI_MODEL", "FORCE_COLOR")}
    env["EMBEDCLI_CACHE_DIR"] = str(cache)
    return env


def _lines_file(path: Path, line: str, count: int) -> Path:
    with open(path, "w") as fh:
        for start in range(0, count, 10_000):
            fh.write(line * min(10_000, count - start))
    return path


def test_a_large_input_piped_to_head_stops_quietly(bundled, session_cache, tmp_path):
    source = _lines_file(tmp_path / "many.txt", "similarity cat dog\n", 200_000)
    out = subprocess.run(f"cat {shlex.quote(str(source))} | '{sys.executable}' -m embedcli batch "
                         "| head -1", shell=True, env=_env(session_cache), capture_output=True,
                         text=True, timeout=60)
    assert out.stderr == ""
    assert json.loads(out.stdout)["line"] == 1
    # and the status of embedcli itself: 141, as coreutils give
    with open(source, "rb") as stdin:
        proc = subprocess.Popen([sys.executable, "-m", "embedcli", "batch"], stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_env(session_cache))
        assert json.loads(proc.stdout.readline())["line"] == 1
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == ExitStatus.BROKEN_PIPE
    assert stderr == b""


# Runs the CLI and reports its peak resident memory (VmHWM, kB) on stderr's last line.
# Not ru_maxrss: Linux carries the parent's (pytest's) peak into a child's at exec.
RSS_PROBE = """
import runpy, sys
sys.argv = ["embedcli", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("embedcli", run_name="__main__")
except SystemExit as exit:
    code = exit.code
with open("/proc/self/status") as status:
    peak = [line.split()[1] for line in status if line.startswith("VmHWM:")][0]
sys.stderr.write(peak + "\\n")
sys.exit(code)
"""


def _peak_rss_mb(args: list[str], stdin_path: Path, env: dict[str, str]) -> tuple[float, int]:
    """Peak memory of a batch whose input comes through a pipe (``cat FILE |``)."""
    cat = subprocess.Popen(["cat", str(stdin_path)], stdout=subprocess.PIPE)
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, *args], stdin=cat.stdout,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                          timeout=120)
    cat.stdout.close()
    cat.wait()
    return int(proc.stderr.splitlines()[-1]) / 1024, proc.returncode


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_memory_does_not_grow_with_the_input(bundled, session_cache, tmp_path):
    """20,000 and 200,000 lines through a pipe: the same peak memory (within 10 MB)."""
    small = _lines_file(tmp_path / "small.txt", "similarity cat dog\n", 20_000)
    large = _lines_file(tmp_path / "large.txt", "similarity cat dog\n", 200_000)
    args = ["batch", "--format", "tsv"]
    small_mb, small_status = _peak_rss_mb(args, small, _env(session_cache))
    large_mb, large_status = _peak_rss_mb(args, large, _env(session_cache))
    assert small_status == large_status == 0
    assert 10 < small_mb < 500
    assert large_mb - small_mb < 10, (small_mb, large_mb)


def test_a_coprocess_gets_each_answer_before_sending_the_next_line(bundled, session_cache):
    proc = subprocess.Popen([sys.executable, "-m", "embedcli", "batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(session_cache))
    try:
        for word in ("dog", "car"):
            proc.stdin.write(f"similarity cat {word}\n".encode())
            proc.stdin.flush()
            # the answer comes before the next line is sent (a chunked reader would wait)
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, "no answer within 60 s"
            assert json.loads(proc.stdout.readline())["b"] == word
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=60) == 0


def test_jsonl_stays_json_when_stdout_cannot_carry_the_words(bundled, session_cache):
    out = subprocess.run([sys.executable, "-m", "embedcli", "batch", "-f", "jsonl"],
                         input="neighbors café -n 1\nneighbors cafè\n".encode(),
                         env=_env(session_cache) | {"PYTHONIOENCODING": "ascii"},
                         capture_output=True, timeout=60)
    assert out.returncode == 1  # the second word is unknown
    first, second = (json.loads(line) for line in out.stdout.decode("ascii").splitlines())
    assert first["query"] == "café" and second["input"] == "neighbors cafè"
