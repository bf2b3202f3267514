"""Results -> text for scripts, or a rich renderable for people.

Pure functions: nothing here writes to a stream. rich is imported only for tables.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from embedcli.engine import Ranking, Similarity, SimilarityMatrix

if TYPE_CHECKING:
    from rich.console import RenderableType



@dataclass(frozen=True)
class Records:
    """Flat rows that are not query answers (model listings and the like)."""

    kind: str
    rows: list[dict[str, Any]]
    single: bool = False  # one object rather than a list of them


Result = Ranking | Similarity | SimilarityMatrix | Records


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
        return ["rank", "word", "score"], [[h.rank, h.word, _num(h.score)]
                                           for h in result.results]
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
    return repr(x) if isinstance(x, float) else str(x)


def to_text(result: Result, fmt: Format) -> str:
    """Machine output: everything but ``table``. Ends with a newline (unless empty)."""
    return "".join(iter_text(result, fmt))


def iter_text(result: Result, fmt: Format) -> Iterator[str]:
    """``to_text`` a line at a time, so that a long answer streams (and a closed pipe shows)."""
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
    if fmt is Format.jsonl:
        for row in rows:
            yield json.dumps(dict(zip(header, row)), ensure_ascii=False) + "\n"
    elif fmt is Format.tsv:
        # words never hold a tab or a newline (the vocabulary is split on white space)
        for line in [header, *rows]:
            yield "\t".join(_cell(x) for x in line) + "\n"
    elif fmt is Format.csv:
        for line in [header, *rows]:
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
    return table


def _heat(x: float) -> str:
    """A background from blue (-1) through black (0) to red (1)."""
    if not math.isfinite(x):
        return "dim"
    level = int(round(min(1.0, abs(x)) * 160))
    rgb = (level, 40, 40) if x >= 0 else (40, 40, level)
    return f"white on rgb({rgb[0]},{rgb[1]},{rgb[2]})"


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
