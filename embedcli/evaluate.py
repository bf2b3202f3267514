"""Benchmark evaluation of a model: analogy accuracy and word-pair correlations.

The figures are gensim 4's, on the same vectors and settings:

* :func:`evaluate_analogies` is ``KeyedVectors.evaluate_word_analogies``: the vocabulary
  is cut to the ``restrict`` most frequent words (``ok_keys``); with ``case_insensitive``
  every word is upper-cased and a word stands for the most frequent of its case variants;
  a question with a word outside that vocabulary is skipped (and counted); the answer is
  the first of the five best candidates (``most_similar(positive=[b, c], negative=[a],
  topn=5, restrict_vocab=restrict)``, the input rows left out) whose upper-cased form is
  not one of the question's first three words. A question is right when that answer is
  the fourth word.
* :func:`evaluate_pairs` is ``KeyedVectors.evaluate_word_pairs``: Pearson and Spearman
  correlation of the model's cosine similarities with the human scores, over the pairs
  whose two words are in the restricted vocabulary, and the share of pairs skipped.

gensim answers one question at a time (a matrix-vector product over the whole
vocabulary per question). Here all questions are answered in one blocked pass over the
candidate rows (``embedcli.engine.scan.top_k``, the pass ``batch`` uses too, with
``_AddScorer`` or ``_MulScorer`` scoring the tiles), keeping a running top ``k`` per
question; ``k = 5 + 3`` is enough for gensim's rule to see exactly the five candidates it
sees. Candidates with equal scores are ordered by row (the more frequent word first);
gensim's ``argpartition`` leaves the order of exact ties unspecified. Blocks of questions
run on one worker thread per core, with BLAS held to one thread (through threadpoolctl,
when it is installed; without it, one worker and BLAS's own threads). The ranks of the
wrong answers shown (``show_errors``) are counted in the same pass (each question's expected
score is a threshold of it).

The query vectors are gensim's, bit for bit (see ``_AddScorer``); a candidate's score is
its unit vector times the query, where gensim divides the raw vector's product by its
norm, so scores can differ from gensim's in the last bit or two of a float32. On the
bundled GloVe vectors every section's counts are gensim's (the tests check them).

Semantic and syntactic accuracy split the sections by name by default: a section whose
name starts with ``gram`` is syntactic, the others semantic. ``semantic_sections=N`` splits
them by position instead, as word2vec's ``compute-accuracy`` does with N = 5: the first N
sections are semantic, the rest syntactic. (On the Google file the two rules agree.)

A dataset may be several files (:func:`read_analogy_datasets`): GloVe's
``eval/question-data`` holds one file per section, with no ``: section`` line, each named
after its section; such a file is one section named after the file.

This module never prints and imports numpy (and threadpoolctl, if it is there), never
gensim or scipy: progress goes through a callback.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedcli.engine.scan import DotScorer, Found, Scorer, margin_for, top_k
from embedcli.errors import QueryError, UsageError, shown
from embedcli.expr import Query, Term

if TYPE_CHECKING:
    from embedcli.models import Model

ANALOGY_LINES = "a ': section' header or four words"  # what skipped lines are not
DEFAULT_RESTRICT = 300_000  # gensim's default restrict_vocab
TOPN = 5  # gensim's evaluator looks at the five best candidates
_K = TOPN + 3  # ... after leaving out up to three input rows

Progress = Callable[[int, int], None]  # (done, total)


class DatasetError(UsageError):
    """A dataset that cannot be found, read or parsed (a bad argument: exit status 2)."""


# --------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class KnownDataset:
    name: str
    kind: str  # "analogies" or "similarity"
    filename: str  # in gensim's test data
    aliases: tuple[str, ...] = ()


DATASETS = (
    # the Google analogy set (Mikolov et al. 2013): 19,544 questions in 14 sections
    KnownDataset("google", "analogies", "questions-words.txt", ("questions-words",)),
    # WordSim-353 (Finkelstein et al. 2002) and SimLex-999 (Hill et al. 2015)
    KnownDataset("wordsim353", "similarity", "wordsim353.tsv", ("ws353", "wordsim-353")),
    KnownDataset("simlex999", "similarity", "simlex999.txt", ("simlex", "simlex-999")),
)
DEFAULT_SIMILARITY = ("wordsim353", "simlex999")


def dataset_names(kind: str) -> list[str]:
    return [d.name for d in DATASETS if d.kind == kind]


def gensim_test_data() -> Path:
    """gensim's bundled test data directory, found without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the bundled datasets come with gensim, which is not installed; "
                           "pass a dataset file instead")
    return Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data"


