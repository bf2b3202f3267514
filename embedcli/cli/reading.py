"""How a command reads its model (:class:`Reading`), apart from the options that set it
(``options``), so that what runs before typer is imported (``main``'s ``--version``)
needs no typer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    """How a command reads its model: --limit, --trust, --unicode-errors, --dtype, and
    --no-subwords (which words its queries may use: fastText's subword vectors or not)."""

    limit: int | None = None
    trust: bool = False
    unicode_errors: str = "strict"
    dtype: str | None = None
    no_subwords: bool = False


AS_GIVEN = Reading()  # no reading options: the model as its file holds it
