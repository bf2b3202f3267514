"""Classroom commands: explain, interpolate, plot, explore, dims, quiz.

The logic is in ``embedcli.classroom`` and ``embedcli.explore`` (pure), the drawing in
``embedcli.plot`` (the only matplotlib user) and ``embedcli.page`` (the only plotly user);
explain is answered on the one query path (``embedcli.queries``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from embedcli.cli import complete
from embedcli.cli.io import (
    console,
    emit,
    interrupt_handled,
    json_for_stdout,
    load_model,
    make_resolver,
    note_skipped,
    os_path,
    report_error,
    require_stdin,
    run,
    say,
    too_long,
    with_model,
    write,
    write_console,
)
from embedcli.cli.options import (
    AS_GIVEN,
    CaseOpt,
    FormatOpt,
    MethodOpt,
    ModelOpt,
    QueryArg,
    QueryCommand,
    Reading,
    RestrictOpt,
    reads_model,
)
from embedcli.errors import ExitStatus, UsageError, safe
from embedcli.formats import Format, Method

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
    method: MethodOpt = Method.add,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Explain an analogy: the answers, and the figures that say why it worked (or not).

    Example: embedcli explain "king - man + woman" --expect queen

    Beside the answers (3CosAdd, as 'embedcli analogy'): each word's cosine to the top
    answer; the rank and score of the expected word; the answer's rank among the base
    word's own neighbours (if queen is already king's 2nd neighbour, the analogy says
    little); the nearest words to the offset alone (woman - man); and how parallel
    the two offsets are (man->king against woman->queen: their cosine, and the angle).
    --method mul ranks the answers, the expected word and the offset by 3CosMul, as
    'embedcli analogy --method mul' does.

    Exit status: 0 when the expected word is within --top (or none is given), 1 when it is
    not, so a script can grade: embedcli explain "paris - france + italy" -e rome -n 1
    """
    result = run("explain", query, model_spec, reading, case_sensitive, format, top=top,
                 restrict=restrict, expect=expect, method=method.value)
    if not result.passed:
        raise typer.Exit(ExitStatus.NO_ANSWER)


# --------------------------------------------------------------------------- interpolate