def locate(spec: str, kind: str) -> tuple[str, Path]:
    """A dataset name or file -> (display name, path)."""
    key = spec.lower()
    for known in DATASETS:
        if key == known.name or key in known.aliases:
            if known.kind != kind:
                what = "an analogy" if known.kind == "analogies" else "a word-pair"
                raise DatasetError(f"'{shown(spec)}' is {what} dataset: use "
                                   f"'embedcli evaluate {known.kind} {known.name}'")
            path = gensim_test_data() / known.filename
            if not path.is_file():
                raise DatasetError(f"the {known.name} dataset is missing from gensim's test "
                                   f"data ({shown(str(path))}); reinstall gensim or pass a file")
            return known.name, path
    path = Path(spec).expanduser()
    if path.is_dir():
        raise DatasetError(f"dataset {shown(spec)} is a directory, not a file")
    if not path.exists():
        raise DatasetError(f"unknown dataset '{shown(spec)}': not a dataset name "
                           f"({', '.join(dataset_names(kind))}) and no such file")
    return str(spec), path


def _is_dataset_name(spec: str) -> bool:
    key = spec.lower()
    return any(key == known.name or key in known.aliases for known in DATASETS)


def analogy_files(spec: str) -> list[tuple[str, Path]]:
    """An analogy dataset name, file or directory -> (display name, path) of each file.

    A directory stands for its ``*.txt`` files (not the hidden ones) in sorted order; a
    name of a dataset wins over a directory of that name, as it does over a file.
    """
    path = Path(spec).expanduser()
    if _is_dataset_name(spec) or not path.is_dir():
        return [locate(spec, "analogies")]
    try:
        files = sorted((p for p in path.iterdir() if p.suffix == ".txt"
                        and not p.name.startswith(".") and p.is_file()), key=lambda p: p.name)
    except OSError as exc:
        raise DatasetError(f"cannot read dataset directory {shown(spec)}: "
                           f"{exc.strerror or exc}") from None
    if not files:
        raise DatasetError(f"dataset directory {shown(spec)} holds no .txt file")
    return [(str(p), p) for p in files]


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read dataset {shown(str(path))}: "
                           f"{exc.strerror or exc}") from None


def _check_utf8(data: bytes, path: Path) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise DatasetError(f"{shown(str(path))} line {line}: not UTF-8 text ({exc.reason} at byte "
                           f"{column} of the line)") from None


@dataclass(frozen=True)
class Question:
    """``a : b :: c : expected`` (a is to b as c is to expected), from a line of a file."""

    line: int  # 1-based
    words: tuple[str, str, str, str]  # a b c expected, as written
    section: str = ""

    @property
    def expected(self) -> str:
        return self.words[3]

    @property
    def text(self) -> str:
        a, b, c, _ = self.words
        return f"{a} : {b} :: {c} : ?"

    @property
    def query(self) -> Query:
        """b - a + c, as ``embedcli analogy`` reads the proportion."""
        a, b, c, _ = self.words
        return Query((Term(b), Term(a, -1.0), Term(c)), "proportion", self.text)


@dataclass(frozen=True)
class AnalogySection:
    name: str
    questions: list[Question]


@dataclass(frozen=True)
class AnalogyFile:
    """One file of a dataset: where its sections and questions came from."""

    name: str  # as given (a dataset name, or the path)
    path: str
    lines: int  # lines in the file (a last line without a newline counts)
    sections: int
    questions: int
    invalid_lines: list[int] = field(default_factory=list)  # 1-based, in this file


