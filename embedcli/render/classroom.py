"""The classroom's results (``classroom.Explanation``, ``classroom.Interpolation``) as text
and tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from embedcli.classroom import Dimensions, Explanation, Interpolation, OffsetCosine, Placement
from embedcli.formats import Format
from embedcli.render.common import Bar, Col, Fitted, Num, Parts, machine_text
from embedcli.render.common import num as _num
from embedcli.render.common import score_style as _score_style
from embedcli.render.results import to_dict as _ranking_dict

if TYPE_CHECKING:
    from rich.console import RenderableType

ClassroomResult = Explanation | Interpolation | Dimensions
DIMS_HEADER = ["component", "variance", "cumulative"]
EXPLAIN_HEADER = ["part", "of", "word", "rank", "score"]
INTERPOLATE_HEADER = ["t", "rank", "word", "score"]


def _place(p: Placement | None, key: str = "score") -> dict[str, Any] | None:
    return None if p is None else {"word": p.word, "rank": p.rank, key: _num(p.score)}


def _components(d: Dimensions) -> list[list[Any]]:
    """The first ``d.top`` components: number, share of the variance, running total."""
    out, total = [], 0.0
    for k, x in enumerate(d.shares[: d.top], 1):
        total += x
        out.append([k, x, total])
    return out


def to_dict(result: ClassroomResult) -> dict[str, Any]:
    if isinstance(result, Dimensions):
        return {"model": result.model, "sample": result.sample, "dimensions": result.dim,
                "half": result.holding(0.5), "ninety": result.holding(0.9),
                "components": [dict(zip(DIMS_HEADER, row)) for row in _components(result)]}
    if isinstance(result, Interpolation):
        return {"a": result.a, "b": result.b, "model": result.model,
                "ends_excluded": result.ends_excluded,
                "steps": [{"t": s.t, "results": [{"rank": h.rank, "word": h.word,
                                                  "score": _num(h.score)} for h in s.results]}
                          for s in result.steps]}
    e = result
    out = _ranking_dict(e.ranking)
    out["top"] = e.top
    out["answer"] = e.answer
    out["inputs"] = [{"word": i.word, "weight": i.weight, "cosine_to_answer": _num(i.to_answer),
                      "cosine_to_expected": None if i.to_expected is None
                      else _num(i.to_expected)} for i in e.inputs]
    out["expected"] = None if e.expected is None else {
        "word": e.expected.word, "rank": e.expected.rank, "score": _num(e.expected.score),
        "within_top": e.expected.within_top}
    out["base"] = None if e.base is None else {
        "word": e.base.base, "answer": _place(e.base.answer, "similarity"),
        "expected": _place(e.base.expected, "similarity")}
    out["offset"] = None if e.offset is None else {
        k: v for k, v in _ranking_dict(e.offset).items() if k in ("query", "results", "excluded")}
    out["offset_note"] = e.offset_note
    out["others"] = [{"word": v.base, "answer": _place(v.answer, "similarity"),
                      "expected": _place(v.expected, "similarity")} for v in e.others]
    out["offset_similarity"] = None if e.offsets is None else _num(e.offsets.cosine)
    out["offset_words"] = None if e.offsets is None else [
        e.offsets.a, e.offsets.b, e.offsets.c, e.offsets.d]
    out["passed"] = e.passed
    return out


def rows(result: ClassroomResult) -> tuple[list[str], list[list[Any]]]:
    """The flat rows of tsv, csv and jsonl."""
    if isinstance(result, Dimensions):
        return DIMS_HEADER, _components(result)
    if isinstance(result, Interpolation):
        return INTERPOLATE_HEADER, [[s.t, h.rank, h.word, _num(h.score)]
                                    for s in result.steps for h in s.results]
    e = result
    q = e.ranking.query
    out: list[list[Any]] = [["answer", q, h.word, h.rank, _num(h.score)]
                            for h in e.ranking.results]
    out += [["left-out", q, x.word, x.rank, _num(x.score)] for x in e.ranking.excluded]
    out += [["cosine-to-answer", e.answer, i.word, None, _num(i.to_answer)] for i in e.inputs]
    if e.expected is not None:
        out += [["cosine-to-expected", e.expected.word, i.word, None, _num(i.to_expected)]
                for i in e.inputs if i.to_expected is not None]
        out.append(["expected", q, e.expected.word, e.expected.rank, _num(e.expected.score)])
    for part, views in (("base-neighbour", [e.base] if e.base else []),
                        ("input-neighbour", e.others)):
        for view in views:
            for p in (view.answer, view.expected):
                if p is not None:
                    out.append([part, view.base, p.word, p.rank, _num(p.score)])
    if e.offset is not None:
        out += [["offset", e.offset.query, h.word, h.rank, _num(h.score)]
                for h in e.offset.results]
    if e.offsets is not None:
        o = e.offsets
        out.append(["offset-similarity", f"{o.a} -> {o.b}", f"{o.c} -> {o.d}", None,
                    _num(o.cosine)])
    return EXPLAIN_HEADER, out


def plain(result: ClassroomResult) -> list[str]:
    """The answers only: one word a line."""
    if isinstance(result, Dimensions):
        return [repr(x) for x in result.shares[: result.top]]
    if isinstance(result, Interpolation):
        return [s.results[0].word for s in result.steps if s.results]
    return [h.word for h in result.ranking.results]


def iter_text(result: ClassroomResult, fmt: Format) -> Iterator[str]:
    return machine_text(result, fmt, to_dict=to_dict, rows=rows, plain=plain)


# --------------------------------------------------------------------------- tables


def to_renderable(result: ClassroomResult) -> RenderableType:
    if isinstance(result, Dimensions):
        return _dimensions_table(result)
    if isinstance(result, Interpolation):
        return _interpolation_table(result)
    return _explanation(result)


def _score(x: float) -> Any:
    return Num(x, style=_score_style(x))


def _explanation(e: Explanation) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    from embedcli.render.results import to_renderable as ranking_table

    parts: list[Any] = [ranking_table(e.ranking), Text()]
    answer = e.answer or "?"
    columns = [Col("term", style="bold"), Col("weight", "right"),
               Col(f"cosine to {answer}", "right"), Col()]
    other = e.expected is not None and e.expected.word != answer
    if e.expected is not None and other:
        columns.append(Col(f"cosine to {e.expected.word}", "right"))
    rows = []
    for i in e.inputs:
        cells = [Text(i.word), f"{i.weight:+g}", _score(i.to_answer),
                 Bar(i.to_answer, 1.0, _score_style(i.to_answer), 12)]
        if other:
            cells.append(_score(i.to_expected) if i.to_expected is not None else "")
        rows.append(cells)
    parts.append(Fitted(columns, rows,
                        title=f"each word of the query, and the answer '{answer}'"))
    if e.expected is not None:
        x = e.expected
        line = Text("expected ")
        line.append(x.word, style="bold")
        if x.rank is None:
            line.append(": it is one of the query's own words, which are left out of the "
                        "answers", style="bold red")
        else:
            line.append(f": #{x.rank:,} of the answers ({x.score:.4f}); ")
            line.append(f"within the top {e.top}" if x.within_top else
                        f"not within the top {e.top}",
                        style="bold green" if x.within_top else "bold red")
        parts.append(line)
    if e.base is not None:
        parts += [Text(), _neighbourhoods(e)]
    if e.offset is not None:
        parts += [Text(), Text("the offset alone (the query without its base word "
                               f"'{e.base.base if e.base else ''}'):", style="bold"),
                  ranking_table(e.offset)]
    elif e.offset_note:
        parts.append(Text(f"the offset alone: {e.offset_note}", style="dim"))
    if e.offsets is not None:
        parts += [Text(), offsets_sentence(e.offsets)]
    return Group(*parts)


def offsets_sentence(o: OffsetCosine) -> Any:
    """'the offsets man->king and woman->queen have cosine 0.83 (about 34 degrees)'."""
    from rich.text import Text

    return Text(f"the offsets {o.a}->{o.b} and {o.c}->{o.d} have cosine {o.cosine:.2f} "
                f"(about {o.degrees:.0f} degrees)")


NEAR = 5  # an answer this close to a '+' word may owe its place to that word, not the offset


def _neighbourhoods(e: Explanation) -> Any:
    """Where the answer (and the expected word) stand among each '+' word's neighbours."""
    from rich.text import Text

    assert e.base is not None
    text = Text()
    for view in [e.base, *e.others]:
        shown = [view.answer]
        if view.expected is not None and view.expected.word != view.answer.word:
            shown.append(view.expected)
        for p in shown:
            text.append(p.word, style="bold")
            if p.rank is None:
                text.append(f" is {view.base} itself\n")
                continue
            text.append(f" is #{p.rank:,} among the neighbours of {view.base} "
                        f"(cosine {p.score:.4f})")
            if p is view.answer and view is e.base:
                if p.rank <= NEAR:
                    text.append(f": it is already next to {view.base}, so this answer says "
                                "little about the offset", style="yellow")
                else:
                    text.append(": the offset carried it there", style="green")
            elif p is view.answer and p.rank <= NEAR:
                text.append(f": it is next to {view.base} already, which may be why it wins",
                            style="yellow")
            text.append("\n")
    text.rstrip()
    return text