@app.command(cls=QueryCommand)
@reads_model
def interpolate(
    a: Annotated[str, typer.Argument(metavar="A", show_default=False,
        autocompletion=complete.words,
                                     help="The start: a word or an expression.")],
    b: Annotated[str, typer.Argument(metavar="B", show_default=False,
        autocompletion=complete.words,
                                     help="The end: a word or an expression.")],
    steps: Annotated[int, typer.Option(
        "--steps", "-s", min=2, help="Points on the line, both ends included (at most "
                                     "1,000).")] = 6,
    top: Annotated[int, typer.Option("--top", "-n",
                                     help="Nearest words at each point.")] = 5,
    exclude_ends: Annotated[bool, typer.Option(
        "--exclude-ends", help="Leave A and B themselves out of the nearest words.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="FILE", show_default=False,
        help="Also draw the path and the nearest word at each step (.png, .svg, .pdf), as "
             "'embedcli plot --interpolate A B' does.")] = None,
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Walk the straight line from A to B: the nearest words at each step.

    Examples:

    embedcli interpolate king queen --steps 6

    embedcli interpolate "king - man + woman" queen --exclude-ends

    embedcli interpolate cat dog --steps 8 --out path.png

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
    if out is not None:
        from embedcli.plot import output_format

        output_format(out)
    m = load_model(model_spec, reading)
    resolver = make_resolver(m, case_sensitive, reading=reading)
    ends = [parse(text, resolver.is_word) for text in (a, b)]
    emit(walk(m, ends[0], ends[1], resolver, steps=steps, top=top, exclude_ends=exclude_ends),
         format)
    if out is not None:
        from embedcli.classroom import picture
        from embedcli.plot import draw

        pic = picture(m, resolver, [], interpolate=(a, b), steps=steps,
                      exclude_ends=exclude_ends)
        path = Path(os_path(str(out)))
        for note in draw(pic, path):
            say("note", note)
        say("", f"wrote {path} ({_what(pic)})")


# --------------------------------------------------------------------------- plot


class Projection(str, Enum):
    pca = "pca"
    tsne = "tsne"


@app.command()
@reads_model
def plot(
    words: Annotated[list[str] | None, typer.Argument(
        metavar="[WORDS]...", help="The words to draw.", show_default=False,
        autocompletion=complete.words)] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="FILE", show_default=False,
        help="The picture to write: .png, .svg or .pdf.")] = ...,  # type: ignore[assignment]
    method: Annotated[Projection, typer.Option(
        "--method", case_sensitive=False,
        help="pca (numpy), or tsne (needs scikit-learn).")] = Projection.pca,
    analogy: Annotated[list[str] | None, typer.Option(
        "--analogy", metavar="A:B::C:D", show_default=False,
        help="Draw the two offset arrows A->B and C->D (D may be ?: the model's answer) "
             "and their cosine; give it twice to draw two analogies.")] = None,
    neighbors: Annotated[str | None, typer.Option(
        "--neighbors", metavar="WORD", show_default=False,
        help="Draw WORD and its --top nearest neighbours.")] = None,
    top: Annotated[int, typer.Option("--top", "-n", min=1,
                                     help="How many neighbours with --neighbors.")] = 10,
    group: Annotated[list[str] | None, typer.Option(
        "--group", metavar="'NAME: W1 W2...'", show_default=False,
        help="Words drawn in one colour, named in the legend (give it for each group).")]
    = None,
    x_axis: Annotated[str | None, typer.Option(
        "--x-axis", metavar="'A -> B'", show_default=False,
        help="Place the words along the direction A -> B (with --y-axis), not by PCA.")]
    = None,
    y_axis: Annotated[str | None, typer.Option(
        "--y-axis", metavar="'A -> B'", show_default=False,
        help="The vertical direction (with --x-axis).")] = None,
    interpolate: Annotated[tuple[str, str] | None, typer.Option(
        "--interpolate", metavar="A B", show_default=False,
        help="Draw the straight path from A to B (words or expressions) and the nearest "
             "word at each of --steps points.")] = None,
    steps: Annotated[int, typer.Option(
        "--steps", "-s", min=2, help="Points of --interpolate's path.")] = 6,
    exclude_ends: Annotated[bool, typer.Option(
        "--exclude-ends", help="With --interpolate: label each step with its nearest word "
                               "other than A's and B's own.")] = False,
    context: Annotated[int | None, typer.Option(
        "--context", metavar="N", show_default=False,
        help="Fit the PCA on the words plus N frequent words (grey dots). Default: 1,000 "
             "with --analogy, --neighbors or --interpolate, else 0.")] = None,
    variance: Annotated[bool, typer.Option(
        "--variance", help="Draw the variance each principal component holds, over "
                           "--sample frequent words (as 'embedcli dims').")] = False,
    sample: Annotated[int, typer.Option(
        "--sample", metavar="N", help="With --variance: how many frequent words.")] = 10_000,
    heatmap: Annotated[bool, typer.Option(
        "--heatmap", help="Draw the words' cosine-similarity matrix instead.")] = False,
    title: Annotated[str | None, typer.Option("--title", show_default=False,
                                              help="The picture's title.")] = None,
    dpi: Annotated[int, typer.Option(
        "--dpi", min=50, max=600, help="Dots per inch of a PNG (8 x 6.5 inches).")] = 150,
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    reading: Reading = AS_GIVEN,
) -> None:
    """Draw words projected to 2-D (PCA), on two directions, an analogy, a path, a heat map.

    Examples:

    embedcli plot --analogy "man:king::woman:queen" --out analogy.png

    embedcli plot --neighbors frog --top 12 --out frog.svg

    embedcli plot --x-axis "man -> woman" --y-axis "small -> big" king queen ant whale -o axes.png

    embedcli plot --group "fruit: apple banana cherry" --group "tools: hammer saw" -o groups.png

    embedcli plot --interpolate king queen --steps 8 --out path.png

    embedcli plot --variance --out variance.png

    embedcli plot cat dog car truck --heatmap --out similarity.pdf

    With --analogy, --neighbors or --interpolate the PCA is fitted on a background of
    frequent words too (--context), since a PCA of a few words keeps nearly all their
    variance and flatters them; the picture says how much variance its axes keep. The
    same words give the same file, byte for byte.
    """
    from embedcli.classroom import check_picture, check_walk, picture, variance_picture
    from embedcli.plot import draw, output_format

    output_format(out)  # a wrong ending is a usage error before any work
    analogies = analogy or []
    check_picture(len(words or []) + (top if neighbors else 0) + 4 * len(analogies),
                  heatmap, context or 0)
    if interpolate:
        check_walk(steps)
    if variance and (words or analogies or neighbors or group or interpolate or x_axis
                     or y_axis or heatmap):
        raise UsageError("--variance draws the model's variance alone: it takes no words "
                         "or other kind of picture")
    if heatmap and (x_axis or y_axis or interpolate):
        raise UsageError("--heatmap draws a similarity matrix: it takes no --x-axis, "
                         "--y-axis or --interpolate")
    if (x_axis or y_axis) and method is not Projection.pca:
        raise UsageError("--x-axis and --y-axis replace the projection: they take no "
                         "--method")
    if sample < 2:
        raise UsageError("--sample must be at least 2 words")
    out = Path(os_path(str(out)))
    m = load_model(model_spec, reading)
    resolver = make_resolver(m, case_sensitive, reading=reading)
    if variance:
        pic = variance_picture(m, sample=sample, title=title)
    else:
        pic = picture(m, resolver, words or [], analogy=analogies, neighbors=neighbors,
                      top=top, method=method.value, heatmap=heatmap, title=title,
                      context=context, groups=group or [], x_axis=x_axis, y_axis=y_axis,
                      interpolate=interpolate, steps=steps, exclude_ends=exclude_ends)
    for note in draw(pic, out, dpi):
        say("note", note)
    say("", f"wrote {out} ({_what(pic)})")


