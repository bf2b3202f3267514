"""Results -> text for scripts, or a rich renderable for people. Pure: nothing here writes
to a stream.

One module per family of results, found by convention: a result defined in
``embedcli.X`` or ``embedcli.<package>.X`` is drawn by ``embedcli.render.X``
(``engine.results`` -> ``render.results``, ``classroom`` -> ``render.classroom``,
``evaluate`` -> ``render.evaluate``, ``render.records`` itself). Each family module
defines ``to_dict``, ``iter_text`` and ``to_renderable`` (dispatched by type inside it,
with ``functools.singledispatch``), and ``batch_rows`` where batch writes its results.
Importing only the family a result needs keeps a query's imports small: an analogy never
imports the classroom's or the evaluation's renderers.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from embedcli.formats import Format

if TYPE_CHECKING:
    from rich.console import RenderableType


def family(result: object) -> ModuleType:
    """The render module of ``result``'s family."""
    return importlib.import_module("embedcli.render." + type(result).__module__.rsplit(".")[-1])


def to_dict(result: Any) -> dict[str, Any]:
    """The stable JSON object documented in the README."""
    out: dict[str, Any] = family(result).to_dict(result)
    return out


def iter_text(result: Any, fmt: Format) -> Iterator[str]:
    """Machine output (every format but ``table``) a line at a time, so that a long answer
    streams (and a closed pipe shows)."""
    return family(result).iter_text(result, fmt)


def to_renderable(result: Any) -> RenderableType:
    """A rich renderable for a terminal; every text in it with its control characters
    escaped (``common.for_people``). Print it on a console without markup
    (``cli.io.console``): a word such as ``[/dim]`` is a word."""
    from embedcli.render.common import for_people

    return family(result).to_renderable(for_people(result))
