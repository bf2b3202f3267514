"""Classroom commands: explain, interpolate, plot, quiz.

The logic is in ``embedcli.classroom`` (pure), the drawing in ``embedcli.plot`` (the
only matplotlib user); explain is answered on the one query path (``embedcli.queries``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from embedcli.cli.io import (
    console,
    emit,
    interrupt_handled,
    load_model,
    make_resolver,
    note_skipped,
    os_path,
    report_error,
    require_stdin,
    run,
    say,
    too_long,
    write_console,
)
from embedcli.cli.options import (
    AS_GIVEN,
    CaseOpt,
    FormatOpt,
    ModelOpt,
    QueryArg,
    QueryCommand,
    Reading,
    RestrictOpt,
    reads_model,
)
from embedcli.errors import ExitStatus, safe

if TYPE_CHECKING:
    from embedcli.classroom import Graded

app = typer.Typer()


# --------------------------------------------------------------------------- explain


@app.command(cls=QueryCommand)
@reads_model
def explain(
    query: QueryArg,
    expect: Annotated[str | None, typer.Option(
        "--expect", "-e", metavar="WORD", show_default=False,
        help="The answer you expect: its rank is shown, and decides the exit status.")] = None,
    model_spec: ModelOpt = None,
    top: Annotated[int, typer.Option("--top", "-n",
                                     help="How many answers (and offset words).")] = 5,
    restrict: RestrictOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Explain an analogy: the answers, and the figures that say why it worked (or not).

    Example: embedcli explain "king - man + woman" --expect queen

    Beside the answers (3CosAdd, as 'embedcli analogy'): each word's cosine to the top
    answer; the rank and score of the expected word; the answer's rank among the base
    word's own neighbours (if queen is already king's 2nd neighbour, the analogy says
    little); the nearest words to the offset alone (woman - man).

    Exit status: 0 when the expected word is within --top (or none is given), 1 when it is
    not, so a script can grade: embedcli explain "paris - france + italy" -e rome -n 1
    """
    result = run("explain", query, model_spec, reading, case_sensitive, format, top=top,
                 restrict=restrict, expect=expect)
    if not result.passed:
        raise typer.Exit(ExitStatus.NO_ANSWER)


# --------------------------------------------------------------------------- interpolate