@dataclass(frozen=True)
class AnalogySet:
    name: str
    path: str
    sections: list[AnalogySection]
    # skipped, as gensim does; for several files, numbered through them one after the
    # other, as ``cat`` numbers them (each file's own numbers are in ``files``)
    invalid_lines: list[int] = field(default_factory=list)
    files: list[AnalogyFile] = field(default_factory=list)

    @property
    def questions(self) -> int:
        return sum(len(s.questions) for s in self.sections)


def read_analogies(path: Path, name: str | None = None, *,
                   file_section: bool = False) -> AnalogySet:
    """Parse ``: section`` lines and ``a b c d`` questions, as gensim reads them.

    Like gensim, a line that is not a header and not four words is skipped (its number is
    kept in ``invalid_lines``; blank lines are ignored silently). Unlike gensim, blank
    lines before the first header are allowed. A question before the first header is an
    error, except, with ``file_section``, in a file with no header at all: its questions
    are one section named after the file (its name without the extension), as in GloVe's
    ``eval/question-data``.
    """
    data = _read_bytes(path)
    _check_utf8(data, path)
    raw_lines = data.split(b"\n")
    sections: list[AnalogySection] = []
    if file_section and not any(raw.startswith(b": ") for raw in raw_lines):
        sections.append(AnalogySection(path.stem, []))
    invalid: list[int] = []
    for number, raw in enumerate(raw_lines, 1):
        line = raw.decode("utf-8")
        if line.startswith(": "):
            sections.append(AnalogySection(line.lstrip(": ").strip(), []))
            continue
        words = line.split()
        if not words:
            continue
        if not sections:
            raise DatasetError(f"{shown(str(path))} line {number}: a question before the "
                               "first section header; an analogy file starts with a line like "
                               "': capital-common-countries'")
        if len(words) != 4:
            invalid.append(number)
            continue
        sections[-1].questions.append(Question(number, (words[0], words[1], words[2],
                                                        words[3]), sections[-1].name))
    questions = sum(len(s.questions) for s in sections)
    if questions == 0:
        raise DatasetError(f"{shown(str(path))}: no analogy questions found (expected "
                           "': section' lines and lines of four words, 'a b c d': a is to b "
                           "as c is to d)")
    lines = len(raw_lines) - (raw_lines[-1] == b"")
    name = name or str(path)
    return AnalogySet(name, str(path), sections, invalid,
                      [AnalogyFile(name, str(path), lines, len(sections), questions, invalid)])


def combine_analogies(sets: Sequence[AnalogySet], name: str, path: str) -> AnalogySet:
    """Several sets as one, read one after the other: their sections in order (two
    sections of the same name stay two), their skipped lines numbered through them."""
    sections = [section for one in sets for section in one.sections]
    files = [file for one in sets for file in one.files]
    invalid: list[int] = []
    before = 0
    for file in files:
        invalid += [before + n for n in file.invalid_lines]
        before += file.lines
    return AnalogySet(name, path, sections, invalid, files)


def read_analogy_datasets(specs: Sequence[str],
                          on_read: Callable[[AnalogySet], None] | None = None) -> AnalogySet:
    """Dataset names, files and directories (:func:`analogy_files`) -> one set.

    Each file is read with ``file_section`` (a file with no ``: section`` line is one
    section named after it) and handed to ``on_read``, if given. The set is named after the
    specs, and its path is theirs, joined with ", " when there are several.
    """
    if not specs:
        raise DatasetError("no analogy dataset given")
    sets: list[AnalogySet] = []
    names: list[str] = []
    paths: list[str] = []
    for spec in specs:
        files = analogy_files(spec)
        if _is_dataset_name(spec) or not Path(spec).expanduser().is_dir():
            names.append(files[0][0])
            paths.append(str(files[0][1]))
        else:
            names.append(spec)
            paths.append(str(Path(spec).expanduser()))
        for file_name, file_path in files:
            one = read_analogies(file_path, file_name, file_section=True)
            if on_read is not None:
                on_read(one)
            sets.append(one)
    return combine_analogies(sets, ", ".join(names), ", ".join(paths))


