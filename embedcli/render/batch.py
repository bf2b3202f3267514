"""The output lines of ``embedcli batch`` (and of a driven shell).

jsonl: the single command's object plus ``"line"``; a failed line
``{"line", "input", "error", "status"}``. tsv: one row per answer under ``TSV_HEADER``
(the README's batch section says which column holds what for each command).
"""

from __future__ import annotations

import json
from typing import Any

from embedcli.render import family, to_dict
from embedcli.render.common import cell

TSV_HEADER = ["line", "command", "query", "rank", "word", "score", "error"]


def jsonl(line: int, result: Any) -> str:
    return json.dumps({"line": line, **to_dict(result)}, ensure_ascii=False) + "\n"


def error_jsonl(line: int, text: str, message: str, status: int) -> str:
    return json.dumps({"line": line, "input": text, "error": message, "status": status},
                      ensure_ascii=False) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def tsv(line: int, command: str, words: list[str], result: Any) -> str:
    """The tsv rows of one answered batch line."""
    rows = family(result).batch_rows(result, words)
    return "".join("\t".join(cell(x) for x in [line, command, *row, None]) + "\n"
                   for row in rows)


def tsv_error(line: int, text: str, message: str) -> str:
    """The one tsv row of a failed line: its first word as the command, the rest as query."""
    command, _, rest = _one_line(text).partition(" ")
    return "\t".join([str(line), cell(command), cell(rest), "", "", "",
                      cell(_one_line(message))]) + "\n"



