"""What every family of renderers shares: numbers and cells for machine formats, rows as
jsonl/tsv/csv, and the bars and colours of tables.

Text from outside (words of a model, queries, names, paths, lines of a file) may hold
control characters. Every format escapes them with ``errors.safe``, the one escaping:
tsv, csv and plain in ``cell`` and ``machine_text``, tables by ``for_people`` (which
``render.to_renderable`` applies to every result), json and jsonl by JSON itself (and
``cli.io.json_for_stdout`` for what JSON leaves as it is).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
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
