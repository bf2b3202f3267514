"""The output formats of ``--format``. A leaf: it imports nothing of embedcli, so the CLI
can name the formats without importing the renderers (or numpy)."""

from __future__ import annotations

from enum import Enum


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    tsv = "tsv"
    csv = "csv"
    plain = "plain"


class Method(str, Enum):
    """How an analogy is scored: 3CosAdd or 3CosMul."""

    add = "add"
    mul = "mul"
