"""The Typer app: parse arguments, call the engine, render; errors become exit statuses here.

Heavy modules (numpy, the engine, rich) are imported inside the commands, so that
``--help`` and argument errors stay quick and a query imports only what it uses.
"""

from __future__ import annotations

import functools
import inspect
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from embedcli import __version__
from embedcli.errors import EmbedcliError, ExitStatus, ExpressionError, shown
from embedcli.render import Format

if TYPE_CHECKING:
    from embedcli.engine import Resolver
    from embedcli.expr import Query
    from embedcli.models import Model
    from embedcli.render import Result

PROG = "embedcli"


MESSAGE_MAX = 1000  # characters: a message that repeats a 1 MB query is cut


def is_terminal(stream: Any) -> bool:
    """Whether a person reads ``stream``: this picks the default format and progress bars.
    Colour is rich's business (NO_COLOR, FORCE_COLOR); FORCE_COLOR in a pipe gives
    colour to a format asked for, never a table in place of machine output."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced
        return False


def say(kind: str, message: str) -> None:
    """One line on stderr: ``embedcli: error: ...``."""
    if len(message) > MESSAGE_MAX:
        message = f"{message[: MESSAGE_MAX - 40]}... (cut: {len(message):,} characters)"
    sys.stderr.write(f"{PROG}: {kind}: {message}\n" if kind else f"{PROG}: {message}\n")
    sys.stderr.flush()


def report_error(exc: EmbedcliError) -> None:
    """The error's line on stderr, and for a malformed expression the query with a caret
    under the problem. The group prints every error this way; the shell and the quiz too,
    without exiting."""
    say("error", str(exc))
    if isinstance(exc, ExpressionError):
        for line in exc.caret_lines():
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


class EmbedcliGroup(TyperGroup):
    """Maps every way a run can end to one stderr line and one exit status."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        try:
            status = super().main(args, prog_name or PROG, complete_var,
                                  standalone_mode=False, **extra)
            status = status if isinstance(status, int) else 0
        except EmbedcliError as exc:
            if _CTRL_C:  # see _on_ctrl_c
                status = ExitStatus.INTERRUPTED
            else:
                report_error(exc)
                status = exc.status
        except typer.TyperException as exc:  # click's usage errors (typer vendors click)
            if type(exc).__name__ == "NoArgsIsHelpError":
                try:
                    sys.stdout.write(exc.format_message() + "\n")
                    sys.stdout.flush()
                    status = ExitStatus.OK
                except BrokenPipeError:
                    status = _the_reader_left()
            else:
                message = exc.format_message()
                ctx = getattr(exc, "ctx", None)
                if ctx is not None and type(exc).__name__ == "NoSuchOption" and \
                        ctx.command.name in ("analogy", "neighbors", "explain"):
                    message += (" (a query that starts with '-' goes after '--': "
                                f"{ctx.command_path} -- \"-king + woman\")")
                elif ctx is not None:
                    message += f" (see '{ctx.command_path} --help')"
                say("error", message)
                status = exc.exit_code
        except SystemExit:
            # rich's and typer's own answer to a closed pipe while they print help: exit
            # 1 (rich points stdout at /dev/null first). Ours is 141, as for answers.
            if not _stdout_was_closed():
                raise
            status = _the_reader_left()
        except (KeyboardInterrupt, typer.Abort):
            sys.stderr.write("\n")
            status = ExitStatus.INTERRUPTED
        except Exception as exc:  # a bug: still one line, no traceback (EMBEDCLI_DEBUG=1 shows it)
            if _CTRL_C:  # see _on_ctrl_c
                status = ExitStatus.INTERRUPTED
            elif os.environ.get("EMBEDCLI_DEBUG"):
                raise
            else:
                say("internal error", f"{type(exc).__name__}: {shown(str(exc))} (please "
                    "report this; EMBEDCLI_DEBUG=1 shows the traceback)")
                status = ExitStatus.INTERNAL
        sys.exit(int(status))


