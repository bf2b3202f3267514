"""The map of ``embedcli explore``, computed before any page is written: which words, where
each goes (PCA, t-SNE, UMAP, or two or three directions of the space), each word's nearest
neighbours in the full space, and the offsets of the analogies asked for.

Pure: nothing here prints; reading a ``--words-file`` is the only I/O. ``embedcli.page``
writes the page from a :class:`Map`. The pieces ``plot`` uses are reused: the word
vectors and the PCA and t-SNE of ``embedcli.classroom``, the analogy reader, and the
engine's rankings, so that a word's neighbours on the map are those of ``embedcli
neighbors WORD`` (the same plans, answered together by ``rank_many``).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from embedcli.classroom import not_installed, parse_analogy, pca, tsne
from embedcli.engine.directions import along, direction_vector
from embedcli.engine.ranking import make_plan, query_vector, rank_many, rank_query
from embedcli.engine.results import Hit
from embedcli.engine.words import Resolver
from embedcli.errors import EmbedcliError, QueryError, UnknownWordError, UsageError, shown
from embedcli.expr import Group, Query, Term, parse_direction
from embedcli.models import Model
from embedcli.queries import Spec, passes, words_only

MAX_MAP = 10_000  # words on one map: the page stays small enough to mail (see page.py)
MAX_TOP = 100  # neighbours listed for each word
MAX_NEIGHBORS = 100  # --neighbors K of each word given
DEFAULT_FREQUENT = 2_000
DEFAULT_NEIGHBORS = 5
DEFAULT_TOP = 10  # as `embedcli neighbors`
METHODS = ("pca", "tsne", "umap")

# Why a word is on the map, most specific first: a word that comes for two reasons keeps
# the first. Every role but "frequent" is labelled on the map.
ROLES = ("given", "analogy", "axis", "listed", "group", "neighbor", "frequent")


# --------------------------------------------------------------------------- reading options


def check_direction(text: str) -> None:
    """An ``--x-axis`` text that is no direction fails before the model is loaded (it is
    read again against the model's words, which decide whether ``e-mail`` is one)."""
    parse_direction(text)


def axis_direction(model: Model, text: str, resolve: Resolver) -> tuple[Axis, np.ndarray]:
    """An axis of a map on directions: ``A -> B`` (each end a word or an expression) and
    its unit vector, ``unit(unit(B) - unit(A))``, from the engine's ``direction_vector``,
    as ``embedcli axis`` and ``plot --x-axis`` compute it. A word's coordinate on it is the
    cosine of its unit vector with that vector (``directions.along``)."""
    found = parse_direction(text, resolve.is_word)
    unit = direction_vector(model, [found], resolve)
    start, end = (query_vector(model, q, resolve)[0] for q in (found.start, found.end))
    words = [q.terms[0].word for q in (found.start, found.end)
             if len(q.terms) == 1 and q.terms[0].weight > 0]
    return Axis(start, end, tuple(resolve(w)[1] for w in words)), unit


def read_words_file(path: str) -> list[tuple[int, str]]:
    """A teacher's list: (line number, text) for each line that is not blank or a ``#``
    comment. A line is one word, or several separated by white space (which one is decided
    against the model: see :func:`choose`). Missing, unreadable or non-UTF-8: a usage
    error naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as exc:
        raise UsageError(f"--words-file {shown(path)}: not UTF-8 (byte {exc.start:,})") from None
    except OSError as exc:
        raise UsageError(f"--words-file {shown(path)}: cannot read it "
                         f"({exc.strerror or exc})") from None
    return [(n, line.strip()) for n, line in enumerate(lines, 1)
            if line.strip() and not line.strip().startswith("#")]


def check_method(method: str) -> None:
    """A projection that needs a library which is not installed fails before any work."""
    if method not in METHODS:
        raise UsageError(f"unknown --method '{method}' (use pca, tsne or umap)")
    needs = {"tsne": ("sklearn", "scikit-learn"), "umap": ("umap", "umap-learn")}
    if method in needs:
        module, package = needs[method]
        if importlib.util.find_spec(module) is None:
            raise not_installed(method, package)


def check_sizes(*, frequent: int, neighbors: int, top: int) -> None:
    if frequent < 0:
        raise UsageError(f"invalid value for --frequent: {frequent} is below 0")
    if frequent > MAX_MAP:
        raise UsageError(f"--frequent takes at most {MAX_MAP:,} words, not {frequent:,}")
    if neighbors < 0:
        raise UsageError(f"invalid value for --neighbors: {neighbors} is below 0")
    if neighbors > MAX_NEIGHBORS:
        raise UsageError(f"--neighbors takes at most {MAX_NEIGHBORS:,}, not {neighbors:,}")
    if top < 1:
        raise UsageError(f"invalid value for -n/--top: {top} is not at least 1")
    if top > MAX_TOP:
        raise UsageError(f"-n/--top takes at most {MAX_TOP:,} neighbours a word, not {top:,}")


# --------------------------------------------------------------------------- the map


@dataclass(frozen=True)
class Offset:
    """An analogy a:b::c:d, as indexes into ``Map.words``, and how parallel its two offsets
    are: the cosine of ``b - a`` with ``d - c`` (unit vectors, in the full space)."""

    text: str
    a: int
    b: int
    c: int
    d: int
    cosine: float


@dataclass(frozen=True)
class Axis:
    """A direction of the space that a map's axis shows: from ``start`` to ``end`` (each
    a word, or an expression as written); ``words``: the ends that are words."""

    start: str
    end: str
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Map:
    """Everything a page shows, computed: tests read it, ``embedcli.page`` writes it."""

    model: str
    vocabulary: int  # the model's size: neighbours are searched among all of these
    dim: int
    words: list[str]
    roles: list[str]  # one of ROLES, a word
    groups: list[str]  # the --group names, in order
    group_of: list[int | None]  # a word's group (an index into groups), if any
    coords: np.ndarray  # (n, 2) or (n, 3)
    method: str  # "pca", "tsne", "umap", or "axes" (--x-axis / --y-axis)
    top: int  # neighbours listed for each word
    neighbours: list[list[Hit]]  # each word's nearest words in the full space
    explained: tuple[float, ...] | None = None  # PCA: the share of variance of each axis
    axes: list[Axis] = field(default_factory=list)  # method "axes": each axis's direction
    analogies: list[Offset] = field(default_factory=list)
    seed: int = 0

    @property
    def dims(self) -> int:
        return int(self.coords.shape[1])


class _Chosen:
    """The words of a map in the order they come, each with its first role."""

    def __init__(self, resolve: Resolver):
        self.resolve = resolve
        self.words: list[str] = []
        self.rows: list[int] = []
        self.roles: list[str] = []
        self.group_of: list[int | None] = []
        self.at: dict[str, int] = {}

    def add(self, word: str, role: str, group: int | None = None) -> int:
        row, word = self.resolve(word)
        k = self.at.get(word)
        if k is None:
            k = self.at[word] = len(self.words)
            self.words.append(word)
            self.rows.append(row)
            self.roles.append(role)
            self.group_of.append(group)
        elif group is not None and self.group_of[k] is None:
            self.group_of[k] = group
        return k


def _words_only(what: str, words: Sequence[str], resolve: Resolver) -> None:
    """The map's words are words: an expression says so (as ``rank`` does)."""
    words_only(Spec("explore", tuple(words)), resolve)