@dataclass(frozen=True)
class Pair:
    line: int  # 1-based
    a: str
    b: str
    score: float


@dataclass(frozen=True)
class PairSet:
    name: str
    path: str
    pairs: list[Pair]
    invalid_lines: list[int] = field(default_factory=list)


def read_pairs(path: Path, name: str | None = None, delimiter: str = "\t") -> PairSet:
    """Parse ``word<TAB>word<TAB>score`` lines, as gensim reads them.

    Lines starting with ``#`` are comments. Like gensim, any other line that is not three
    fields with a number last is skipped (kept in ``invalid_lines``; blank ones silently).
    """
    data = _read_bytes(path)
    _check_utf8(data, path)
    pairs: list[Pair] = []
    invalid: list[int] = []
    # text mode with universal newlines, as gensim opens the file
    with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8") as text:
        for number, line in enumerate(text, 1):
            if not line or line.startswith("#"):
                continue
            fields = line.split(delimiter)
            try:
                a, b, score = fields
                value = float(score)
            except ValueError:
                if line.strip():
                    invalid.append(number)
                continue
            pairs.append(Pair(number, a, b, value))
    if not pairs:
        raise DatasetError(f"{shown(str(path))}: no word pairs found (expected lines "
                           "'word<TAB>word<TAB>score'; '#' starts a comment)")
    return PairSet(name or str(path), str(path), pairs, invalid)


# --------------------------------------------------------------------------- vocabulary


def _ok_vocab(model: Model, restrict: int | None,
              case_insensitive: bool) -> tuple[int, dict[str, int]]:
    """gensim's ``ok_vocab``: key -> row over the first ``restrict`` words.

    Upper-cased keys when ``case_insensitive``: a key then stands for its most frequent
    case variant (the first row), as gensim's reversed dict comprehension makes it.
    """
    clip = len(model) if restrict is None else min(restrict, len(model))
    words = model.words(clip)
    # upper-casing maps character by character and never makes or takes a newline, so
    # one call on the joined words is the words upper-cased one by one, only faster
    keys = "\n".join(words).upper().split("\n") if case_insensitive else words
    return clip, dict(zip(reversed(keys), range(clip - 1, -1, -1), strict=True))


# --------------------------------------------------------------------------- analogies


@dataclass(frozen=True)
class SectionScore:
    """Counts for one section (or a summary of several)."""

    name: str
    kind: str  # "semantic", "syntactic" or "summary"
    correct: int
    incorrect: int
    skipped: int  # questions with a word outside the restricted vocabulary

    @property
    def evaluated(self) -> int:
        return self.correct + self.incorrect

    @property
    def questions(self) -> int:
        return self.evaluated + self.skipped

    @property
    def accuracy(self) -> float | None:
        """correct / evaluated (gensim's score); None when nothing was evaluated."""
        return self.correct / self.evaluated if self.evaluated else None


@dataclass(frozen=True)
class WrongAnswer:
    section: str
    line: int
    question: tuple[str, str, str]  # a b c as written in the file
    expected: str  # as written
    predicted: str | None  # the model's word (None: no candidate at all)
    predicted_score: float | None
    expected_rank: int | None  # where the expected word ranks (1 = first), inputs left out
    expected_score: float | None  # None: the expected word is an input


@dataclass(frozen=True)
class AnalogyReport:
    dataset: str
    path: str
    model: str
    method: str
    restrict: int | None  # as asked (None: the whole vocabulary)
    words: int  # the vocabulary actually used: min(restrict, the model's size)
    case_insensitive: bool
    sections: list[SectionScore]
    semantic: SectionScore
    syntactic: SectionScore
    total: SectionScore
    errors: list[WrongAnswer] = field(default_factory=list)
    invalid_lines: list[int] = field(default_factory=list)  # as AnalogySet's
    # how semantic and syntactic were told apart: "name" (a name that starts with "gram"
    # is syntactic) or "first N" (the first N sections are semantic)
    split: str = "name"
    files: list[AnalogyFile] = field(default_factory=list)  # the dataset's files, in order

    @property
    def coverage(self) -> float:
        """Share of the questions that were evaluated (all four words known)."""
        return self.total.evaluated / self.total.questions if self.total.questions else 0.0

    @property
    def oov_percent(self) -> float:
        """gensim's logged 'Quadruplets with out-of-vocabulary words' percentage."""
        # gensim's arithmetic, so that the float is the same
        return float(self.total.skipped) / self.total.questions * 100 \
            if self.total.questions else 0.0