class QueryCommand(TyperCommand):
    """analogy, neighbors and explain: an argument that starts with '-' but holds a space, such as
    "- king + queen", can be no option, so it is read as the query (after a '--' put in
    for it) instead of failing as "No such option"."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" not in args and any(_is_dashed_query(a) for a in args):
            args = _queries_after_dashes(self, args)
        return super().parse_args(ctx, args)


def _is_dashed_query(arg: str) -> bool:
    return arg.startswith("-") and any(c.isspace() for c in arg)


def _queries_after_dashes(command: Any, args: list[str]) -> list[str]:
    """The options first, then '--' and the positional arguments, each in its order."""
    takes_value = {name: not (p.is_flag or p.count) for p in command.params
                   if getattr(p, "opts", None) and p.param_type_name == "option"
                   for name in [*p.opts, *p.secondary_opts]}
    options: list[str] = []
    words: list[str] = []
    rest = iter(args)
    for arg in rest:
        if _is_dashed_query(arg) or not arg.startswith("-") or arg == "-":
            words.append(arg)
            continue
        options.append(arg)
        if takes_value.get(arg):  # "--top 3": the value goes along
            value = next(rest, None)
            if value is not None:
                options.append(value)
    return [*options, "--", *words]


app = typer.Typer(
    cls=EmbedcliGroup,
    name=PROG,
    help="Word-embedding arithmetic at the command line: analogies, neighbours, similarity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def main() -> None:
    """Console-script entry point (``embedcli``, ``python -m embedcli``)."""
    # An answer that the terminal's encoding cannot show is escaped, not a crash
    # (PYTHONIOENCODING=ascii); JSON then escapes non-ASCII itself (see emit).
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        app()
    except SystemExit as exit:
        if exit.code == ExitStatus.INTERRUPTED:
            _exit_interrupted()
        raise


_CTRL_C: list[int] = []  # the SIGINTs this process has had (main() installs _on_ctrl_c)


def _on_ctrl_c(signum: int, frame: Any) -> None:
    """Python's own Ctrl-C (a KeyboardInterrupt), remembered: an interrupt that lands while
    an extension module initialises comes out as an ImportError ("initialization
    failed", seen in CI), which must end as Ctrl-C (130), not as an internal error."""
    _CTRL_C.append(signum)
    raise KeyboardInterrupt


def _exit_interrupted() -> None:
    """Exit 130 after Ctrl-C, every time.

    By now the interrupted work has cleaned up after itself (a half-written cache entry is
    removed as the interrupt unwinds). A plain ``sys.exit(130)`` is not enough: when the
    interrupt lands while an extension module is importing, CPython sets its flag for an
    unhandled KeyboardInterrupt even though typer caught it, and at exit kills the process
    with SIGINT instead (status -2, seen in CI). Ending without the interpreter's shutdown
    gives the documented status.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(ExitStatus.INTERRUPTED)


# --------------------------------------------------------------------------- options


class Method(str, Enum):
    add = "add"
    mul = "mul"


ModelOpt = Annotated[str | None, typer.Option(
    "--model", "-m", show_default=False,
    help="A registered name, the bundled glove-6b-50d (alias glove-wiki-gigaword-50), a "
         "vector file (GloVe, word2vec, fastText .vec, gensim save; .gz/.bz2; "
         "archive.zip:member) or a gensim-data name. Default: $EMBEDCLI_MODEL, else the "
         "registered default, else glove-6b-50d.")]
_LOADING = "Model loading (first use)"
LimitOpt = Annotated[int | None, typer.Option(
    "--limit", min=1, metavar="N", rich_help_panel=_LOADING,
    help="Load only the first N (most frequent) words, as gensim's limit=.")]
TrustOpt = Annotated[bool, typer.Option(
    "--trust", rich_help_panel=_LOADING,
    help="Load a gensim save (.kv, .model): a pickle, which runs code from the file.")]
UnicodeOpt = Annotated[str, typer.Option(
    "--unicode-errors", metavar="strict|replace", rich_help_panel=_LOADING,
    help="What to do with invalid UTF-8 in a vector file.")]
DtypeOpt = Annotated[str | None, typer.Option(
    "--dtype", metavar="float32|float16", rich_help_panel=_LOADING, show_default=False,
    help="How the cache stores vectors; float16 halves its size (scores stay float32).")]
TopOpt = Annotated[int, typer.Option("--top", "-n", min=1, help="How many answers.")]
RestrictOpt = Annotated[int | None, typer.Option(
    "--restrict", min=1, metavar="N",
    help="Only the N most frequent words are candidates (both methods).")]
FormatOpt = Annotated[Format | None, typer.Option(
    "--format", "-f", case_sensitive=False,
    help="Output format. Default: table on a terminal, tsv otherwise.")]
CaseOpt = Annotated[bool, typer.Option(
    "--case-sensitive", help="Do not fall back to a word's lower-case form.")]
IncludeOpt = Annotated[bool, typer.Option(
    "--include-inputs", help="Keep the query's own words among the answers.")]
QueryArg = Annotated[list[str], typer.Argument(
    metavar="QUERY...", help="The query, quoted or as separate words.", show_default=False)]


@dataclass(frozen=True)
class Reading:
    """How a command reads its model: --limit, --trust, --unicode-errors, --dtype."""

    limit: int | None = None
    trust: bool = False
    unicode_errors: str = "strict"
    dtype: str | None = None


AS_GIVEN = Reading()  # no reading options: the model as its file holds it
_READING_OPTIONS = [  # the options behind Reading, in its order, as Typer parameters
    inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default,
                      annotation=annotation)
    for f, annotation in zip(fields(Reading), [LimitOpt, TrustOpt, UnicodeOpt, DtypeOpt],
                             strict=True)]


def reads_model(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the options that say how to read its model, after its own, and hand
    them to it as one ``reading: Reading`` argument (Typer has no groups of options, and
    sixteen commands take these four)."""
    own = inspect.signature(command, eval_str=True)
    params = [p for p in own.parameters.values() if p.name != "reading"]

    @functools.wraps(command)
    def with_reading(*args: Any, **kwargs: Any) -> Any:
        reading = Reading(**{p.name: kwargs.pop(p.name) for p in _READING_OPTIONS})
        return command(*args, reading=reading, **kwargs)

    signature = own.replace(parameters=[*params, *_READING_OPTIONS])
    with_reading.__signature__ = signature  # type: ignore[attr-defined]
    with_reading.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return with_reading


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"{PROG} {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Word-embedding arithmetic at the command line: analogies, neighbours, similarity.

    Example: embedcli analogy "king - man + woman"
    """


# --------------------------------------------------------------------------- plumbing


class _StderrReporter:
    """Notes as ``embedcli: ...`` lines; a rich progress display when stderr is a terminal."""

    def note(self, message: str) -> None:
        say("", message)

    @contextmanager
    def progress(self, description: str, total: int | None,
                 unit: str = "rows") -> Iterator[Callable[[int], None]]:
        from rich.console import Console

        if not is_terminal(sys.stderr):
            yield lambda _n: None
            return
        console = Console(stderr=True)
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        if total and unit == "bytes":
            columns += [DownloadColumn(), TransferSpeedColumn()]
        elif total:
            columns.append(MofNCompleteColumn())
        columns.append(TimeElapsedColumn())
        if total:
            columns.append(TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(description, total=total)
            yield lambda n: progress.advance(task, n)


def load_model(spec: str | None, reading: Reading = AS_GIVEN) -> Model:
    """Load ``spec`` (None: the default model), converting it on first use."""
    from embedcli.models import load
    from embedcli.readers import ReadOptions

    r = reading
    if r.unicode_errors not in ("strict", "replace"):
        raise usage_error(f"--unicode-errors takes strict or replace, not '{r.unicode_errors}'")
    options = None
    if r.limit or r.trust or r.unicode_errors != "strict":
        options = ReadOptions(limit=r.limit, unicode_errors=r.unicode_errors, trust=r.trust)
    return load(spec, _StderrReporter(), options=options, dtype=r.dtype)


def make_resolver(model: Model, case_sensitive: bool) -> Resolver:
    from embedcli.engine import Resolver

    return Resolver(model, case_sensitive=case_sensitive, on_note=lambda m: say("note", m))


def parse_query(words: list[str], resolver: Resolver) -> Query:
    from embedcli.expr import parse

    return parse(" ".join(words), resolver.is_word)


def usage_error(message: str) -> EmbedcliError:
    from embedcli.errors import UsageError

    return UsageError(message)


def emit(result: Result, chosen: Format | None) -> None:
    """Write a result to stdout: a table on a terminal, machine text otherwise."""
    from embedcli.render import iter_text, to_renderable

    if chosen is None:
        chosen = Format.table if is_terminal(sys.stdout) else Format.tsv
    with quiet_when_the_reader_leaves():
        if chosen is Format.table:
            from rich.console import Console

            Console().print(to_renderable(result))
        else:
            carry = json_for_stdout() if chosen in (Format.json, Format.jsonl) else None
            for chunk in iter_text(result, chosen):
                sys.stdout.write(carry(chunk) if carry else chunk)
        sys.stdout.flush()


@contextmanager
def quiet_when_the_reader_leaves() -> Iterator[None]:
    """Around writes to stdout: a reader that went away (``| head -1``) ends the run
    quietly with status 141, and Python's final flush does not complain either."""
    try:
        yield
    except BrokenPipeError:
        raise typer.Exit(_the_reader_left()) from None


def _stdout_was_closed() -> bool:
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's wrapper
        return True
    try:  # rich's: stdout's descriptor now leads to /dev/null
        here, null = os.fstat(1), os.stat(os.devnull)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


def _the_reader_left() -> ExitStatus:
    """stdout's reader is gone: point stdout at /dev/null so that Python's final flush
    does not complain, and give the status for it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return ExitStatus.BROKEN_PIPE


def json_for_stdout() -> Callable[[str], str]:
    """JSON text that the output encoding can carry: non-ASCII as \\uXXXX escapes where
    it cannot (PYTHONIOENCODING=ascii), which is still the same JSON."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "\u00e9\u4e2d\U0001f600".encode(encoding)
        return lambda text: text
    except (UnicodeEncodeError, LookupError):
        import json
        import re

        other = re.compile(r"[^\x00-\x7f]")
        return lambda text: other.sub(lambda m: json.dumps(m.group())[1:-1], text)


def emit_rows(kind: str, rows: list[dict[str, Any]], chosen: Format | None, *,
              single: bool = False) -> None:
    """Write flat records (listings, details) in the chosen format."""
    from embedcli.render import Records

    emit(Records(kind, rows, single), chosen)


# --------------------------------------------------------------------------- commands


@app.command(cls=QueryCommand)
@reads_model
def analogy(
    query: QueryArg,
    model: ModelOpt = None,
    top: TopOpt = 10,
    method: Annotated[Method, typer.Option(
        "--method", case_sensitive=False,
        help="add: 3CosAdd (gensim most_similar); mul: 3CosMul (gensim most_similar_cosmul).",
    )] = Method.add,
    restrict: RestrictOpt = None,
    include_inputs: IncludeOpt = False,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Solve an analogy: which word is to C as B is to A?

    QUERY takes three forms, all the same query:

    embedcli analogy "king - man + woman"      (weights too: 0.5*paris)

    embedcli analogy king man woman            (A B C means A - B + C, as in fastText)

    embedcli analogy "man : king :: woman : ?"   (man is to king as woman is to ?)

    Quote an expression whose words start with '-', or put -- before it.
    The input words are left out of the answers (as gensim does); the output
    says where each would have ranked.
    """
    from embedcli.engine import rank_query

    m = load_model(model, reading)
    resolver = make_resolver(m, case_sensitive)
    parsed = parse_query(query, resolver)
    result = rank_query(m, parsed, resolver, method=method.value, top=top, restrict=restrict,
                        include_inputs=include_inputs)
    emit(result, format)


@app.command(cls=QueryCommand)
@reads_model
def neighbors(
    query: QueryArg,
    model: ModelOpt = None,
    top: TopOpt = 10,
    restrict: RestrictOpt = None,
    include_inputs: IncludeOpt = False,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Nearest neighbours of a word (or of an expression) by cosine similarity.

    Examples:

    embedcli neighbors cat

    embedcli neighbors "paris - france + italy" --top 5 --format json
    """
    from embedcli.engine import rank_query

    m = load_model(model, reading)
    resolver = make_resolver(m, case_sensitive)
    parsed = parse_query(query, resolver)
    if parsed.form != "expression":
        raise ExpressionError("neighbors takes a word or an expression joined by + and -; "
                              "for an analogy use 'embedcli analogy'", parsed.text, 0)
    result = rank_query(m, parsed, resolver, method="add", top=top, restrict=restrict,
                        include_inputs=include_inputs, label="cosine")
    emit(result, format)


@app.command()
@reads_model
def similarity(
    words: Annotated[list[str], typer.Argument(
        metavar="A B [C...]", help="Two words, or more for a matrix.", show_default=False)],
    model: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Cosine similarity of two words; with three or more, the similarity matrix.

    Examples:

    embedcli similarity cat dog

    embedcli similarity cat dog car truck
    """
    from embedcli.engine import similarity as pair
    from embedcli.engine import similarity_matrix

    if len(words) < 2:
        raise usage_error("similarity needs at least two words")
    m = load_model(model, reading)
    resolver = make_resolver(m, case_sensitive)
    if len(words) == 2:
        result: Result = pair(m, words[0], words[1], resolver)
    else:
        result = similarity_matrix(m, words, resolver)
    emit(result, format)


# Commands of the other areas live in their own modules and register themselves on `app`.
from embedcli import cli_batch, cli_classroom, cli_eval, cli_models  # noqa: E402,F401