@app.command(cls=QueryCommand)
@reads_model
def interpolate(
    a: Annotated[str, typer.Argument(metavar="A", show_default=False,
                                     help="The start: a word or an expression.")],
    b: Annotated[str, typer.Argument(metavar="B", show_default=False,
                                     help="The end: a word or an expression.")],
    steps: Annotated[int, typer.Option(
        "--steps", "-s", min=2, help="Points on the line, both ends included (at most "
                                     "1,000).")] = 6,
    top: Annotated[int, typer.Option("--top", "-n",
                                     help="Nearest words at each point.")] = 5,
    exclude_ends: Annotated[bool, typer.Option(
        "--exclude-ends", help="Leave A and B themselves out of the nearest words.")] = False,
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Walk the straight line from A to B: the nearest words at each step.

    Examples:

    embedcli interpolate king queen --steps 6

    embedcli interpolate "king - man + woman" queen --exclude-ends

    At step t (0 to 1) the point is (1-t)*A + t*B of the two unit vectors, normalised; its
    nearest words show how the space moves smoothly from A to B. An expression stands for
    its query vector, as in analogy. A's and B's words are candidates (so t=0 gives A
    first and t=1 gives B first) unless --exclude-ends.
    """
    from embedcli.classroom import check_walk
    from embedcli.classroom import interpolate as walk
    from embedcli.expr import parse
    from embedcli.queries import at_least_one

    at_least_one("-n/--top", top)
    check_walk(steps)  # before loading: --steps 99999999999999999999 is no walk
    m = load_model(model_spec, reading)
    resolver = make_resolver(m, case_sensitive, reading=reading)
    ends = [parse(text, resolver.is_word) for text in (a, b)]
    emit(walk(m, ends[0], ends[1], resolver, steps=steps, top=top, exclude_ends=exclude_ends),
         format)


# --------------------------------------------------------------------------- plot


class Projection(str, Enum):
    pca = "pca"
    tsne = "tsne"


@app.command()
@reads_model
def plot(
    words: Annotated[list[str] | None, typer.Argument(
        metavar="[WORDS]...", help="The words to draw.", show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="FILE", show_default=False,
        help="The picture to write: .png, .svg or .pdf.")] = ...,  # type: ignore[assignment]
    method: Annotated[Projection, typer.Option(
        "--method", case_sensitive=False,
        help="pca (numpy), or tsne (needs scikit-learn).")] = Projection.pca,
    analogy: Annotated[str | None, typer.Option(
        "--analogy", metavar="A:B::C:D", show_default=False,
        help="Draw the two offset arrows A->B and C->D (D may be ?: the model's "
             "answer).")] = None,
    neighbors: Annotated[str | None, typer.Option(
        "--neighbors", metavar="WORD", show_default=False,
        help="Draw WORD and its --top nearest neighbours.")] = None,
    top: Annotated[int, typer.Option("--top", "-n", min=1,
                                     help="How many neighbours with --neighbors.")] = 10,
    heatmap: Annotated[bool, typer.Option(
        "--heatmap", help="Draw the words' cosine-similarity matrix instead.")] = False,
    title: Annotated[str | None, typer.Option("--title", show_default=False,
                                              help="The picture's title.")] = None,
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    reading: Reading = AS_GIVEN,
) -> None:
    """Draw words projected to 2-D (PCA), an analogy's parallelogram, or a heat map.

    Examples:

    embedcli plot --analogy "man:king::woman:queen" --out analogy.png

    embedcli plot --neighbors frog --top 12 --out frog.svg

    embedcli plot cat dog car truck --heatmap --out similarity.pdf

    The same words give the same file, byte for byte.
    """
    from embedcli.classroom import check_picture, picture
    from embedcli.plot import draw, output_format

    output_format(out)  # a wrong ending is a usage error before any work
    check_picture(len(words or []) + (top if neighbors else 0) + (4 if analogy else 0),
                  heatmap)
    out = Path(os_path(str(out)))
    m = load_model(model_spec, reading)
    resolver = make_resolver(m, case_sensitive, reading=reading)
    pic = picture(m, resolver, words or [], analogy=analogy, neighbors=neighbors, top=top,
                  method=method.value, heatmap=heatmap, title=title)
    for note in draw(pic, out):
        say("note", note)
    what = "heat map" if pic.kind == "heatmap" else method.value.upper().replace("TSNE", "t-SNE")
    detail = ""
    if pic.projection is not None and pic.projection.explained:
        shown = sum(pic.projection.explained)
        detail = f"; the picture shows {shown:.0%} of their variance"
    say("", f"wrote {out} ({len(pic.words)} words, {what}{detail})")


# --------------------------------------------------------------------------- quiz


@app.command()
@reads_model
def quiz(
    file: Annotated[str | None, typer.Argument(
        metavar="[DATASET|FILE]", show_default=False,
        help="Questions: ': section' lines, then 'a b c d' lines (a is to b as c is to d), "
             "read as 'embedcli evaluate analogies' reads them. Default: google, the Google "
             "analogy set.")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", show_default=False, help="The same seed asks the same questions in the "
                                           "same order.")] = None,
    count: Annotated[int, typer.Option("--count", "-c", min=1,
                                       help="How many questions.")] = 10,
    section: Annotated[str | None, typer.Option(
        "--section", metavar="TEXT", show_default=False,
        help="Only sections whose name contains TEXT (capital, gram3, family...).")] = None,
    restrict: RestrictOpt = None,
    model_spec: ModelOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Analogy questions: answer each, and see the model's answer beside yours.

    Example: embedcli quiz --seed 7 --count 5

    After each answer: right or wrong, the model's answer, the rank the model gives your
    word, and the running score (yours and the model's). An empty answer passes; Ctrl-D
    ends the quiz with the final score. Answers may come from a pipe, one a line:

    printf 'iraq\\nrome\\n' | embedcli quiz --seed 1 --count 2
    """
    from embedcli.classroom import choose_questions
    from embedcli.engine.words import Resolver
    from embedcli.evaluate import ANALOGY_LINES, locate, read_analogies
    from embedcli.queries import at_least_one

    at_least_one("--restrict", restrict)
    if not sys.stdin.isatty():
        require_stdin()  # answers come from stdin: a closed one is said before any work
    name, path = locate(os_path(file) if file else "google", "analogies")
    dataset = read_analogies(path, name, file_section=True)  # as evaluate reads it
    note_skipped(dataset, ANALOGY_LINES)
    questions = [q for s in dataset.sections for q in s.questions]
    m = load_model(model_spec, reading)
    resolver = Resolver(m)  # quietly lower-cased: the Google set writes Athens, Greece
    chosen = choose_questions(questions, resolver, count=count, seed=seed, section=section)
    _Quiz(m, resolver, chosen, restrict,
          "the Google analogy set" if file is None else name).run()


class _Quiz:
    def __init__(self, model: Any, resolver: Any, questions: list, restrict: int | None,
                 source: str):
        self.model, self.resolver, self.questions = model, resolver, questions
        self.restrict, self.source = restrict, source
        self.console = console(highlight=False)
        self.right = self.model_right = self.asked = 0
        self.terminal = sys.stdin.isatty()
        self.lines: Iterator[str | None] = iter(())

    def run(self) -> None:
        from embedcli.cli.prompt import read_lines

        n = len(self.questions)
        self._print(f"quiz: {n} question{'s' * (n != 1)} from {self.source}, model "
                    f"{self.model.name}. Answer with one word; an empty answer passes; Ctrl-D "
                    "ends.", style="dim")
        if self.terminal:
            self._readline()
        else:
            self.lines = read_lines(sys.stdin)
        try:
            for k, question in enumerate(self.questions, 1):
                self._print("")
                self._print(f"{k}/{n}  {question.text}", style="bold", end="")
                self._print(f"   ({question.section})" if question.section else "",
                            style="dim")
                graded = self._ask(question)
                if graded is None:
                    break
                self._feedback(graded)
        except KeyboardInterrupt:
            interrupt_handled()
            self._print("")
            self._final()
            raise typer.Exit(ExitStatus.INTERRUPTED) from None
        self._final()

    def _readline(self) -> None:
        from types import SimpleNamespace

        from embedcli.cli.prompt import setup_readline

        try:  # line editing, and Tab completes words (a help with spelling, not the answer)
            setup_readline(SimpleNamespace(model=self.model))
        except ImportError:
            pass

    def _answer(self) -> str | None:
        """The next answer; None at the end of the input (Ctrl-D)."""
        if self.terminal:
            try:
                return input("your answer> ")
            except EOFError:
                self._print("")
                return None
        line = next(self.lines, "")
        while line is None:  # longer than io.MAX_LINE: no answer, and the same question
            report_error(too_long())
            line = next(self.lines, "")
        if not line:
            return None
        line = line.strip()
        self._print(f"your answer> {line}")
        return line

    def _ask(self, question: Any) -> Graded | None:
        from embedcli.classroom import grade
        from embedcli.errors import EmbedcliError

        while True:
            answer = self._answer()
            if answer is None:
                return None
            word = answer.strip()
            if len(word.split()) > 1:
                say("error", "one word, please")
                continue
            try:
                return grade(self.model, self.resolver, question, word or None,
                             restrict=self.restrict)
            except EmbedcliError as exc:  # a misspelt word: suggestions, and the same question
                report_error(exc)

    def _feedback(self, g: Graded) -> None:
        from rich.text import Text

        from embedcli.render.common import for_people

        self.asked += 1
        self.right += g.correct
        self.model_right += g.model_correct
        g = for_people(g)  # a word of the model, an answer typed: escaped
        q = g.question
        line = Text("  ")
        if g.answer is None:
            line.append("passed", style="yellow")
            line.append(f": the answer is {q.expected}")
        elif g.correct:
            line.append("right", style="bold green")
            line.append(f": {q.expected}")
        else:
            line.append("wrong", style="bold red")
            line.append(f": the answer is {q.expected}")
        line.append(".  The model says ")
        line.append(g.model_answer or "-", style="bold")
        line.append(" (right)" if g.model_correct else " (wrong)",
                    style="green" if g.model_correct else "red")
        if g.placement is not None and g.answer is not None:
            if g.placement.rank is None:
                line.append(f"; {g.answer} is one of the question's own words, which the "
                            "model leaves out")
            else:
                line.append(f"; it ranks {g.answer} #{g.placement.rank:,} "
                            f"({g.placement.score:.4f})")
        self._print(line)
        self._print(f"  score {self.right}/{self.asked}   model {self.model_right}/"
                    f"{self.asked}", style="dim")

    def _final(self) -> None:
        self._print(f"final score: {self.right}/{self.asked}  (the model: "
                    f"{self.model_right}/{self.asked})", style="bold")

    def _print(self, text: Any, style: str | None = None, end: str = "\n") -> None:
        from rich.text import Text

        renderable = Text(safe(text), style=style or "") if isinstance(text, str) else text
        write_console(self.console, renderable, markup=False, end=end)