def _summary(name: str, parts: Sequence[SectionScore]) -> SectionScore:
    return SectionScore(name, "summary", sum(p.correct for p in parts),
                        sum(p.incorrect for p in parts), sum(p.skipped for p in parts))


def evaluate_analogies(model: Model, dataset: AnalogySet, *,
                       restrict: int | None = DEFAULT_RESTRICT, method: str = "add",
                       case_insensitive: bool = True, show_errors: int = 0,
                       semantic_sections: int | None = None,
                       progress: Progress | None = None) -> AnalogyReport:
    """Accuracy on an analogy set, exactly as gensim's ``evaluate_word_analogies``.

    Parameters
    ----------
    restrict
        Only the first ``restrict`` rows (most frequent words) count: questions with
        another word are skipped, and only these rows are candidate answers (gensim's
        ``restrict_vocab``). None: the whole vocabulary.
    method
        ``"add"`` (3CosAdd, gensim's ``most_similar``, the only one gensim's evaluator
        has) or ``"mul"`` (3CosMul, as ``most_similar_cosmul`` scores, but restricted).
    case_insensitive
        Compare upper-cased words, as gensim does by default.
    show_errors
        How many wrong answers to report, spread evenly over all wrong answers.
    semantic_sections
        None: a section is syntactic when its name starts with ``gram``, else semantic (the
        split by name). N: the first N sections are semantic, the rest syntactic (the split
        by position of word2vec's ``compute-accuracy``, which takes 5).
    progress
        Called with (questions done, questions to answer) as the work advances.
    """
    if method not in ("add", "mul"):
        raise UsageError(f"unknown method '{method}' (use add or mul)")
    if semantic_sections is not None and semantic_sections < 0:
        raise UsageError(f"semantic_sections must be 0 or more, not {semantic_sections}")
    clip, ok_vocab = _ok_vocab(model, restrict, case_insensitive)

    def key(word: str) -> str:
        return word.upper() if case_insensitive else word

    rows: list[tuple[int, int, int]] = []  # a, b, c rows of each evaluated question
    expected: list[str] = []
    ignore: list[tuple[str, str, str]] = []
    where: list[tuple[int, Question]] = []  # section number, question
    skipped = [0] * len(dataset.sections)
    for s, section in enumerate(dataset.sections):
        for q in section.questions:
            a, b, c, d = (key(w) for w in q.words)
            if a not in ok_vocab or b not in ok_vocab or c not in ok_vocab or d not in ok_vocab:
                skipped[s] += 1
                continue
            rows.append((ok_vocab[a], ok_vocab[b], ok_vocab[c]))
            expected.append(d)
            ignore.append((a, b, c))
            where.append((s, q))

    if not rows:
        raise QueryError(f"none of the {dataset.questions:,} questions of "
                         f"{shown(dataset.path)} has all four words among the first {clip:,} "
                         f"words of {shown(model.name)}")
    index = np.array(rows, dtype=np.int64)
    candidates = model.vectors[:clip]
    dead = np.flatnonzero(np.asarray(model.norms[:clip]) == 0)  # gensim scores these NaN
    scorer: Scorer = (_AddScorer if method == "add" else _MulScorer)(candidates, index)
    # the _K best of every question by float32 score (ties: the lower row), in one pass;
    # with show_errors, the same pass counts the rows above each expected word (the
    # threshold of a question answered right is at the top: that costs next to nothing).
    # The float32 scores of a pass and of single pairs can differ by rounding: by at most
    # margin_for's bound for cosines; cosmul's ratios get a wider margin. A margin only
    # adds candidates, so the _K best by float32 score are the same.
    margin, targets = 0.0, None
    if show_errors > 0:
        margin = margin_for(model.dim) * (1 if method == "add" else 64)
        targets = _expected_scores(scorer, index, np.array([ok_vocab[e] for e in expected]),
                                   dead)
    found = top_k(scorer, np.full(len(index), _K), clip, dead=dead, progress=progress,
                  margin=margin,
                  thresholds=None if targets is None else
                  np.where(np.isfinite(targets), targets, np.float32(np.inf))[:, None])
    best = found.best(_K)

    correct = [0] * len(dataset.sections)
    incorrect = [0] * len(dataset.sections)
    wrong: list[tuple[int, int]] = []  # question number, predicted row (-1: none)
    word_of = model.word
    for i, (s, _q) in enumerate(where):
        a, b, c = index[i]
        predicted: str | None = None
        predicted_row = -1
        seen = 0
        for row in best[i]:  # gensim: the 5 best, input rows left out
            if row < 0 or row == a or row == b or row == c:
                continue
            seen += 1
            if seen > TOPN:
                break
            predicted_row = int(row)
            predicted = key(word_of(predicted_row))
            if predicted not in ignore[i]:
                break
        if predicted == expected[i]:
            correct[s] += 1
        else:
            incorrect[s] += 1
            wrong.append((i, predicted_row))

    sections = [SectionScore(sec.name, _kind(s, sec.name, semantic_sections), correct[s],
                             incorrect[s], skipped[s])
                for s, sec in enumerate(dataset.sections)]
    errors = []
    if show_errors > 0 and wrong:
        count = min(show_errors, len(wrong))
        step = len(wrong) / count
        picked = [wrong[int(j * step)] for j in range(count)]
        questions = np.array([i for i, _ in picked], dtype=np.int64)
        predicted_rows = np.array([r for _, r in picked], dtype=np.int64)
        assert targets is not None
        scores = scorer.pairs(questions, np.maximum(predicted_rows, 0))
        ranks = _expected_ranks(scorer, index, questions, targets, found, dead)
        for j, (i, predicted_row) in enumerate(picked):
            s, q = where[i]
            known = bool(np.isfinite(targets[i]))
            errors.append(WrongAnswer(
                dataset.sections[s].name, q.line, q.words[:3], q.words[3],
                word_of(predicted_row) if predicted_row >= 0 else None,
                float(scores[j]) if predicted_row >= 0 else None,
                int(ranks[j]) if known else None, float(targets[i]) if known else None))
    return AnalogyReport(
        dataset.name, dataset.path, model.name, method, restrict, clip, case_insensitive,
        sections,
        _summary("semantic", [x for x in sections if x.kind == "semantic"]),
        _summary("syntactic", [x for x in sections if x.kind == "syntactic"]),
        _summary("total", sections), errors, list(dataset.invalid_lines),
        "name" if semantic_sections is None else f"first {semantic_sections}",
        list(dataset.files))


