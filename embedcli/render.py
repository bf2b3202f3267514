"""Results -> text for scripts, or a rich renderable for people.

Pure functions: nothing here writes to a stream. rich is imported only for tables.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from embedcli.classroom import Explanation, Interpolation
from embedcli.engine import (
    MoreResult,
    OddOneOut,
    Ranking,
    Similarity,
    SimilarityMatrix,
    Vocabulary,
    WordRank,
    WordVector,
)
from embedcli.evaluate import AnalogyReport, PairsReport

if TYPE_CHECKING:
    from rich.console import RenderableType



@dataclass(frozen=True)
class Records:
    """Flat rows that are not query answers (model listings and the like)."""

    kind: str
    rows: list[dict[str, Any]]
    single: bool = False  # one object rather than a list of them


Result = (Ranking | Similarity | SimilarityMatrix | Records | MoreResult | AnalogyReport
          | PairsReport)

_EVAL = (AnalogyReport, PairsReport)  # embedcli evaluate: render_eval.py


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    tsv = "tsv"
    csv = "csv"
    plain = "plain"


def _num(x: float) -> float | None:
    """Full precision, but never NaN or infinity (not JSON, and not a score)."""
    return x if math.isfinite(x) else None


def to_dict(result: Result) -> dict[str, Any]:
    """The stable JSON object documented in the README."""
    if isinstance(result, _EVAL):
        from embedcli import render_eval

        return render_eval.to_dict(result)
    if isinstance(result, _CLASSROOM):
        from embedcli import render_classroom

        return render_classroom.to_dict(result)
    if isinstance(result, _MORE):
        return _more_dict(result)
    if isinstance(result, Ranking):
        return {
            "query": result.query,
            "model": result.model,
            "method": result.method,
            "restrict": result.restrict,
            "results": [{"rank": h.rank, "word": h.word, "score": _num(h.score)}
                        for h in result.results],
            "excluded": [{"word": e.word, "rank": e.rank, "score": _num(e.score)}
                         for e in result.excluded],
        }
    if isinstance(result, Similarity):
        return {"a": result.a, "b": result.b, "similarity": _num(result.similarity)}
    if isinstance(result, Records):
        return {result.kind: result.rows}
    return {"words": result.words,
            "matrix": [[_num(x) for x in row] for row in result.matrix]}


def _rows(result: Result) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the tabular formats (tsv, csv, jsonl)."""
    if isinstance(result, Ranking):
        # the answers, then the left-out input words with the rank each would have had
        rows = [[h.rank, h.word, _num(h.score), False] for h in result.results]
        rows += [[e.rank, e.word, _num(e.score), True] for e in result.excluded]
        return ["rank", "word", "score", "excluded"], rows
    if isinstance(result, Similarity):
        return ["a", "b", "similarity"], [[result.a, result.b, _num(result.similarity)]]
    if isinstance(result, Records):
        header = list(result.rows[0]) if result.rows else []
        return header, [[_flat(r.get(k)) for k in header] for r in result.rows]
    words = result.words
    return ["a", "b", "similarity"], [[a, b, _num(result.matrix[i][j])]
                                      for i, a in enumerate(words)
                                      for j, b in enumerate(words) if i < j]


def _flat(x: Any) -> Any:
    return ", ".join(map(str, x)) if isinstance(x, list) else x