def choose(model: Model, resolve: Resolver, words: Sequence[str] = (), *,
           neighbors: int = DEFAULT_NEIGHBORS, frequent: int = DEFAULT_FREQUENT,
           listed: Sequence[tuple[int, str]] = (), listed_from: str = "",
           groups: Sequence[Group] = (), analogies: Sequence[str] = (),
           axis_words: Sequence[str] = ()) -> tuple[_Chosen, list[tuple[str, tuple[int, ...]]]]:
    """The words of a map, in order: the words given, the analogies' words, the axes' end
    words, a words file's, the groups', the ``neighbors`` nearest of each word given, then
    the ``frequent`` most frequent words that hold a letter or a digit (punctuation such
    as ``,`` and ``(`` is left out). Unknown words fail as in ``embedcli neighbors``.
    Returns them with each analogy's four indexes."""
    _words_only("explore", words, resolve)
    chosen = _Chosen(resolve)
    given = [chosen.add(w, "given") for w in words]
    fours = []
    for text in analogies:
        a, b, c, d = parse_analogy(text, resolve.is_word)
        if d is None:
            query = Query((Term(b), Term(a, -1.0), Term(c)), "proportion", text)
            d = rank_query(model, query, resolve, method="add", top=1).results[0].word
        fours.append((text, tuple(chosen.add(w, "analogy") for w in (a, b, c, d))))
    for word in axis_words:
        chosen.add(word, "axis")
    for line, text in listed:
        names = [text] if resolve.is_word(text) else text.split()
        for word in names:
            try:
                chosen.add(word, "listed")
            except UnknownWordError as exc:
                raise QueryError(f"{exc} ({shown(listed_from)}, line {line})") from None
    if len(chosen.words) > MAX_MAP:
        raise UsageError(f"a map takes at most {MAX_MAP:,} words, not {len(chosen.words):,}")
    for g, group in enumerate(groups):
        for word in group.words:
            chosen.add(word, "group", g)
    if neighbors and given:
        around = nearest(model, [chosen.words[k] for k in given], neighbors, resolve)
        for hits in around:
            for hit in hits:
                chosen.add(hit.word, "neighbor")
    if len(chosen.words) > MAX_MAP:
        raise UsageError(f"a map takes at most {MAX_MAP:,} words, not {len(chosen.words):,}")
    if frequent:
        room = MAX_MAP - len(chosen.words)
        for row, word in most_frequent(model, frequent):
            if word not in chosen.at:
                if room == 0:
                    raise UsageError(f"a map takes at most {MAX_MAP:,} words: fewer "
                                     "--frequent ones, or fewer words")
                room -= 1
                chosen.at[word] = len(chosen.words)
                chosen.words.append(word)
                chosen.rows.append(row)
                chosen.roles.append("frequent")
                chosen.group_of.append(None)
    return chosen, fours


