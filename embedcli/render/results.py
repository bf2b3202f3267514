"""The engine's results (``embedcli.engine.results``) as machine text and as tables."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from functools import singledispatch
from typing import TYPE_CHECKING, Any

from embedcli.engine.results import (
    Axis,
    OddOneOut,
    Ranking,
    Similarity,
    SimilarityMatrix,
    Vocabulary,
    WordRank,
    WordVector,
)
from embedcli.formats import Format
from embedcli.render.common import (
    Bar,
    Col,
    Fitted,
    HeatLegend,
    Num,
    bar,
    cell,
    heat,
    iter_rows,
    machine_text,
    num,
    rank,
)
from embedcli.render.common import score_style as style_of

if TYPE_CHECKING:
    from rich.console import RenderableType

Rows = tuple[list[str], Iterable[list[Any]]]


# --------------------------------------------------------------------------- json


@singledispatch
def to_dict(result: Any) -> dict[str, Any]:
    raise TypeError(f"no renderer for {type(result).__name__}")


@to_dict.register(Ranking)
def _(result: Ranking) -> dict[str, Any]:
    return {
        "query": result.query,
        "model": result.model,
        "method": result.method,
        "restrict": result.restrict,
        "results": [{"rank": h.rank, "word": h.word, "score": num(h.score)}
                    for h in result.results],
        "excluded": [{"word": e.word, "rank": e.rank, "score": num(e.score)}
                     for e in result.excluded],
    }


@to_dict.register(Similarity)
def _(result: Similarity) -> dict[str, Any]:
    return {"a": result.a, "b": result.b, "similarity": num(result.similarity)}


@to_dict.register(SimilarityMatrix)
def _(result: SimilarityMatrix) -> dict[str, Any]:
    return {"words": result.words, "matrix": [[num(x) for x in row] for row in result.matrix]}


@to_dict.register(OddOneOut)
def _(result: OddOneOut) -> dict[str, Any]:
    return {"odd": result.odd, "model": result.model,
            "words": [{"rank": c.rank, "word": c.word, "distance": num(c.distance)}
                      for c in result.words]}


@to_dict.register(WordRank)
def _(result: WordRank) -> dict[str, Any]:
    return {"a": result.a, "b": result.b, "rank": result.rank,
            "similarity": num(result.similarity)}


@to_dict.register(WordVector)
def _(result: WordVector) -> dict[str, Any]:
    return {"word": result.word, "vector": [num(x) for x in result.values]}


@to_dict.register(Axis)
def _(result: Axis) -> dict[str, Any]:
    return {"axis": {"from": result.start, "to": result.end}, "model": result.model,
            "words": [{"word": s.word, "score": num(s.score)} for s in result.words]}


@to_dict.register(Vocabulary)
def _(result: Vocabulary) -> dict[str, Any]:
    return {"model": result.model,
            "words": [{"rank": e.rank, "word": e.word} for e in result.entries]}


# --------------------------------------------------------------------------- rows


@singledispatch
def rows(result: Any) -> Rows:
    """Header and rows of the tabular formats (tsv, csv, jsonl)."""
    raise TypeError(f"no renderer for {type(result).__name__}")


@rows.register(Ranking)
def _(result: Ranking) -> Rows:
    # the answers, then the left-out input words with the rank each would have had
    body = [[h.rank, h.word, num(h.score), False] for h in result.results]
    body += [[e.rank, e.word, num(e.score), True] for e in result.excluded]
    return ["rank", "word", "score", "excluded"], body


@rows.register(Similarity)
def _(result: Similarity) -> Rows:
    return ["a", "b", "similarity"], [[result.a, result.b, num(result.similarity)]]


@rows.register(SimilarityMatrix)
def _(result: SimilarityMatrix) -> Rows:
    words = result.words
    return ["a", "b", "similarity"], [[a, b, num(result.matrix[i][j])]
                                      for i, a in enumerate(words)
                                      for j, b in enumerate(words) if i < j]


@rows.register(OddOneOut)
def _(result: OddOneOut) -> Rows:
    return ["rank", "word", "distance"], [[c.rank, c.word, num(c.distance)]
                                          for c in result.words]


@rows.register(WordRank)
def _(result: WordRank) -> Rows:
    return ["a", "b", "rank", "similarity"], [[result.a, result.b, result.rank,
                                               num(result.similarity)]]


@rows.register(WordVector)
def _(result: WordVector) -> Rows:
    header = ["word", *(f"x{k}" for k in range(1, len(result.values) + 1))]
    return header, [[result.word, *(num(x) for x in result.values)]]


@rows.register(Axis)
def _(result: Axis) -> Rows:
    return ["word", "score"], [[s.word, num(s.score)] for s in result.words]


@rows.register(Vocabulary)
def _(result: Vocabulary) -> Rows:
    return ["rank", "word"], ([e.rank, e.word] for e in result.entries)


# --------------------------------------------------------------------------- plain


@singledispatch
def plain(result: Any) -> Iterable[str]:
    """The lines of ``--format plain``: the answers alone, for shell loops."""
    raise TypeError(f"no renderer for {type(result).__name__}")


@plain.register(Ranking)
def _(result: Ranking) -> Iterable[str]:
    return (h.word for h in result.results)


@plain.register(Similarity)
def _(result: Similarity) -> Iterable[str]:
    return [cell(num(result.similarity))]


@plain.register(SimilarityMatrix)
def _(result: SimilarityMatrix) -> Iterable[str]:
    return ("\t".join(cell(num(x)) for x in row) for row in result.matrix)


@plain.register(OddOneOut)
def _(result: OddOneOut) -> Iterable[str]:
    return [result.odd]


@plain.register(WordRank)
def _(result: WordRank) -> Iterable[str]:
    return [str(result.rank)]


@plain.register(WordVector)
def _(result: WordVector) -> Iterable[str]:  # fastText's print-word-vectors line
    return [" ".join([result.word, *(cell(num(x)) for x in result.values)])]


@plain.register(Axis)
def _(result: Axis) -> Iterable[str]:
    return (s.word for s in result.words)


@plain.register(Vocabulary)
def _(result: Vocabulary) -> Iterable[str]:
    return (e.word for e in result.entries)


def iter_text(result: Any, fmt: Format) -> Iterator[str]:
    if isinstance(result, Vocabulary) and fmt is Format.json:
        yield from _vocabulary_json(result)  # streamed: the listing may be long
    elif isinstance(result, WordVector) and fmt is Format.jsonl:
        yield json.dumps(to_dict(result), ensure_ascii=False) + "\n"
    elif isinstance(result, SimilarityMatrix) and fmt in (Format.tsv, Format.csv):
        header = ["word", *result.words]
        body = [[w, *(num(x) for x in row)] for w, row in zip(result.words, result.matrix)]
        yield from iter_rows(header, body, fmt)
    else:
        yield from machine_text(result, fmt, to_dict=to_dict, rows=rows, plain=plain)


def _vocabulary_json(result: Vocabulary) -> Iterator[str]:
    yield "{\n" + f'  "model": {json.dumps(result.model, ensure_ascii=False)},\n'
    yield '  "words": ['
    for k, e in enumerate(result.entries):
        entry = json.dumps({"rank": e.rank, "word": e.word}, ensure_ascii=False)
        yield ("," if k else "") + "\n    " + entry
    yield "\n  ]\n}\n"


# --------------------------------------------------------------------------- batch tsv


@singledispatch
def batch_rows(result: Any, words: list[str]) -> list[list[Any]]:
    """``query rank word score`` rows of one answered batch line (see render.batch)."""
    raise TypeError(f"no batch rows for {type(result).__name__}")


@batch_rows.register(Ranking)
def _(result: Ranking, words: list[str]) -> list[list[Any]]:
    return [[result.query, h.rank, h.word, num(h.score)] for h in result.results]


@batch_rows.register(Similarity)
def _(result: Similarity, words: list[str]) -> list[list[Any]]:
    return [[result.a, None, result.b, num(result.similarity)]]


@batch_rows.register(SimilarityMatrix)
def _(result: SimilarityMatrix, words: list[str]) -> list[list[Any]]:
    return [[a, None, b, num(result.matrix[i][j])] for i, a in enumerate(result.words)
            for j, b in enumerate(result.words) if i < j]


@batch_rows.register(OddOneOut)
def _(result: OddOneOut, words: list[str]) -> list[list[Any]]:
    query = " ".join(words)
    return [[query, c.rank, c.word, num(c.distance)] for c in result.words]


@batch_rows.register(WordRank)
def _(result: WordRank, words: list[str]) -> list[list[Any]]:
    return [[result.a, result.rank, result.b, num(result.similarity)]]


@batch_rows.register(Axis)
def _(result: Axis, words: list[str]) -> list[list[Any]]:
    query = f"{result.start} -> {result.end}"
    return [[query, k, s.word, num(s.score)] for k, s in enumerate(result.words, 1)]


@batch_rows.register(WordVector)
def _(result: WordVector, words: list[str]) -> list[list[Any]]:
    return [[result.word, k, None, num(x)] for k, x in enumerate(result.values, 1)]


# --------------------------------------------------------------------------- tables


@singledispatch
def to_renderable(result: Any) -> RenderableType:
    """A rich table for a terminal: 4 decimals, a bar and a colour for each score."""
    raise TypeError(f"no renderer for {type(result).__name__}")


@to_renderable.register(Ranking)
def _(result: Ranking) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    title = Text(f"{result.query}  ")
    title.append(f"({result.model}, {result.method}" + (
        f", restrict {result.restrict:,})" if result.restrict else ")"), style="dim")
    finite = [h.score for h in result.results if math.isfinite(h.score)]
    top = max([1.0, *finite])
    table = Fitted(
        [Col("#", "right", "dim"), Col("word", style="bold"), Col("score", "right"), Col()],
        [[rank(hit.rank), Text(hit.word), Num(hit.score, style=style_of(hit.score)),
          Bar(hit.score, top, style_of(hit.score))] for hit in result.results],
        title=title)
    if not result.excluded:
        return table
    note = Text("left out (the query's own words), with the rank each would have: ",
                style="dim")
    for k, e in enumerate(result.excluded):
        where = f"#{e.rank}" if e.rank is not None else "not a candidate"
        note.append(("" if k == 0 else ", ") + f"{e.word} {where} ({e.score:.4f})")
    return Group(table, note)


@to_renderable.register(Similarity)
def _(result: Similarity) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append(f"{result.a} ~ {result.b}  ")
    text.append(f"{result.similarity:.4f}", style=style_of(result.similarity))
    text.append("  " + bar(result.similarity, 1.0), style=style_of(result.similarity))
    return text


@to_renderable.register(SimilarityMatrix)
def _(result: SimilarityMatrix) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    table = Fitted([Col("", key=True), *(Col(Text(w), "right") for w in result.words)],
                   [[Text(w, style="bold"), *(Num(x, style=heat(x)) for x in row)]
                    for w, row in zip(result.words, result.matrix)],
                   title="cosine similarity", split=True)
    return Group(table, HeatLegend())


@to_renderable.register(OddOneOut)
def _(result: OddOneOut) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    words = " ".join(c.word for c in sorted(result.words, key=lambda c: c.word))
    title = Text(f"doesnt-match: {words}  ")
    title.append(f"({result.model})", style="dim")
    top = max([1.0, *(c.distance for c in result.words if math.isfinite(c.distance))])
    rows = []
    for c in result.words:
        style = "bold red" if c.rank == 1 else "green"
        rows.append([rank(c.rank), Text(c.word, style=style if c.rank == 1 else ""),
                     Num(c.distance, style=style), Bar(c.distance, top, style)])
    table = Fitted([Col("#", "right", "dim"), Col("word", style="bold"),
                    Col("distance to the mean", "right"), Col()], rows, title=title)
    return Group(table, Text(f"odd one out: {result.odd}", style="bold"))


@to_renderable.register(WordRank)
def _(result: WordRank) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append(f"{result.b}", style="bold")
    text.append(f" is #{result.rank:,} among the neighbours of ")
    text.append(f"{result.a}", style="bold")
    text.append(f"  (similarity {result.similarity:.4f})", style="dim")
    return text


@to_renderable.register(WordVector)
def _(result: WordVector) -> RenderableType:
    return _VectorRows(result)


class _VectorRows:
    """A vector as rows of values, as many to a row (at most 5) as the width holds."""

    def __init__(self, result: WordVector):
        self.result = result

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.table import Table
        from rich.text import Text

        values = self.result.values
        shown = [f"{x:.4f}" if math.isfinite(x) else "-" for x in values]
        cell = max([7, *(len(v) for v in shown)])
        label = len(f"{len(values)}-{len(values)}")
        per_row = max(1, min(5, len(values), (options.max_width - label) // (cell + 2)))
        title = Text(f"{self.result.word}  ")
        title.append(f"({len(values)} dimensions)", style="dim")
        yield title
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(justify="right", style="dim", no_wrap=True)
        for _ in range(per_row):
            table.add_column(justify="right", no_wrap=True, min_width=cell)
        for start in range(0, len(values), per_row):
            chunk = shown[start:start + per_row]
            table.add_row(f"{start + 1}-{start + len(chunk)}", *chunk)
        yield table


@to_renderable.register(Axis)
def _(result: Axis) -> RenderableType:
    return _AxisTable(result)


class _AxisTable:
    """The axis table, with the bars from the A end to the B end where the terminal has
    room for them; without them (never a cut word or number) where it has not."""

    def __init__(self, result: Axis):
        self.result = result

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.measure import Measurement
        from rich.text import Text

        result = self.result
        title = Text(f"{result.start} -> {result.end}  ")
        extra = [result.model]
        if result.pairs:
            extra.append(f"mean of {len(result.pairs)} pairs")
        if result.top is not None:
            extra.append(f"{result.top} furthest toward each end" + (
                f" of the {result.restrict:,} most frequent" if result.restrict else ""))
        title.append(f"({', '.join(extra)})", style="dim")
        yield title
        table = self._table(bars=True)
        wide = options.update_width(10_000)  # its natural width, not clamped to ours
        if Measurement.get(console, wide, table).maximum > options.max_width:
            table = self._table(bars=False)
        yield table

    def _table(self, bars: bool) -> Any:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        result = self.result
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("word", style="bold", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        half = 10
        if bars:
            table.add_column(Text(_ends(result.start, result.end, 2 * half + 1)),
                             no_wrap=True)
        # the bars reach the ends at the largest score shown (cosines along an axis are
        # small)
        scale = max([0.05, *(abs(s.score) for s in result.words if math.isfinite(s.score))])
        for s in result.words:
            cells = [Text(s.word), Text(f"{s.score:+.4f}", style=_axis_style(s.score))]
            if bars:
                cells.append(Text(_axis_bar(s.score / scale, half), style=_axis_style(s.score)))
            table.add_row(*cells)
        return table


def _ends(start: str, end: str, width: int) -> str:
    """The bar column's header: the A end at its left, the B end at its right (the title
    names ends too long to fit: "from" and "to" stand for them)."""
    fits = max(len(start), len(end)) <= width // 2 - 1
    a, b = (start, end) if fits else ("from", "to")
    return a + " " * max(1, width - len(a) - len(b)) + b


def _axis_style(score: float) -> str:
    if not math.isfinite(score):
        return "dim"
    return "cyan" if score < 0 else "magenta"


def _axis_bar(score: float, half: int) -> str:
    """A bar from the middle (0): to the left toward the A end, to the right toward B."""
    if not math.isfinite(score):
        return ""
    cells = round(min(1.0, abs(score)) * half)
    if score < 0:
        return " " * (half - cells) + "█" * cells + "│"
    return " " * half + "│" + "█" * cells


@to_renderable.register(Vocabulary)
def _(result: Vocabulary) -> RenderableType:
    from rich.text import Text

    return Fitted([Col("rank", "right", "dim"), Col("word", style="bold")],
                  [[Num(e.rank, 0, fixed=True), Text(e.word)] for e in result.entries],
                  title=Text(f"vocabulary of {result.model}"))