def _cell(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"  # as in JSON
    return repr(x) if isinstance(x, float) else str(x)


def to_text(result: Result, fmt: Format) -> str:
    """Machine output: everything but ``table``. Ends with a newline (unless empty)."""
    return "".join(iter_text(result, fmt))


def iter_text(result: Result, fmt: Format) -> Iterator[str]:
    """``to_text`` a line at a time, so that a long answer streams (and a closed pipe shows)."""
    if isinstance(result, _EVAL):
        from embedcli import render_eval

        yield from render_eval.iter_text(result, fmt)
        return
    if isinstance(result, _CLASSROOM):
        from embedcli import render_classroom

        yield from render_classroom.iter_text(result, fmt)
        return
    if isinstance(result, _MORE):
        yield from _more_text(result, fmt)
        return
    if fmt is Format.json:
        data: Any = to_dict(result)
        if isinstance(result, Records):
            data = result.rows[0] if result.single else result.rows
        yield json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        return
    if fmt is Format.plain:
        if isinstance(result, Records):
            lines: Iterable[str] = (_cell(next(iter(r.values()))) for r in result.rows)
        elif isinstance(result, Ranking):
            lines = (h.word for h in result.results)
        elif isinstance(result, Similarity):
            lines = [_cell(_num(result.similarity))]
        else:
            lines = ("\t".join(_cell(_num(x)) for x in row) for row in result.matrix)
        yield from (line + "\n" for line in lines)
        return
    if isinstance(result, SimilarityMatrix) and fmt in (Format.tsv, Format.csv):
        header = ["word", *result.words]
        rows = [[w, *(_num(x) for x in row)] for w, row in zip(result.words, result.matrix)]
    else:
        header, rows = _rows(result)
    yield from iter_rows(header, rows, fmt)


def iter_rows(header: list[str], rows: Iterable[list[Any]], fmt: Format) -> Iterator[str]:
    """Tabular rows as jsonl, tsv or csv, a line at a time (``rows`` is read once)."""
    if fmt is Format.jsonl:
        for row in rows:
            yield json.dumps(dict(zip(header, row)), ensure_ascii=False) + "\n"
    elif fmt is Format.tsv:
        # words never hold a tab or a newline (the vocabulary is split on white space)
        for line in itertools.chain([header], rows):
            yield "\t".join(_cell(x) for x in line) + "\n"
    elif fmt is Format.csv:
        for line in itertools.chain([header], rows):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow([_cell(x) for x in line])
            yield buf.getvalue()
    else:
        raise ValueError(f"not a text format: {fmt}")


# --------------------------------------------------------------------------- tables


def _score_style(score: float) -> str:
    if not math.isfinite(score):
        return "dim"
    if score >= 0.75:
        return "bold green"
    if score >= 0.5:
        return "green"
    if score >= 0.25:
        return "yellow"
    return "red"


def _bar(score: float, top: float, width: int = 20) -> str:
    if not math.isfinite(score) or top <= 0:
        return ""
    filled = max(0.0, min(1.0, score / top)) * width
    whole = int(filled)
    eighths = int((filled - whole) * 8)
    return "█" * whole + ("▏▎▍▌▋▊▉"[eighths - 1] if eighths else "")


def to_renderable(result: Result) -> RenderableType:
    """A rich table for a terminal: 4 decimals, a bar and a colour for each score."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if isinstance(result, _CLASSROOM):
        from embedcli import render_classroom

        return render_classroom.to_renderable(result)
    if isinstance(result, _EVAL):
        from embedcli import render_eval

        return render_eval.to_renderable(result)
    if isinstance(result, _MORE):
        return _more_renderable(result)
    if isinstance(result, Ranking):
        title = f"{result.query}  [dim]({result.model}, {result.method}"
        title += f", restrict {result.restrict:,})" if result.restrict else ")"
        table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("#", justify="right", style="dim")
        table.add_column("word", style="bold")
        table.add_column("score", justify="right")
        table.add_column("", no_wrap=True)
        finite = [h.score for h in result.results if math.isfinite(h.score)]
        top = max([1.0, *finite])
        for hit in result.results:
            style = _score_style(hit.score)
            table.add_row(str(hit.rank), Text(hit.word), Text(f"{hit.score:.4f}", style=style),
                          Text(_bar(hit.score, top), style=style))
        if not result.excluded:
            return table
        note = Text("left out (the query's own words), with the rank each would have: ",
                    style="dim")
        for k, e in enumerate(result.excluded):
            where = f"#{e.rank}" if e.rank is not None else "not a candidate"
            note.append(("" if k == 0 else ", ") + f"{e.word} {where} ({e.score:.4f})")
        return Group(table, note)
    if isinstance(result, Records):
        return _records_table(result)
    if isinstance(result, Similarity):
        text = Text()
        text.append(f"{result.a} ~ {result.b}  ")
        text.append(f"{result.similarity:.4f}", style=_score_style(result.similarity))
        text.append("  " + _bar(result.similarity, 1.0), style=_score_style(result.similarity))
        return text
    table = Table(box=box.SIMPLE_HEAD, title="cosine similarity", title_justify="left")
    table.add_column("")
    for w in result.words:
        table.add_column(Text(w), justify="right")
    for w, row in zip(result.words, result.matrix):
        table.add_row(Text(w, style="bold"),
                      *(Text(f"{x:.4f}", style=_heat(x)) for x in row))
    return Group(table, _HeatLegend())


# The heat map's colours: matplotlib's RdBu_r ends and middle, as `embedcli plot --heatmap`.
_HEAT = ((33, 102, 172), (247, 247, 247), (178, 24, 43))  # -1, 0, 1


def _heat(x: float) -> str:
    """A background from blue (-1) through white (0) to red (1), with readable text."""
    if not math.isfinite(x):
        return "dim"
    x = max(-1.0, min(1.0, x))
    far = _HEAT[2] if x >= 0 else _HEAT[0]
    rgb = [round(m + abs(x) * (f - m)) for m, f in zip(_HEAT[1], far)]
    ink = "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else "white"
    return f"{ink} on rgb({rgb[0]},{rgb[1]},{rgb[2]})"


class _HeatLegend:
    """The heat map's colour scale, on a console that shows colour (nothing otherwise)."""

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        if console.color_system is None or console.no_color:
            return
        legend = Text()
        legend.append("colour scale ", style="dim")
        for x in (-1.0, -0.5, 0.0, 0.5, 1.0):
            legend.append(f" {x:g} ", style=_heat(x))
        yield legend


def _records_table(result: Records) -> RenderableType:
    from rich import box
    from rich.table import Table

    if result.single and result.rows:
        table = Table(box=box.SIMPLE, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in result.rows[0].items():
            table.add_row(key, _cell(_flat(value)) if value is not None else "-")
        return table
    table = Table(box=box.SIMPLE_HEAD)
    header = list(result.rows[0]) if result.rows else []
    for key in header:
        table.add_column(key, overflow="fold")
    for row in result.rows:
        table.add_row(*(_cell(_flat(row[k])) if row[k] is not None else "-" for k in header))
    return table


# --------------------------------------------------------------------------- more queries
# doesnt-match, rank, vector, vocab (engine's MoreResult), and batch output lines.

_MORE = (OddOneOut, WordRank, WordVector, Vocabulary)
_CLASSROOM = (Explanation, Interpolation)  # rendered by embedcli.render_classroom


def _more_dict(result: MoreResult) -> dict[str, Any]:
    if isinstance(result, OddOneOut):
        return {"odd": result.odd, "model": result.model,
                "words": [{"rank": c.rank, "word": c.word, "distance": _num(c.distance)}
                          for c in result.words]}
    if isinstance(result, WordRank):
        return {"a": result.a, "b": result.b, "rank": result.rank,
                "similarity": _num(result.similarity)}
    if isinstance(result, WordVector):
        return {"word": result.word, "vector": [_num(x) for x in result.values]}
    return {"model": result.model,
            "words": [{"rank": e.rank, "word": e.word} for e in result.entries]}


def _more_rows(result: MoreResult) -> tuple[list[str], Iterable[list[Any]]]:
    if isinstance(result, OddOneOut):
        return ["rank", "word", "distance"], [[c.rank, c.word, _num(c.distance)]
                                              for c in result.words]
    if isinstance(result, WordRank):
        return ["a", "b", "rank", "similarity"], [[result.a, result.b, result.rank,
                                                   _num(result.similarity)]]
    if isinstance(result, WordVector):
        header = ["word", *(f"x{k}" for k in range(1, len(result.values) + 1))]
        return header, [[result.word, *(_num(x) for x in result.values)]]
    return ["rank", "word"], ([e.rank, e.word] for e in result.entries)


def _more_text(result: MoreResult, fmt: Format) -> Iterator[str]:
    if fmt is Format.json:
        if isinstance(result, Vocabulary):  # streamed: the listing may be long
            yield "{\n" + f'  "model": {json.dumps(result.model, ensure_ascii=False)},\n'
            yield '  "words": ['
            for k, e in enumerate(result.entries):
                entry = json.dumps({"rank": e.rank, "word": e.word}, ensure_ascii=False)
                yield ("," if k else "") + "\n    " + entry
            yield "\n  ]\n}\n"
        else:
            yield json.dumps(_more_dict(result), ensure_ascii=False, indent=2) + "\n"
        return
    if fmt is Format.plain:
        if isinstance(result, OddOneOut):
            yield result.odd + "\n"
        elif isinstance(result, WordRank):
            yield f"{result.rank}\n"
        elif isinstance(result, WordVector):  # fastText's print-word-vectors line
            yield " ".join([result.word, *(_cell(_num(x)) for x in result.values)]) + "\n"
        else:
            yield from (e.word + "\n" for e in result.entries)
        return
    if fmt is Format.jsonl and isinstance(result, WordVector):
        yield json.dumps(_more_dict(result), ensure_ascii=False) + "\n"
        return
    header, rows = _more_rows(result)
    yield from iter_rows(header, rows, fmt)


def _more_renderable(result: MoreResult) -> RenderableType:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if isinstance(result, OddOneOut):
        words = " ".join(c.word for c in sorted(result.words, key=lambda c: c.word))
        table = Table(title=f"doesnt-match: {words}  [dim]({result.model})",
                      box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column("#", justify="right", style="dim")
        table.add_column("word", style="bold")
        table.add_column("distance to the mean", justify="right")
        table.add_column("", no_wrap=True)
        top = max([1.0, *(c.distance for c in result.words if math.isfinite(c.distance))])
        for c in result.words:
            style = "bold red" if c.rank == 1 else "green"
            table.add_row(str(c.rank), Text(c.word, style=style if c.rank == 1 else ""),
                          Text(f"{c.distance:.4f}", style=style),
                          Text(_bar(c.distance, top), style=style))
        return Group(table, Text(f"odd one out: {result.odd}", style="bold"))
    if isinstance(result, WordRank):
        text = Text()
        text.append(f"{result.b}", style="bold")
        text.append(f" is #{result.rank:,} among the neighbours of ")
        text.append(f"{result.a}", style="bold")
        text.append(f"  (similarity {result.similarity:.4f})", style="dim")
        return text
    if isinstance(result, WordVector):
        per_row = 5  # fits a narrow terminal
        table = Table(title=f"{result.word}  [dim]({len(result.values)} dimensions)",
                      box=None, title_justify="left", show_header=False)
        table.add_column(justify="right", style="dim", no_wrap=True, min_width=7)
        for _ in range(min(per_row, len(result.values))):
            table.add_column(justify="right", no_wrap=True, min_width=7)
        for start in range(0, len(result.values), per_row):
            chunk = result.values[start:start + per_row]
            table.add_row(f"{start + 1}-{start + len(chunk)}", *(f"{x:.4f}" for x in chunk))
        return table
    title = f"vocabulary of {result.model}"
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left",
                  min_width=len(title) + 2)
    table.add_column("rank", justify="right", style="dim")
    table.add_column("word", style="bold")
    for e in result.entries:
        table.add_row(f"{e.rank:,}", Text(e.word))
    return table


# --------------------------------------------------------------------------- batch lines
# jsonl: the single command's object plus "line"; a failed line {"line", "input", "error"}.
# tsv: one row per answer under BATCH_TSV_HEADER (the README's "Batch output" says which
# column holds what for each command).

BATCH_TSV_HEADER = ["line", "command", "query", "rank", "word", "score", "error"]


def batch_jsonl(line: int, result: Result) -> str:
    return json.dumps({"line": line, **to_dict(result)}, ensure_ascii=False) + "\n"


def batch_error_jsonl(line: int, text: str, message: str) -> str:
    return json.dumps({"line": line, "input": text, "error": message},
                      ensure_ascii=False) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def batch_tsv(line: int, command: str, words: list[str], result: Result) -> str:
    """The tsv rows of one answered batch line."""
    rows: list[list[Any]] = []
    if isinstance(result, Ranking):
        rows = [[result.query, h.rank, h.word, _num(h.score)] for h in result.results]
    elif isinstance(result, Similarity):
        rows = [[result.a, None, result.b, _num(result.similarity)]]
    elif isinstance(result, SimilarityMatrix):
        rows = [[a, None, b, _num(result.matrix[i][j])] for i, a in enumerate(result.words)
                for j, b in enumerate(result.words) if i < j]
    elif isinstance(result, OddOneOut):
        query = " ".join(words)
        rows = [[query, c.rank, c.word, _num(c.distance)] for c in result.words]
    elif isinstance(result, WordRank):
        rows = [[result.a, result.rank, result.b, _num(result.similarity)]]
    elif isinstance(result, WordVector):
        rows = [[result.word, k, None, _num(x)] for k, x in enumerate(result.values, 1)]
    return "".join("\t".join(_cell(x) for x in [line, command, *row, None]) + "\n"
                   for row in rows)


def batch_tsv_error(line: int, text: str, message: str) -> str:
    """The one tsv row of a failed line: its first word as the command, the rest as query."""
    command, _, rest = _one_line(text).partition(" ")
    return "\t".join([str(line), command, rest, "", "", "", _one_line(message)]) + "\n"