def most_frequent(model: Model, n: int) -> list[tuple[int, str]]:
    """The ``n`` most frequent words (rows first) that hold a letter or a digit: the
    context of a map, without punctuation tokens such as ``,`` and ``(``."""
    limit = n + n // 4 + 64
    while True:
        words = model.words(min(limit, len(model)))
        found = [(row, w) for row, w in enumerate(words) if any(c.isalnum() for c in w)]
        if len(found) >= n or limit >= len(model):
            return found[:n]
        limit *= 2


def nearest(model: Model, words: Sequence[str], top: int, resolve: Resolver) -> list[list[Hit]]:
    """Each word's ``top`` nearest neighbours among all the model's words: the plans of
    ``embedcli neighbors WORD --top N``, answered together (``rank_many``, in passes of
    bounded size), so the words, their order and their scores are that command's. A word
    with no usable vector (all zero in its file) has none."""
    plans = []
    where = []
    for k, word in enumerate(words):
        try:
            plans.append(make_plan(model, Query((Term(word),), "expression", word), resolve,
                                   "add", top, None, False, "cosine"))
            where.append(k)
        except EmbedcliError:
            pass
    out: list[list[Hit]] = [[] for _ in words]
    for group in passes(plans):
        for j, ranking in zip(group, rank_many(model, [plans[j] for j in group]), strict=True):
            out[where[j]] = list(ranking.results)
    return out


