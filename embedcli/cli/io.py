"""What the commands share at run time: messages on stderr, answers on stdout, progress,
loading the model a command names, and the Ctrl-C record.

Heavy modules (numpy, the engine, rich) are imported inside the functions, so that
``--help`` and usage errors never import them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from embedcli.cli.options import AS_GIVEN, Reading
from embedcli.errors import EmbedcliError, ExitStatus, ExpressionError, UsageError
from embedcli.formats import Format

if TYPE_CHECKING:
    from embedcli.engine.words import Resolver
    from embedcli.models import Model
    from embedcli.readers import ReadOptions

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
    under the problem. The app prints every error this way; the shell and the quiz too,
    without exiting."""
    say("error", str(exc))
    if isinstance(exc, ExpressionError):
        for line in exc.caret_lines():
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


# --------------------------------------------------------------------------- Ctrl-C

INTERRUPTS: list[int] = []  # SIGINTs not handled yet (the app's handler records them)


def interrupted() -> bool:
    """Whether a Ctrl-C arrived that nothing has handled: whatever error it turned into
    (an ImportError while an extension initialises) then ends as Ctrl-C."""
    return bool(INTERRUPTS)


def interrupt_handled() -> None:
    """A Ctrl-C was dealt with (the shell dropped a line, the quiz ended): later errors are
    reported as themselves."""
    INTERRUPTS.clear()


# --------------------------------------------------------------------------- stdout


@contextmanager
def quiet_when_the_reader_leaves() -> Iterator[None]:
    """Around writes to stdout: a reader that went away (``| head -1``) ends the run
    quietly with status 141, and Python's final flush does not complain either."""
    try:
        yield
    except BrokenPipeError:
        raise typer.Exit(the_reader_left()) from None


def the_reader_left() -> ExitStatus:
    """stdout's reader is gone: point stdout at /dev/null so that Python's final flush
    does not complain, and give the status for it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return ExitStatus.BROKEN_PIPE


def write(text: str) -> None:
    """Text on stdout, flushed at once (a program reading the answer gets it now)."""
    with quiet_when_the_reader_leaves():
        sys.stdout.write(text)
        sys.stdout.flush()


def write_console(console: Any, renderable: Any, markup: bool = True, end: str = "\n") -> None:
    with quiet_when_the_reader_leaves():
        console.print(renderable, markup=markup, end=end)


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


def chosen_format(chosen: Format | None, machine: Format = Format.tsv) -> Format:
    """The format asked for; else a table on a terminal, ``machine`` otherwise."""
    if chosen is not None:
        return chosen
    return Format.table if is_terminal(sys.stdout) else machine


def emit(result: Any, chosen: Format | None) -> None:
    """Write a result to stdout: a table on a terminal, machine text otherwise."""
    from embedcli.render import iter_text, to_renderable

    fmt = chosen_format(chosen)
    with quiet_when_the_reader_leaves():
        if fmt is Format.table:
            from rich.console import Console

            Console().print(to_renderable(result))
        else:
            carry = json_for_stdout() if fmt in (Format.json, Format.jsonl) else None
            for chunk in iter_text(result, fmt):
                sys.stdout.write(carry(chunk) if carry else chunk)
        sys.stdout.flush()


def emit_rows(kind: str, rows: list[dict[str, Any]], chosen: Format | None, *,
              single: bool = False) -> None:
    """Write flat records (listings, details) in the chosen format."""
    from embedcli.render.records import Records

    emit(Records(kind, rows, single), chosen)


# --------------------------------------------------------------------------- models


class StderrReporter:
    """Notes as ``embedcli: ...`` lines; a rich progress display when stderr is a terminal."""

    def note(self, message: str) -> None:
        say("", message)

    @contextmanager
    def progress(self, description: str, total: int | None,
                 unit: str = "rows") -> Iterator[Callable[[int], None]]:
        if not is_terminal(sys.stderr):
            yield lambda _n: None
            return
        from rich.console import Console
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
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(description, total=total)
            yield lambda n: progress.advance(task, n)


def read_options(reading: Reading) -> ReadOptions:
    """The reader's options for ``reading``; checks --unicode-errors (every command's)."""
    from embedcli.readers import ReadOptions

    if reading.unicode_errors not in ("strict", "replace"):
        raise UsageError(f"--unicode-errors takes strict or replace, not "
                         f"'{reading.unicode_errors}'")
    return ReadOptions(limit=reading.limit, unicode_errors=reading.unicode_errors,
                       trust=reading.trust)


def load_model(model_spec: str | None, reading: Reading = AS_GIVEN) -> Model:
    """Load the model that ``--model`` names (None: the default), converting it on first
    use. ``model_spec`` is the text a user gave; the result is the loaded ``Model``."""
    from embedcli.models import load

    options = read_options(reading)
    as_given = options.limit is None and not options.trust and options.unicode_errors == "strict"
    return load(model_spec, StderrReporter(), options=None if as_given else options,
                dtype=reading.dtype)


def make_resolver(model: Model, case_sensitive: bool, memo: int = 0) -> Resolver:
    """Words -> rows, with the lower-case fallback's note on stderr."""
    from embedcli.engine.words import Resolver

    return Resolver(model, case_sensitive=case_sensitive, on_note=lambda m: say("note", m),
                    memo=memo)


def run(command: str, args: list[str], model_spec: str | None, reading: Reading,
        case_sensitive: bool, format: Format | None, **options: Any) -> Any:
    """A query command's whole body: make the spec a batch or shell line would make, check
    it, load the model, answer on the one path (``embedcli.queries``), and write the
    answer; returns it. ``options``: the spec's top, method, restrict, ..."""
    from embedcli.queries import Spec, answer, check

    spec = Spec(command, tuple(args), **options)
    check(spec)  # a usage error comes before any loading
    model = load_model(model_spec, reading)
    result = answer(model, spec, make_resolver(model, case_sensitive))
    emit(result, format)
    return result


def note_skipped(dataset: Any, what: str) -> None:
    """Say which lines of a dataset file were skipped (as gensim skips them), if any."""
    from embedcli.errors import shown

    lines = dataset.invalid_lines
    if lines:
        listed = ", ".join(str(n) for n in lines[:5]) + (", ..." if len(lines) > 5 else "")
        say("note", f"{shown(dataset.path)}: skipped {len(lines)} line"
                    f"{'s' if len(lines) > 1 else ''} that {'are' if len(lines) > 1 else 'is'} "
                    f"not {what} (line{'s' if len(lines) > 1 else ''} {listed}), as gensim does")
