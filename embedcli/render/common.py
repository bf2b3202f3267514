"""What every family of renderers shares: numbers and cells for machine formats, rows as
jsonl/tsv/csv, and the bars and colours of tables.

Text from outside (words of a model, queries, names, paths, lines of a file) may hold
control characters. Every format escapes them with ``errors.safe``, the one escaping:
tsv, csv and plain in ``cell`` and ``machine_text``, tables by ``for_people`` (which
``render.to_renderable`` applies to every result), json and jsonl by JSON itself (and
``cli.io.json_for_stdout`` for what JSON leaves as it is).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from embedcli.errors import safe
from embedcli.formats import Format


def num(x: float) -> float | None:
    """Full precision, but never NaN or infinity (not JSON, and not a score)."""
    return x if math.isfinite(x) else None


def flat(x: Any) -> Any:
    """A value as one cell: a list's items joined by ', ', an object's as key=value."""
    if isinstance(x, dict):
        return ", ".join(f"{k}={v}" for k, v in x.items())
    return ", ".join(map(str, x)) if isinstance(x, list) else x


def cell(x: Any) -> str:
    """A value as tsv, csv and plain write it; text with its control characters escaped
    (a word holding a tab or an ESC cannot break a row or drive a terminal)."""
    if isinstance(x, str):
        return safe(x)
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"  # as in JSON
    return repr(x) if isinstance(x, float) else str(x)


def for_people(value: Any) -> Any:
    """``value`` (a result, and everything in it) with every text escaped by
    ``errors.safe``: what a table shows. The same object where nothing needs escaping;
    lazy listings (a vocabulary) stay lazy."""
    if isinstance(value, str):
        return safe(value)
    if isinstance(value, (int, float, type(None))):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in dataclasses.fields(value):
            if f.init:
                old = getattr(value, f.name)
                new = for_people(old)
                if new is not old:
                    changed[f.name] = new
        return dataclasses.replace(value, **changed) if changed else value
    if type(value) in (list, tuple):
        items = [for_people(x) for x in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return items if type(value) is list else tuple(items)
    if type(value) is dict:
        pairs = {for_people(k): for_people(v) for k, v in value.items()}
        return value if list(pairs.items()) == list(value.items()) else pairs
    if isinstance(value, Iterator):
        return (for_people(x) for x in value)
    return value


def iter_rows(header: list[str], rows: Iterable[list[Any]], fmt: Format) -> Iterator[str]:
    """Tabular rows as jsonl, tsv or csv, a line at a time (``rows`` is read once)."""
    if fmt is Format.jsonl:
        for row in rows:
            yield json.dumps(dict(zip(header, row)), ensure_ascii=False) + "\n"
    elif fmt is Format.tsv:
        # a word never holds a newline (a tab, escaped by cell, may be held)
        for line in itertools.chain([header], rows):
            yield "\t".join(cell(x) for x in line) + "\n"
    elif fmt is Format.csv:
        import csv  # (csv only: not imported on every run)

        for line in itertools.chain([header], rows):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow([cell(x) for x in line])
            yield buf.getvalue()
    else:
        raise ValueError(f"not a text format: {fmt}")


def machine_text(result: Any, fmt: Format, *, to_dict: Callable[[Any], Any],
                 rows: Callable[[Any], tuple[list[str], Iterable[list[Any]]]],
                 plain: Callable[[Any], Iterable[str]]) -> Iterator[str]:
    """The usual machine formats of a result: json is ``to_dict``, plain is ``plain``'s
    lines, jsonl/tsv/csv are ``rows``."""
    if fmt is Format.json:
        yield json.dumps(to_dict(result), ensure_ascii=False, indent=2) + "\n"
    elif fmt is Format.plain:
        yield from (safe(line) + "\n" for line in plain(result))
    else:
        header, body = rows(result)
        yield from iter_rows(header, body, fmt)


def score_style(score: float) -> str:
    if not math.isfinite(score):
        return "dim"
    if score >= 0.75:
        return "bold green"
    if score >= 0.5:
        return "green"
    if score >= 0.25:
        return "yellow"
    return "red"


def bar(score: float, top: float, width: int = 20) -> str:
    if not math.isfinite(score) or top <= 0:
        return ""
    filled = max(0.0, min(1.0, score / top)) * width
    whole = int(filled)
    eighths = int((filled - whole) * 8)
    return "█" * whole + ("▏▎▍▌▋▊▉"[eighths - 1] if eighths else "")


# The heat map's colours: matplotlib's RdBu_r ends and middle, as `embedcli plot --heatmap`.
_HEAT = ((33, 102, 172), (247, 247, 247), (178, 24, 43))  # -1, 0, 1


def heat(x: float) -> str:
    """A background from blue (-1) through white (0) to red (1), with readable text."""
    if not math.isfinite(x):
        return "dim"
    x = max(-1.0, min(1.0, x))
    far = _HEAT[2] if x >= 0 else _HEAT[0]
    rgb = [round(m + abs(x) * (f - m)) for m, f in zip(_HEAT[1], far)]
    ink = "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else "white"
    return f"{ink} on rgb({rgb[0]},{rgb[1]},{rgb[2]})"


class HeatLegend:
    """The heat map's colour scale, on a console that shows colour (nothing otherwise)."""

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        if console.color_system is None or console.no_color:
            return
        legend = Text()
        legend.append("colour scale ", style="dim")
        for x in (-1.0, -0.5, 0.0, 0.5, 1.0):
            legend.append(f" {x:g} ", style=heat(x))
        yield legend