def umap(rows: np.ndarray, seed: int = 0, dims: int = 2) -> np.ndarray:
    """UMAP (umap-learn) to ``dims`` dimensions, with a fixed seed (which umap-learn makes
    single-threaded, and so repeatable)."""
    try:
        import umap as umap_learn  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise not_installed("umap", "umap-learn") from None
    n = len(rows)
    if n < 4:
        raise UsageError("--method umap needs at least four words")
    reducer = umap_learn.UMAP(n_components=dims, n_neighbors=min(15, n - 1), random_state=seed,
                              n_jobs=1, init="spectral" if n > dims + 1 else "random")
    with warnings.catch_warnings():  # its notes on parallelism and on spectral init
        warnings.simplefilter("ignore")
        return np.asarray(reducer.fit_transform(np.asarray(rows, dtype=np.float64)))


def project(rows: np.ndarray, method: str, dims: int, seed: int = 0
            ) -> tuple[np.ndarray, tuple[float, ...] | None]:
    """The words placed in ``dims`` dimensions, with PCA's share of variance per axis."""
    check_method(method)
    if method == "pca":
        projection = pca(rows, dims)
        return projection.coords, projection.explained
    if method == "tsne":
        return tsne(rows, seed, dims).coords, None
    return umap(rows, seed, dims), None


def build(model: Model, resolve: Resolver, words: Sequence[str] = (), *,
          neighbors: int = DEFAULT_NEIGHBORS, frequent: int = DEFAULT_FREQUENT,
          listed: Sequence[tuple[int, str]] = (), listed_from: str = "",
          groups: Sequence[Group] = (), analogies: Sequence[str] = (),
          method: str = "pca", axes: Sequence[str] = (), dims: int = 2,
          top: int = DEFAULT_TOP, seed: int = 0) -> Map:
    """The map: its words (see :func:`choose`), their places, their neighbours.

    Vectors are the unit-normalised ones, so the map shows cosine geometry, the geometry
    every other command answers in. With ``axes`` (one ``A -> B`` a dimension) each
    coordinate is a word's cosine with the direction from A to B (:func:`axis_direction`);
    otherwise ``method`` projects them, fitted on all the map's words (the frequent ones
    too, so that a handful of words is not spread over the whole picture).
    """
    check_sizes(frequent=frequent, neighbors=neighbors, top=top)
    if dims not in (2, 3):
        raise ValueError("a map has 2 or 3 dimensions")
    if axes and len(axes) != dims:
        raise UsageError("--x-axis and --y-axis go together" if dims == 2 else
                         "a 3-D map on directions needs --x-axis, --y-axis and --z-axis")
    if not axes:
        check_method(method)
    directions = [axis_direction(model, text, resolve) for text in axes]
    axis_words = [w for axis, _ in directions for w in axis.words]
    chosen, fours = choose(model, resolve, words, neighbors=neighbors, frequent=frequent,
                           listed=listed, listed_from=listed_from, groups=groups,
                           analogies=analogies, axis_words=axis_words)
    n = len(chosen.words)
    if n < 2:
        raise UsageError("a map needs at least two words (WORDs, --frequent, --words-file "
                         "or --group)")
    rows = model.rows(list(chosen.rows)).astype(np.float64)
    explained = None
    if directions:
        coords = np.stack([along(model, unit, chosen.rows) for _, unit in directions], axis=1)
        how = "axes"
    else:
        coords, explained = project(rows, method, dims, seed)
        how = method
    offsets = []
    for text, (a, b, c, d) in fours:
        first, second = rows[b] - rows[a], rows[d] - rows[c]
        lengths = float(np.linalg.norm(first) * np.linalg.norm(second))
        cosine = float(first @ second / lengths) if lengths > 0 else 0.0
        offsets.append(Offset(text, a, b, c, d, cosine))
    return Map(model.name, len(model), model.dim, chosen.words, chosen.roles,
               [g.name for g in groups], chosen.group_of, np.asarray(coords, np.float64),
               how, top, nearest(model, chosen.words, top, resolve), explained,
               [axis for axis, _ in directions], offsets, seed)
