"""Flat records that are not query answers (model listings, details, shell settings)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from embedcli.formats import Format
from embedcli.render.common import Col, Fitted, Num, cell, flat, iter_rows, labelled

if TYPE_CHECKING:
    from rich.console import RenderableType


@dataclass(frozen=True)
class Records:
    kind: str
    rows: list[dict[str, Any]]
    single: bool = False  # one object rather than a list of them


def to_dict(result: Records) -> dict[str, Any]:
    return {result.kind: result.rows}


def iter_text(result: Records, fmt: Format) -> Iterator[str]:
    if fmt is Format.json:
        data: Any = result.rows[0] if result.single else result.rows
        yield json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    elif fmt is Format.plain:
        yield from (cell(next(iter(r.values()))) + "\n" for r in result.rows)
    else:
        header = list(result.rows[0]) if result.rows else []
        yield from iter_rows(header, [[flat(r.get(k)) for k in header] for r in result.rows],
                             fmt)


def to_renderable(result: Records) -> RenderableType:
    """For people: sizes in MB, yes and no, counts with separators, lists as words
    (sentences one a line), paths abbreviated from their start where space is short."""
    if result.single and result.rows:
        return _Details(result.rows[0])
    header = list(result.rows[0]) if result.rows else []
    columns = [Col(_label(k), "right" if any(isinstance(_for_people(k, r[k]), Num)
                                             for r in result.rows) else "left",
                   path=k in PATHS) for k in header]
    return Fitted(columns, [[_for_people(k, r[k]) for k in header] for r in result.rows])


PATHS = {"source", "cache", "path", "file"}


class _Details:
    """One record as ``key: value`` lines at the console's width."""

    def __init__(self, row: dict[str, Any]):
        self.row = row

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        for key, value in self.row.items():
            yield labelled(f"{_label(key)}: ", _for_people(key, value), options.max_width,
                           key in PATHS)


def _label(key: str) -> str:
    return {"cache_bytes": "cache size", "dim": "dimensions"}.get(key, key.replace("_", " "))


def _for_people(key: str, value: Any) -> Any:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_bytes") and isinstance(value, (int, float)):
        return Num(value / 1e6, 1, fixed=True, suffix=" MB")
    if isinstance(value, int):
        return Num(value, 0, fixed=True)
    if isinstance(value, list):
        items = [cell(x) for x in value]
        if any(" " in x for x in items):  # sentences: one a line
            return "\n".join(items) if items else "-"
        return "  ".join(items) if items else "-"  # words, which may be punctuation
    return cell(value)
