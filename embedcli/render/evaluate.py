"""Evaluation reports (``evaluate.AnalogyReport``, ``evaluate.PairsReport``) as text and
tables.

* json: one object with every figure (below);
* tsv, csv, jsonl: a row per section, then the semantic, syntactic and total rows
  (analogies), or a row per dataset (similarity);
* plain: ``name<TAB>figure`` a line: each row's accuracy, or each dataset's Spearman rho;
* table: the same rows, the coverage, and the wrong answers asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from embedcli.evaluate import AnalogyReport, PairsReport, SectionScore
from embedcli.formats import Format
from embedcli.render.common import Bar, Col, Fitted, Num, Parts, iter_rows, rank
from embedcli.render.common import cell as _cell
from embedcli.render.common import num as _num
from embedcli.render.common import score_style as _score_style

if TYPE_CHECKING:
    from rich.console import RenderableType

EvaluationResult = AnalogyReport | PairsReport
SECTION_HEADER = ["section", "kind", "questions", "evaluated", "correct", "incorrect",
                  "skipped", "accuracy"]
PAIRS_HEADER = ["dataset", "pairs", "used", "oov", "oov_percent", "pearson", "spearman"]


def _opt(x: float | None) -> float | None:
    return None if x is None else _num(x)


def _section(s: SectionScore) -> dict[str, Any]:
    return {"section": s.name, "kind": s.kind, "questions": s.questions,
            "evaluated": s.evaluated, "correct": s.correct, "incorrect": s.incorrect,
            "skipped": s.skipped, "accuracy": _opt(s.accuracy)}


def to_dict(result: EvaluationResult) -> dict[str, Any]:
    """Every figure: the stable JSON object documented in the README."""
    if isinstance(result, PairsReport):
        return {"model": result.model, "restrict": result.restrict, "words": result.words,
                "case_insensitive": result.case_insensitive,
                "results": [{"dataset": p.dataset, "file": p.path, "pairs": p.pairs,
                             "used": p.used, "oov": p.oov, "oov_percent": p.oov_percent,
                             "pearson": _num(p.pearson), "spearman": _num(p.spearman),
                             "invalid_lines": p.invalid_lines} for p in result.results]}
    r = result
    return {
        "dataset": r.dataset, "file": r.path, "model": r.model, "method": r.method,
        "split": r.split,
        "restrict": r.restrict, "words": r.words, "case_insensitive": r.case_insensitive,
        "accuracy": _opt(r.total.accuracy), "questions": r.total.questions,
        "evaluated": r.total.evaluated, "correct": r.total.correct,
        "incorrect": r.total.incorrect, "skipped": r.total.skipped,
        "coverage": r.coverage, "oov_percent": r.oov_percent,
        "semantic": _section(r.semantic), "syntactic": _section(r.syntactic),
        "total": _section(r.total),
        "sections": [_section(s) for s in r.sections],
        "errors": [{"section": e.section, "line": e.line, "question": list(e.question),
                    "expected": e.expected, "predicted": e.predicted,
                    "predicted_score": _opt(e.predicted_score),
                    "expected_rank": e.expected_rank, "expected_score": _opt(e.expected_score)}
                   for e in r.errors],
        "invalid_lines": r.invalid_lines,
    }


def _rows(result: EvaluationResult) -> tuple[list[str], list[list[Any]]]:
    if isinstance(result, PairsReport):
        return PAIRS_HEADER, [[p.dataset, p.pairs, p.used, p.oov, p.oov_percent,
                               _num(p.pearson), _num(p.spearman)] for p in result.results]
    every = [*result.sections, result.semantic, result.syntactic, result.total]
    return SECTION_HEADER, [list(_section(s).values()) for s in every]


def iter_text(result: EvaluationResult, fmt: Format) -> Iterator[str]:
    if fmt is Format.json:
        yield json.dumps(to_dict(result), ensure_ascii=False, indent=2) + "\n"
        return
    header, rows = _rows(result)
    if fmt is Format.plain:
        figure = header.index("spearman" if isinstance(result, PairsReport) else "accuracy")
        for row in rows:
            yield f"{_cell(row[0])}\t{_cell(row[figure])}\n"
    else:
        yield from iter_rows(header, rows, fmt)


def _settings(restrict: int | None, words: int, case_insensitive: bool) -> str:
    cut = f"restrict {restrict:,}" if restrict is not None and restrict <= words \
        else f"all {words:,} words"
    return f"{cut}, {'case-insensitive' if case_insensitive else 'case-sensitive'}"


def _figure(x: float | None) -> Any:
    from rich.text import Text

    if x is None or _num(x) is None:
        return Text("-", style="dim")
    return Num(x, style=_score_style(x))


def to_renderable(result: EvaluationResult) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    if isinstance(result, PairsReport):
        title = Text(f"word-pair similarity on {result.model}  ")
        title.append(f"({_settings(result.restrict, result.words, result.case_insensitive)})",
                     style="dim")
        columns = [Col("dataset", style="bold"), *(Col(name, "right") for name in
                                                   ("pairs", "used", "unknown", "pearson",
                                                    "spearman"))]
        return Fitted(columns, [[Text(p.dataset), rank(p.pairs), rank(p.used),
                                 Parts((rank(p.oov), " (", Num(p.oov_percent, 1, fixed=True,
                                                               suffix="%)"))),
                                 _figure(p.pearson), _figure(p.spearman)]
                                for p in result.results], title=title)

    r = result
    title = Text(f"{r.dataset} analogies on {r.model}  ")
    title.append(f"({r.method}, {_settings(r.restrict, r.words, r.case_insensitive)})",
                 style="dim")
    summaries = [r.semantic, r.syntactic, r.total]
    rows = []
    for s in [*r.sections, *summaries]:
        bold = s.kind == "summary"
        style = _score_style(s.accuracy) if s.accuracy is not None else "dim"
        rows.append([Text(s.name, style="bold" if bold else ""), rank(s.correct),
                     rank(s.evaluated), _figure(s.accuracy),
                     Bar(s.accuracy, 1.0, style) if s.accuracy is not None else "",
                     rank(s.skipped) if s.skipped else ""])
    table = Fitted([Col("section"), Col("correct", "right"), Col("of", "right"),
                    Col("accuracy", "right"), Col(),
                    Col("skipped", "right", "dim")], rows,
                   title=title, sections={len(r.sections) - 1})
    t = r.total
    parts: list[RenderableType] = [table, Text(
        f"coverage: {t.evaluated:,} of {t.questions:,} questions ({100 * r.coverage:.2f}%); "
        f"{t.skipped:,} skipped for a word outside the first {r.words:,} words", style="dim")]
    if r.errors:
        wrong = []
        for e in r.errors:
            a, b, c = e.question
            wrong.append([rank(e.line), Text(f"{a} : {b} :: {c} : ?"),
                          Text(e.expected, style="green"), Text(e.predicted or "-", style="red"),
                          Num(e.expected_rank, 0, fixed=True, prefix="#")
                          if e.expected_rank is not None else "an input"])
        parts.append(Text())
        parts.append(Fitted([Col("line", "right"), Col("question"), Col("expected"),
                             Col("answer"), Col("expected's rank", "right")], wrong,
                            title=f"{len(r.errors)} of {t.incorrect:,} wrong answers"))
    return Group(*parts)