# --------------------------------------------------------------------------- tables that fit

# Every table a person reads is built here, as a ``Fitted``: it is drawn at the width of
# the terminal, giving way in this order until it fits: bars are dropped, then scores
# lose decimals (4 -> 2), then the padding at the table's edges goes, then
# (for a matrix) the columns go into several tables, then text is abbreviated with '…'
# (a path from its start, to no less than MIN_TEXT characters); and where even that does
# not fit, each row is written as lines of ``header: value``. A number is never cut, and
# a cell never wraps; titles and notes are drawn apart from the table, wrapped between
# words.

SHORT_PLACES = 2
MIN_TEXT = 6  # an abbreviated text keeps at least this many characters, '…' included


@dataclass(frozen=True)
class Num:
    """A number in a table, with ``places`` decimals (fewer when space is short; a
    ``fixed`` one keeps them), a style and what goes around it (``#``, ``(%)``)."""

    value: float
    places: int = 4
    style: str = ""
    prefix: str = ""
    suffix: str = ""
    fixed: bool = False

    def text(self, short: bool) -> str:
        if not math.isfinite(self.value):
            return self.prefix + "-" + self.suffix
        places = self.places if self.fixed or not short else min(self.places, SHORT_PLACES)
        return f"{self.prefix}{self.value:,.{places}f}{self.suffix}"


@dataclass(frozen=True)
class Bar:
    """A score's bar: dropped first when a table does not fit."""

    score: float
    top: float = 1.0
    style: str = ""
    width: int = 20


@dataclass(frozen=True)
class Parts:
    """A cell of several pieces: text (which may be abbreviated) and numbers (never cut),
    such as ``spring 0.86``."""

    pieces: tuple[Any, ...]


@dataclass(frozen=True)
class Col:
    header: Any = ""
    justify: str = "left"
    style: str | None = None
    path: bool = False  # abbreviated from the start: '…/site-packages/kumo/data'
    key: bool = False  # repeated in each part when the columns are split