def _interpolation_table(result: Interpolation) -> RenderableType:
    from rich.text import Text

    width = max((len(s.results) for s in result.steps), default=0)
    title = Text(f"{result.a} to {result.b}  ")
    title.append(f"({result.model}" + (", the two ends left out)" if result.ends_excluded
                                       else ")"), style="dim")
    rows = []
    for step in result.steps:
        cells: list[Any] = [Num(step.t, 2, "dim", fixed=True)]
        for h in step.results:
            style = "bold" if h.word in (result.a, result.b) else ""
            cells.append(Parts((Text(h.word, style=style), " ",
                                Num(h.score, 2, "dim", fixed=True))))
        rows.append(cells + [""] * (width + 1 - len(cells)))
    return Fitted([Col("t", "right", "dim"), *(Col(f"#{k}") for k in range(1, width + 1))],
                  rows, title=title, pad_edge=False, collapse_padding=True)


def _dimensions_table(d: Dimensions) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    title = Text(f"variance of the first {d.top} principal components  ")
    title.append(f"({d.model}, the {d.sample:,} most frequent words)", style="dim")
    top = max(d.shares) if d.shares else 1.0
    rows = [[str(k), Num(100 * x, 1, suffix="%", fixed=True),
             Num(100 * total, 1, suffix="%", fixed=True), Bar(x, top, width=16)]
            for k, x, total in _components(d)]
    table = Fitted([Col("component", "right"), Col("variance", "right"),
                    Col("cumulative", "right"), Col("")], rows, title=title)
    note = Text(f"{d.holding(0.5)} of the {d.dim} components hold half the variance, "
                f"{d.holding(0.9)} hold 90%")
    return Group(table, note)
