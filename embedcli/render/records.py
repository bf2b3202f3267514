"""Flat records that are not query answers (model listings, details, shell settings)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from embedcli.formats import Format
from embedcli.render.common import cell, flat, iter_rows

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
    from rich import box
    from rich.table import Table

    if result.single and result.rows:
        table = Table(box=box.SIMPLE, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in result.rows[0].items():
            table.add_row(key, cell(flat(value)) if value is not None else "-")
        return table
    table = Table(box=box.SIMPLE_HEAD)
    header = list(result.rows[0]) if result.rows else []
    for key in header:
        table.add_column(key, overflow="fold")
    for row in result.rows:
        table.add_row(*(cell(flat(row[k])) if row[k] is not None else "-" for k in header))
    return table