def _what(pic: Any) -> str:
    """What the picture holds, for the line that says it was written."""
    if pic.kind == "variance":
        d = pic.variance
        return (f"the variance of {d.dim} components over {d.sample:,} frequent words; "
                f"{d.holding(0.5)} hold half of it")
    if pic.kind == "heatmap":
        return f"{len(pic.words)} words, heat map"
    proj = pic.projection
    what = {"pca": "PCA", "tsne": "t-SNE", "axes": "two directions"}[proj.method]
    detail = ""
    if proj.explained:
        detail = f"; the picture shows {sum(proj.explained):.0%} of their variance"
        if pic.background is not None and len(pic.background):
            detail = (f"; fitted with {len(pic.background):,} frequent words, its axes keep "
                      f"{sum(proj.explained):.0%} of the variance")
    return f"{len(pic.words)} words, {what}{detail}"


# --------------------------------------------------------------------------- dims


@app.command()
@reads_model(words=False)
def dims(
    sample: Annotated[int, typer.Option(
        "--sample", metavar="N", help="PCA of the N most frequent words' unit vectors.")]
    = 10_000,
    top: Annotated[int, typer.Option(
        "--top", "-n", metavar="K", help="How many components to list.")] = 10,
    model_spec: ModelOpt = None,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """How much of the variance the first principal components hold (dimensionality).

    Example: embedcli dims --top 10

    The PCA is of the unit vectors of the --sample most frequent words (numpy's SVD of
    the centred rows); 'embedcli plot --variance' draws all the components.
    """
    from embedcli.classroom import dimensions
    from embedcli.queries import at_least_one

    at_least_one("-n/--top", top)
    if sample < 2:
        raise UsageError("--sample must be at least 2 words")
    m = load_model(model_spec, reading)
    emit(dimensions(m, sample=sample, top=top), format)


# --------------------------------------------------------------------------- explore


class MapMethod(str, Enum):
    pca = "pca"
    tsne = "tsne"
    umap = "umap"


@app.command()
@reads_model
def explore(
    words: Annotated[list[str] | None, typer.Argument(
        metavar="[WORD]...", show_default=False,
        help="Words to put on the map, each with its --neighbors nearest.")] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="FILE.html", show_default=False,
        help="The page to write: one HTML file that works offline.")] = ...,  # type: ignore[assignment]
    neighbors: Annotated[int, typer.Option(
        "--neighbors", "-k", metavar="K",
        help="Put each WORD's K nearest neighbours on the map too.")] = 5,
    frequent: Annotated[int, typer.Option(
        "--frequent", metavar="N",
        help="Put the N most frequent words on the map, for context (0: none).")] = 2000,
    words_file: Annotated[str | None, typer.Option(
        "--words-file", metavar="FILE", show_default=False,
        help="Words to put on the map, one a line ('#' starts a comment).")] = None,
    group: Annotated[list[str] | None, typer.Option(
        "--group", metavar='"NAME: WORD..."', show_default=False,
        help='Words drawn in a colour of their own, with a legend entry: "fruit: apple '
             'banana" (repeat for more groups).')] = None,
    method: Annotated[MapMethod, typer.Option(
        "--method", case_sensitive=False,
        help="pca (numpy); tsne (needs scikit-learn); umap (needs umap-learn).")
    ] = MapMethod.pca,
    x_axis: Annotated[str | None, typer.Option(
        "--x-axis", metavar='"A -> B"', show_default=False,
        help="A map on directions: x is each word's cosine with the direction from A to B "
             "(with --y-axis).")] = None,
    y_axis: Annotated[str | None, typer.Option(
        "--y-axis", metavar='"A -> B"', show_default=False,
        help="The direction of the y axis (with --x-axis).")] = None,
    z_axis: Annotated[str | None, typer.Option(
        "--z-axis", metavar='"A -> B"', show_default=False,
        help="The direction of the z axis (with --3d, --x-axis and --y-axis).")] = None,
    three_d: Annotated[bool, typer.Option(
        "--3d", help="A 3-D map, turned with the mouse.")] = False,
    analogy: Annotated[list[str] | None, typer.Option(
        "--analogy", metavar="A:B::C:D", show_default=False,
        help="Draw the offsets A->B and C->D as arrows, with their cosine (D may be ?: the "
             "model's answer; repeat for more).")] = None,
    top: Annotated[int, typer.Option(
        "--top", "-n", help="How many neighbours a click lists (as embedcli neighbors "
                            "--top).")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="The seed of t-SNE and UMAP.")] = 0,
    title: Annotated[str | None, typer.Option("--title", show_default=False,
                                              help="The page's title.")] = None,
    model_spec: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    reading: Reading = AS_GIVEN,
) -> None:
    """Write an interactive map of the space as one HTML page that works offline.

    Examples:

    embedcli explore king queen frog --out map.html

    embedcli explore --analogy "man : king :: woman : queen" --group "fruit: apple banana"
    --out lesson.html

    embedcli explore doctor nurse engineer --x-axis "man -> woman" --y-axis "small -> big"
    --out directions.html

    The map shows the WORDs, their --neighbors nearest, a --words-file's words, the --group
    words and the --frequent most frequent words, placed by PCA (the variance each axis
    keeps is shown), t-SNE, UMAP, or on two directions. In the page: hover a point for its
    word, find a word with the search box, click a word to light up its --top nearest
    neighbours (looked up in the full space, as embedcli neighbors does), scroll to zoom,
    drag to pan. The same command writes the same file, byte for byte.
    """
    from embedcli.explore import (
        MAX_MAP,
        build,
        check_direction,
        check_method,
        check_sizes,
        read_words_file,
    )
    from embedcli.expr import parse_group
    from embedcli.page import check_out, write

    check_sizes(frequent=frequent, neighbors=neighbors, top=top)
    if len(words or []) > MAX_MAP:
        raise UsageError(f"a map takes at most {MAX_MAP:,} words, not {len(words or []):,}")
    groups = [parse_group(text) for text in group or []]
    given = [(name, text) for name, text in (("--x-axis", x_axis), ("--y-axis", y_axis),
                                             ("--z-axis", z_axis)) if text is not None]
    for _, text in given:
        check_direction(text)  # read again against the model's words once it is loaded
    axes = [text for _, text in given]
    if given:
        names = [name for name, _ in given]
        wanted = ["--x-axis", "--y-axis", "--z-axis"][:3 if three_d else 2]
        if names != wanted:
            raise UsageError("a map on directions takes --x-axis and --y-axis (and --z-axis "
                             "with --3d)")
        if method is not MapMethod.pca:
            raise UsageError("--method places words by a projection; --x-axis and --y-axis "
                             "place them on directions: use one or the other")
    else:
        check_method(method.value)  # a missing library is said before any work
    listed = read_words_file(os_path(words_file)) if words_file else []
    out = Path(os_path(str(out)))
    check_out(out)

    def draw_map(m: Any) -> Any:
        return build(m, make_resolver(m, case_sensitive, reading=reading), words or [],
                     neighbors=neighbors, frequent=frequent, listed=listed,
                     listed_from=words_file or "", groups=groups, analogies=analogy or [],
                     method=method.value, axes=axes, dims=3 if three_d else 2, top=top,
                     seed=seed)

    page_map = with_model(model_spec, reading, draw_map)
    size = write(page_map, out, title=title)
    how = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "axes": "on directions"}
    detail = ""
    if page_map.explained:
        detail = f", keeping {sum(page_map.explained):.0%} of their variance"
    say("", f"wrote {out} ({len(page_map.words):,} words, {how[page_map.method]}"
            f"{' in 3-D' if three_d else ''}{detail}; {size / 1e6:.1f} MB)")


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
    section: Annotated[list[str] | None, typer.Option(
        "--section", metavar="TEXT", show_default=False,
        help="Only sections whose name contains TEXT (capital, gram3, family...); "
             "repeatable. Without it, the Google set's capital-world and currency "
             "sections are left out.")] = None,
    restrict: Annotated[int | None, typer.Option(
        "--restrict", metavar="N",
        help="Only questions whose words are all among the N most frequent, and only "
             "those words as the model's answers (as evaluate analogies --restrict).")] = None,
    format: Annotated[Format | None, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="table (the default) or jsonl: a JSON line a question on stdout, for a "
             "teacher's script (the questions and feedback then go to stderr).")] = None,
    model_spec: ModelOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Analogy questions: answer each, and see the model's answer beside yours.

    Example: embedcli quiz --seed 7 --count 5

    embedcli quiz --section family --section gram3 --restrict 30000

    After each answer: right or wrong, the model's answer, the rank the model gives your
    word, and the running score (yours and the model's). An empty answer passes; Ctrl-D
    ends the quiz with the final score. Answers may come from a pipe, one a line:

    printf 'iraq\\nrome\\n' | embedcli quiz --seed 1 --count 2
    """
    from embedcli.classroom import OBSCURE_SECTIONS, choose_questions
    from embedcli.engine.words import Resolver
    from embedcli.evaluate import ANALOGY_LINES, locate, read_analogies
    from embedcli.queries import at_least_one

    at_least_one("--restrict", restrict)
    if format not in (None, Format.table, Format.jsonl):
        raise UsageError(f"the quiz writes table or jsonl, not {format.value}")
    if not sys.stdin.isatty():
        require_stdin()  # answers come from stdin: a closed one is said before any work
    name, path = locate(os_path(file) if file else "google", "analogies")
    dataset = read_analogies(path, name, file_section=True)  # as evaluate reads it
    note_skipped(dataset, ANALOGY_LINES)
    questions = [q for s in dataset.sections for q in s.questions]
    m = load_model(model_spec, reading)
    # quietly lower-cased: the Google set writes Athens, Greece; the answers typed are
    # looked up with it too, so --no-subwords holds for them
    resolver = Resolver(m, subwords=not reading.no_subwords)
    chosen = choose_questions(questions, resolver, count=count, seed=seed,
                              sections=section or (), restrict=restrict,
                              skipped=OBSCURE_SECTIONS if name == "google" else ())
    _Quiz(m, resolver, chosen, restrict, "the Google analogy set" if file is None else name,
          jsonl=format is Format.jsonl).run()


class _Quiz:
    def __init__(self, model: Any, resolver: Any, questions: list, restrict: int | None,
                 source: str, jsonl: bool = False):
        self.model, self.resolver, self.questions = model, resolver, questions
        self.restrict, self.source = restrict, source
        self.jsonl = jsonl  # a JSON line a question on stdout; the rest on stderr
        self.console = console(highlight=False, stderr=jsonl)
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
                if self.jsonl:
                    self._record(k, graded)
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

    def _record(self, k: int, g: Graded) -> None:
        """The question, the answer given, the model's answer and the ranks, as JSON."""
        import json

        from embedcli.render.common import num

        def place(p: Any) -> dict[str, Any] | None:
            return None if p is None else {"rank": p.rank, "score": num(p.score)}

        q = g.question
        record = {"n": k, "line": q.line, "section": q.section, "question": q.text,
                  "words": list(q.words[:3]), "expected": q.expected, "answer": g.answer,
                  "correct": g.correct, "model_answer": g.model_answer or None,
                  "model_correct": g.model_correct, "answer_rank": place(g.placement),
                  "expected_rank": place(g.expected), "restrict": self.restrict}
        write(json_for_stdout()(json.dumps(record, ensure_ascii=False)) + "\n")

    def _final(self) -> None:
        self._print(f"final score: {self.right}/{self.asked}  (the model: "
                    f"{self.model_right}/{self.asked})", style="bold")

    def _print(self, text: Any, style: str | None = None, end: str = "\n") -> None:
        from rich.text import Text

        renderable = Text(safe(text), style=style or "") if isinstance(text, str) else text
        write_console(self.console, renderable, markup=False, end=end)