def _kind(position: int, name: str, semantic_sections: int | None) -> str:
    """A section's kind: by name (``gram...`` is syntactic) or by position (0-based)."""
    if semantic_sections is None:
        return "syntactic" if name.startswith("gram") else "semantic"
    return "semantic" if position < semantic_sections else "syntactic"


class _AddScorer(DotScorer):
    """3CosAdd: cosine with the normalised mean of b, c and -a (gensim's arithmetic).

    gensim builds ``mean = (b + c) - a`` in float32 from unit vectors, divides by the
    total weight 3 in float64, scales by the reciprocal of the length and rounds to
    float32; the query vectors here are made the same way.
    """

    def __init__(self, candidates: np.ndarray, index: np.ndarray):
        def unit(rows: np.ndarray) -> np.ndarray:
            return np.asarray(candidates[rows], dtype=np.float32)

        summed = unit(index[:, 1]) + unit(index[:, 2])
        summed -= unit(index[:, 0])
        mean = summed.astype(np.float64) / 3.0
        length = np.sqrt(np.einsum("ij,ij->i", mean, mean))
        scale = np.divide(1.0, length, out=np.ones_like(length), where=length > 0)
        super().__init__(candidates, (mean * scale[:, None]).astype(np.float32))


class _MulScorer(Scorer):
    """3CosMul (gensim's ``most_similar_cosmul`` formula, float32):
    ``((1 + cos(x, b)) / 2 * (1 + cos(x, c)) / 2) / ((1 + cos(x, a)) / 2 + 1e-6)``.

    For a block of questions, the cosines with its distinct words are one matrix product;
    each question then combines three columns of that.
    """

    def __init__(self, candidates: np.ndarray, index: np.ndarray):
        super().__init__(candidates)
        self.index = index
        self._scratch = threading.local()  # a worker's temporary tile, reused

    def prepare(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        words, inverse = np.unique(self.index[queries], return_inverse=True)
        return self.gather(words), inverse.reshape(len(queries), 3)

    def scores(self, prepared: tuple[np.ndarray, np.ndarray], block: np.ndarray,
               out: np.ndarray | None = None) -> np.ndarray:
        units, position = prepared
        shifted = units @ block.T  # (distinct words, block)
        shifted += np.float32(1)
        shifted /= np.float32(2)
        shape = (len(position), len(block))
        scratch = getattr(self._scratch, "tile", None)
        if scratch is None or scratch.shape != shape:
            scratch = self._scratch.tile = np.empty(shape, dtype=np.float32)
        return _cosmul(shifted, position, out, scratch)

    def pairs(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        candidates = self.gather(rows)
        shifted = np.stack([np.einsum("ij,ij->i", self.gather(self.index[queries, k]),
                                      candidates) for k in range(3)])
        shifted += np.float32(1)
        shifted /= np.float32(2)
        a, b, c = shifted
        return b * c / (a + np.float32(0.000001))


def _cosmul(shifted: np.ndarray, position: np.ndarray, out: np.ndarray | None,
            scratch: np.ndarray) -> np.ndarray:
    """gensim's formula over the rows ``position[:, k]`` of ``shifted`` (k: a, b, c)."""
    out = np.take(shifted, position[:, 1], axis=0, out=out)
    out *= np.take(shifted, position[:, 2], axis=0, out=scratch)
    denominator = np.take(shifted, position[:, 0], axis=0, out=scratch)
    denominator += np.float32(0.000001)
    out /= denominator
    return out


def _expected_scores(scorer: Scorer, index: np.ndarray, expected: np.ndarray,
                     dead: np.ndarray) -> np.ndarray:
    """Each question's score of its expected row, scored pair by pair (-inf: the expected
    word is one of the question's inputs, or dead: never a candidate)."""
    target = scorer.pairs(np.arange(len(index)), expected).astype(np.float32)
    target[(index == expected[:, None]).any(axis=1) | np.isin(expected, dead)] = -np.inf
    return target


def _expected_ranks(scorer: Scorer, index: np.ndarray, questions: np.ndarray,
                    targets: np.ndarray, found: Found, dead: np.ndarray) -> np.ndarray:
    """For each of ``questions``: the rank (1 = first) of its expected row among the
    candidates, the input rows left out as gensim ranks them (meaningless where its
    target is -inf).

    ``found`` is the pass that answered the questions, with each expected score
    (``targets``) as a threshold: it counted the rows above a threshold by more than
    the margin, and listed the rows within it, since the scores of a pass's tiles and of
    :meth:`Scorer.pairs` may differ in the last bits; those are scored pair by pair, like
    the expected row itself, and compared with it.
    """
    m = len(questions)
    inputs = index[questions]
    target = targets[questions]
    counts = found.counts[questions, 0].copy()
    at = np.full(len(index), -1, dtype=np.intp)
    at[questions] = np.arange(m)
    all_q, _, all_r = found.near
    mine = at[all_q] >= 0
    nq, nr = at[all_q[mine]], all_r[mine]
    near_input = (inputs[nq] == nr[:, None]).any(axis=1)
    above = scorer.pairs(questions[nq], nr) > target[nq]
    np.add.at(counts, nq[above & ~near_input], 1)
    # an input row above the expected word by more than the margin was counted: it is no
    # candidate (each input once; the near ones were never counted); a dead input never is
    own = scorer.pairs(np.repeat(questions, inputs.shape[1]), inputs.ravel()).reshape(
        inputs.shape)
    own[np.isin(inputs, dead)] = -np.inf
    listed = set(zip(nq[near_input].tolist(), nr[near_input].tolist(), strict=True))
    for j in range(m):
        words = inputs[j].tolist()
        for c, row in enumerate(words):
            if row not in words[:c] and (j, row) not in listed and own[j, c] > target[j]:
                counts[j] -= 1
    return counts + 1


# --------------------------------------------------------------------------- word pairs


@dataclass(frozen=True)
class PairScore:
    dataset: str
    path: str
    pairs: int  # valid lines
    used: int  # pairs with both words known
    oov: int  # pairs skipped for an unknown word
    pearson: float
    spearman: float
    invalid_lines: list[int] = field(default_factory=list)

    @property
    def oov_percent(self) -> float:
        """gensim's ``oov_ratio`` (a percentage)."""
        return float(self.oov) / self.pairs * 100 if self.pairs else 0.0  # gensim's arithmetic


@dataclass(frozen=True)
class PairsReport:
    model: str
    restrict: int | None  # as asked (None: the whole vocabulary)
    words: int  # the vocabulary actually used
    case_insensitive: bool
    results: list[PairScore]


def evaluate_pairs(model: Model, datasets: Sequence[PairSet], *,
                   restrict: int | None = DEFAULT_RESTRICT,
                   case_insensitive: bool = True) -> PairsReport:
    """Correlation with human similarity scores, exactly as gensim's ``evaluate_word_pairs``.

    Pairs with a word outside the first ``restrict`` words are skipped and counted.
    """
    clip, ok_vocab = _ok_vocab(model, restrict, case_insensitive)
    results = []
    for dataset in datasets:
        gold: list[float] = []
        left: list[int] = []
        right: list[int] = []
        oov = 0
        for pair in dataset.pairs:
            a, b = (pair.a.upper(), pair.b.upper()) if case_insensitive else (pair.a, pair.b)
            if a not in ok_vocab or b not in ok_vocab:
                oov += 1
                continue
            gold.append(pair.score)
            left.append(ok_vocab[a])
            right.append(ok_vocab[b])
        if not gold:
            raise QueryError(f"no pair of {shown(dataset.path)} has both words among the first "
                             f"{clip:,} words of {shown(model.name)}")
        va = np.asarray(model.vectors[left], dtype=np.float32)
        vb = np.asarray(model.vectors[right], dtype=np.float32)
        sims = np.einsum("ij,ij->i", va, vb)
        results.append(PairScore(dataset.name, dataset.path, len(dataset.pairs), len(gold),
                                 oov, pearson(gold, sims), spearman(gold, sims),
                                 list(dataset.invalid_lines)))
    return PairsReport(model.name, restrict, clip, case_insensitive, results)


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson's r, computed as scipy's ``pearsonr`` does (float64; NaN when undefined)."""
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.size < 2:
        return float("nan")
    xm = xa - xa.mean()
    ym = ya - ya.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        xmax = np.abs(xm).max()
        ymax = np.abs(ym).max()
        nx = xmax * np.linalg.norm(xm / xmax)
        ny = ymax * np.linalg.norm(ym / ymax)
        if not (nx > 0 and ny > 0):
            return float("nan")
        r = float(np.dot(xm / nx, ym / ny))
    return max(-1.0, min(1.0, r))


def average_ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of their ranks (scipy's ``rankdata``)."""
    a = np.asarray(values, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ordered = a[order]
    new = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.concatenate([starts[1:], [a.size]])
    mean_rank = (starts + ends + 1) / 2.0  # ranks start+1 .. end, averaged
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = mean_rank[group]
    return ranks


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the average ranks."""
    return pearson(average_ranks(x), average_ranks(y))