@dataclass
class Fitted:
    """A table that fits the console it is drawn on (see above). ``rows`` hold str, rich
    Text, ``Num``, ``Bar`` or ``Parts`` cells; ``sections`` the rows after which a line is
    drawn; ``split``: columns may go into several tables (a matrix)."""

    columns: list[Col]
    rows: list[list[Any]]
    title: Any = None
    sections: set[int] = field(default_factory=set)
    split: bool = False
    show_header: bool = True
    box: Any = "simple_head"
    pad_edge: bool = True
    collapse_padding: bool = False

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        width = options.max_width
        if self.title is not None:
            title = self.title if isinstance(self.title, Text) else Text(str(self.title))
            yield _no_trailing_space(title)
        yield from self._tables(console, options, width)

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        table = self._table(range(len(self.columns)), bars=True, short=False, probe=True)
        return Measurement.get(console, options, table)

    def _fits(self, console: Any, options: Any, width: int, shown: Iterable[int],
              **plan: Any) -> bool:
        # Cells never wrap, so a table is as wide as a table of its header and, in each
        # column, the widest cell: that one row is measured, not the whole table.
        table = self._table(shown, probe=True, **plan)
        return _width(console, options, table) <= width

    def _tables(self, console: Any, options: Any, width: int) -> Iterator[Any]:
        every = list(range(len(self.columns)))
        plans = [dict(bars=True, short=False), dict(bars=False, short=False),
                 dict(bars=False, short=True), dict(bars=False, short=True, compact=True)]
        for plan in plans:
            if self._fits(console, options, width, every, **plan):
                yield self._table(every, **plan)
                return
        if self.split:
            keys = [k for k in every if self.columns[k].key]
            rest = [k for k in every if not self.columns[k].key]
            for size in range(len(rest) - 1, 0, -1):
                parts = [[*keys, *rest[i:i + size]] for i in range(0, len(rest), size)]
                if all(self._fits(console, options, width, part, bars=False, short=True,
                                  compact=True) for part in parts):
                    for k, part in enumerate(parts):
                        if k:
                            yield ""
                        yield self._table(part, bars=False, short=True, compact=True)
                    return
        # the longest cap of text that fits (the width only shrinks with the cap)
        low, high = MIN_TEXT, max((_text_width(c) for row in self.rows for c in row),
                                  default=0) - 1
        best = None
        while low <= high:
            cap = (low + high) // 2
            if self._fits(console, options, width, every, bars=False, short=True,
                          compact=True, cap=cap):
                best, low = cap, cap + 1
            else:
                high = cap - 1
        if best is not None:
            yield self._table(every, bars=False, short=True, compact=True, cap=best)
            return
        yield from self._stacked(every, width)

    def _stacked(self, shown: list[int], width: int) -> Iterator[Any]:
        """The last resort of a narrow terminal: each row as lines of ``header: value``
        (a value wraps between words, as text does)."""
        from rich.text import Text

        for r, row in enumerate(self.rows):
            if r:
                yield Text("")
            for k in shown:
                header = self.columns[k].header
                yield labelled(f"{header}: " if str(header) else "", row[k], width,
                               self.columns[k].path)

    def _table(self, shown: Iterable[int], *, bars: bool, short: bool, compact: bool = False,
               cap: int | None = None, probe: bool = False) -> Any:
        from rich import box as boxes
        from rich.table import Table

        shown = [k for k in shown if bars or not self._bars(k)]
        edges = self.pad_edge and not compact
        table = Table(box=getattr(boxes, self.box.upper()) if self.box else None,
                      show_header=self.show_header, pad_edge=edges,
                      collapse_padding=self.collapse_padding,
                      show_edge=self.box is not None and edges,
                      padding=(0, 1, 0, 0) if compact else (0, 1))
        for k in shown:
            c = self.columns[k]
            table.add_column(c.header, justify=c.justify, style=c.style,  # type: ignore[arg-type]
                             no_wrap=True)  # (a header is never abbreviated)
        if probe:
            widest = [max((_cell(row[k], short, cap, self.columns[k].path) for row in self.rows),
                          key=cell_len_of, default="") for k in shown]
            table.add_row(*widest)
            return table
        for r, row in enumerate(self.rows):
            table.add_row(*(_cell(row[k], short, cap, self.columns[k].path) for k in shown),
                          end_section=r in self.sections)
        return table

    def _bars(self, k: int) -> bool:
        return bool(self.rows) and all(isinstance(row[k], Bar) or row[k] == ""
                                       for row in self.rows)


def cell_len_of(text: Any) -> int:
    from rich.cells import cell_len

    return cell_len(str(text))


def labelled(label: str, value: Any, width: int, path: bool = False) -> Any:
    """``label: value`` as one text that wraps between words; a path too long for the line
    is abbreviated from its start."""
    from rich.text import Text

    line = Text(label, style="dim")
    cap = max(MIN_TEXT, width - len(label)) if path else None
    line.append_text(_cell(value, True, cap, path))
    return line


def rank(n: int | None) -> Any:
    """A rank or a count in a table: a whole number, never cut."""
    return "-" if n is None else Num(n, 0, fixed=True)


def _no_trailing_space(text: Any) -> Any:
    text = text.copy()
    text.rstrip()
    return text


def _width(console: Any, options: Any, table: Any) -> int:
    from rich.measure import Measurement

    return int(Measurement.get(console, options.update(max_width=10_000), table).maximum)


def _text_width(cell: Any) -> int:
    if isinstance(cell, Parts):
        return max((_text_width(p) for p in cell.pieces), default=0)
    if isinstance(cell, (Num, Bar)):
        return 0
    return len(str(cell))


def _cut(value: Any, cap: int | None, path: bool) -> Any:
    """``value`` (str or Text) abbreviated to ``cap`` characters with '…'."""
    from rich.text import Text

    text = value.copy() if isinstance(value, Text) else Text(str(value))
    if cap is None or len(text) <= cap:
        return text
    if path:
        cut = Text("…")
        cut.append_text(text[len(text) - cap + 1:])
        return cut
    text.truncate(cap, overflow="ellipsis")
    return text


def _cell(cell: Any, short: bool, cap: int | None, path: bool) -> Any:
    from rich.text import Text

    if isinstance(cell, Num):
        return Text(cell.text(short), style=cell.style)
    if isinstance(cell, Bar):
        return Text(bar(cell.score, cell.top, cell.width), style=cell.style)
    if isinstance(cell, Parts):
        out = Text()
        for piece in cell.pieces:
            out.append_text(_cell(piece, short, cap, path))
        return out
    return _cut(cell, cap, path)
