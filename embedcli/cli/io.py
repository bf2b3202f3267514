"""What the commands share at run time: messages on stderr, answers on stdout, the standard
streams (closed, full, a reader gone), progress, loading the model a command names, and
the record of interrupting signals.

Heavy modules (numpy, the engine, rich, typer) are imported inside the functions, so that
``--help`` and usage errors never import numpy, the engine or rich, and ``--version``
not even typer.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from embedcli.cli.reading import AS_GIVEN, Reading
from embedcli.errors import (
    DamagedCache,
    EmbedcliError,
    ExitStatus,
    ExpressionError,
    InputError,
    OutputError,
    UsageError,
    shown,
)
from embedcli.formats import Format

if TYPE_CHECKING:
    from rich.console import Console

    from embedcli.engine.words import Resolver
    from embedcli.models import Model
    from embedcli.sources import ReadOptions

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
    """One line on stderr: ``embedcli: error: ...``. Whatever the message holds (a path,
    a word of a model, a line of input) is escaped by ``errors.shown``, so that it stays one
    line and drives no terminal; a stderr that is closed or full loses the line quietly
    (there is nowhere else to say it)."""
    message = shown(message)
    if len(message) > MESSAGE_MAX:
        message = f"{message[: MESSAGE_MAX - 40]}... (cut: {len(message):,} characters)"
    to_stderr(f"{PROG}: {kind}: {message}\n" if kind else f"{PROG}: {message}\n")


def to_stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def report_error(exc: EmbedcliError) -> None:
    """The error's line on stderr, and for a malformed expression the query with a caret
    under the problem. The app prints every error this way; the shell and the quiz too,
    without exiting."""
    say("error", str(exc))
    if isinstance(exc, ExpressionError):
        to_stderr("".join(line + "\n" for line in exc.caret_lines()))


# --------------------------------------------------------------------------- signals

# Signals that end a run as Ctrl-C does (the work unwinds, a half-written cache entry is
# removed), each with its status: 128 + the signal's number.
STOPPING = {signal.SIGINT: ExitStatus.INTERRUPTED, signal.SIGTERM: ExitStatus.TERMINATED}
if hasattr(signal, "SIGHUP"):  # (not on Windows)
    STOPPING[signal.SIGHUP] = ExitStatus.HANGUP
INTERRUPTS: list[int] = []  # such signals not handled yet (the app's handlers record them)


def interrupted() -> bool:
    """Whether a Ctrl-C (or SIGTERM, SIGHUP) arrived that nothing has handled: whatever
    error it turned into (an ImportError while an extension initialises) then ends as
    the signal does."""
    return bool(INTERRUPTS)


def interrupt_status() -> ExitStatus:
    """The status of the signals recorded: SIGHUP's, else SIGTERM's, else Ctrl-C's."""
    for signum in reversed(STOPPING):
        if signum in INTERRUPTS:
            return STOPPING[signum]
    return ExitStatus.INTERRUPTED


def interrupt_handled() -> None:
    """A Ctrl-C was dealt with (the shell dropped a line, the quiz ended): later errors are
    reported as themselves."""
    INTERRUPTS.clear()


class Stopped(BaseException):
    """SIGTERM or SIGHUP: raised where the signal lands, so that the run unwinds as it does
    for Ctrl-C's KeyboardInterrupt (``finally`` blocks and ``except BaseException``
    cleanups run), but never taken for a Ctrl-C: the shell does not read on after it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# --------------------------------------------------------------------------- streams


class _Stdout(io.TextIOWrapper):
    """``sys.stdout`` as ``main()`` sets it up (the same buffer, file and encoding).

    * A write fails as ``OutputError`` (``cannot write to standard output: No space left
      on device``), wherever it is made (ours, rich's, typer's help); a reader gone stays
      a ``BrokenPipeError`` (status 141, quietly).
    * Text is handed to the buffer in pieces that fit it: a longer write to a pipe whose
      reader leaves half-way is cut short without an error (CPython's TextIOWrapper drops
      what the short write left), so a table's end was lost and the run exited 0.
    * After a failure nothing more is written (the final flush says nothing).
    """

    _PIECE = 2048  # characters: at most 8 KiB of UTF-8, the buffer's own size
    failed = False

    def write(self, text: str) -> int:
        if self.failed:
            return len(text)
        if text == "" and isinstance(text, str):  # nothing to write: never a failure
            return 0  # (click probes a stream with an empty write, and swallows its error)
        try:
            if len(text) <= self._PIECE:
                return super().write(text)
            for start in range(0, len(text), self._PIECE):
                super().write(text[start:start + self._PIECE])
            return len(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failure(exc) from None

    def flush(self) -> None:
        if self.failed:
            return
        try:
            super().flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: OSError) -> OutputError:
        self.failed = True
        _to_devnull(1)  # what is still buffered goes nowhere, without a second error
        return OutputError.of(exc)


class _Closed(io.TextIOBase):
    """A standard stream that was closed when embedcli started (``<&-``, ``>&-``): its
    descriptor now leads to /dev/null (so that no file opened later takes its number),
    and using it says what is wrong. Writing nothing to a closed stdout is no error."""

    def __init__(self, fd: int):
        self.fd = fd

    @property
    def buffer(self) -> _Closed:
        return self

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation("closed when embedcli started")

    def readable(self) -> bool:
        return self.fd == 0

    def writable(self) -> bool:
        return self.fd != 0

    def read(self, size: int | None = -1) -> str:
        raise InputError("cannot read standard input: it is closed")

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        raise InputError("cannot read standard input: it is closed")

    def write(self, text: str) -> int:
        if text and self.fd == 1:
            raise OutputError("cannot write to standard output: it is closed")
        return len(text)

    def flush(self) -> None:
        pass


def _to_devnull(fd: int) -> None:
    try:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    except OSError:
        pass


def set_up_streams() -> None:
    """For ``main()``: a standard stream closed at start-up leads to /dev/null (a file the
    cache opens must never become stdout or stderr) and says so when used; stdout is a
    ``_Stdout``, whose failures are one clear line. Answers that the output encoding cannot
    carry are escaped, never a crash (PYTHONIOENCODING=ascii); JSON then escapes non-ASCII
    itself (see ``json_for_stdout``)."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:  # Python found the descriptor closed
            _to_devnull(fd)
            setattr(sys, name, _Closed(fd))
    if isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr.reconfigure(errors="backslashreplace")
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper) and not isinstance(out, _Stdout):
        try:
            out.flush()
            sys.stdout = _Stdout(out.buffer, encoding=out.encoding, errors="backslashreplace",
                                 line_buffering=out.line_buffering,
                                 write_through=out.write_through)
        except (OSError, ValueError, AttributeError):
            pass


def finish_stdout() -> ExitStatus | None:
    """Flush stdout at the end of a run; the status of a failure (None: it went well), its
    line said. Python's own flush at exit then has nothing left to complain about."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return the_reader_left()
    except OutputError as exc:
        say("error", str(exc))
        return exc.status
    except (OSError, ValueError) as exc:
        _to_devnull(1)
        say("error", str(OutputError.of(exc)))
        return ExitStatus.OUTPUT
    except AttributeError:
        pass
    return None


def closed_at_start(stream: Any) -> bool:
    return isinstance(stream, _Closed)


def require_stdin() -> None:
    """Before a command reads standard input: a closed one is a usage error, said at once."""
    if sys.stdin is None or closed_at_start(sys.stdin):
        raise InputError("cannot read standard input: it is closed")


def input_failed(exc: OSError, name: str = "standard input") -> InputError:
    """A read of ``name`` failed: ``cannot read standard input: Is a directory``."""
    return InputError(f"cannot read {shown(name)}: {exc.strerror or exc}")


# Bytes of one input line (batch, shell, quiz): a longer line fails alone, as a usage
# error, and is skipped without being held in memory.
MAX_LINE = 1 << 20


def too_long() -> UsageError:
    return UsageError(f"the line is longer than {MAX_LINE:,} bytes; it is skipped")


def bounded_lines(buffer: Any) -> Iterator[bytes | None]:
    """The lines of a binary stream as ``readline`` gives them (with their newline), read as
    they arrive; an overlong line as None (what it held is read past, never kept)."""
    limit = MAX_LINE + 1
    while True:
        line = buffer.readline(limit)
        if not line:
            return
        if len(line) < limit or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):  # the rest of the overlong line
            line = buffer.readline(limit)
        yield None


def console(*, stderr: bool = False, highlight: bool = True) -> Console:
    """A rich console for what people read. Markup and emoji codes are off, so that a word
    such as ``[/dim]`` or ``:smile:`` is shown as it is (and a malformed one is no crash);
    control characters are escaped before anything reaches it (``errors.safe``)."""
    from rich.console import Console

    return Console(stderr=stderr, markup=False, emoji=False, highlight=highlight)


def os_text(text: str) -> str:
    """A path as the operating system spells it. Under a locale whose encoding is not
    UTF-8 (``LC_ALL=C``) ``main()`` reads the arguments as UTF-8, so that ``café`` is the
    word; a path given as an argument goes back to the bytes that were typed."""
    if sys.getfilesystemencoding().lower().replace("-", "") == "utf8":
        return text
    try:
        return os.fsdecode(text.encode("utf-8", "surrogateescape"))
    except UnicodeError:
        return text


def os_path(spec: str) -> str:
    """``spec`` (a model, a dataset: a name or a path) in the OS's spelling when that names
    an existing file (or ``archive.zip`` of ``archive.zip:member``), else as given."""
    there = os_text(spec)
    if there != spec and (os.path.lexists(there) or
                          os.path.lexists(there.rpartition(":")[0] or there)):
        return there
    return spec


# --------------------------------------------------------------------------- stdout


@contextmanager
def quiet_when_the_reader_leaves() -> Iterator[None]:
    """Around writes to stdout: a reader that went away (``| head -1``) ends the run
    quietly with status 141, and Python's final flush does not complain either; any other
    failure to write (``> /dev/full``) is an ``OutputError``."""
    try:
        yield
    except BrokenPipeError:
        import typer

        raise typer.Exit(the_reader_left()) from None
    except OSError as exc:
        _to_devnull(1)
        raise OutputError.of(exc) from None


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


def write_console(console: Any, renderable: Any, markup: bool = False, end: str = "\n") -> None:
    with quiet_when_the_reader_leaves():
        console.print(renderable, markup=markup, end=end)


def json_for_stdout() -> Callable[[str], str]:
    """JSON text as stdout gets it: the characters of ``errors.CONTROL`` that JSON leaves
    as they are (DEL, the C1 controls, the line separators, the bidirectional controls,
    lone surrogates) as \\uXXXX escapes, and all non-ASCII where the output encoding
    cannot carry it (PYTHONIOENCODING=ascii). It is still the same JSON: the escapes stand
    in strings only (JSON's own syntax is ASCII)."""
    import re

    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "\u00e9\u4e2d\U0001f600".encode(encoding)
        other = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
    except (UnicodeEncodeError, LookupError):
        other = re.compile(r"[^\x00-\x7f]")

    def escaped(m: re.Match[str]) -> str:
        c = m.group()
        if ord(c) <= 0xFFFF:
            return f"\\u{ord(c):04x}"
        high, low = divmod(ord(c) - 0x10000, 0x400)
        return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"

    def carry(text: str) -> str:
        return other.sub(escaped, text) if other.search(text) else text

    return carry


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
            console().print(to_renderable(result))
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
        from rich.progress import Progress

        err = console(stderr=True)
        columns = progress_columns(err.width, description, total, unit)
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task(shown(description), total=total)
            yield lambda n: progress.advance(task, n)


def read_options(reading: Reading) -> ReadOptions:
    """The reader's options for ``reading``; checks --unicode-errors (every command's)."""
    from embedcli.sources import ReadOptions

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
    return load(None if model_spec is None else os_path(model_spec), StderrReporter(),
                options=None if as_given else options, dtype=reading.dtype)


def make_resolver(model: Model, case_sensitive: bool, *, reading: Reading,
                  memo: int = 0) -> Resolver:
    """Words -> rows, with the notes of the lower-case fallback and of subword vectors on
    stderr (``reading.no_subwords``: a word outside the vocabulary is unknown)."""
    from embedcli.engine.words import Resolver

    return Resolver(model, case_sensitive=case_sensitive, on_note=lambda m: say("note", m),
                    memo=memo, subwords=not reading.no_subwords)


def run(command: str, args: list[str], model_spec: str | None, reading: Reading,
        case_sensitive: bool, format: Format | None, **options: Any) -> Any:
    """A query command's whole body: make the spec a batch or shell line would make, check
    it, load the model, answer on the one path (``embedcli.queries``), and write the
    answer; returns it. ``options``: the spec's top, method, restrict, ..."""
    from embedcli.queries import Spec, answer, check

    spec = Spec(command, tuple(args), **options)
    check(spec)  # a usage error comes before any loading
    result = with_model(model_spec, reading, lambda model: answer(
        model, spec, make_resolver(model, case_sensitive, reading=reading)))
    emit(result, format)
    return result


def with_model(model_spec: str | None, reading: Reading, work: Callable[[Any], Any]) -> Any:
    """``work(model)`` on the model loaded; if it finds the cache entry damaged (the entry
    is then removed), once more on the model converted anew."""
    try:
        return work(load_model(model_spec, reading))
    except DamagedCache as exc:
        say("note", str(exc))
        return work(load_model(model_spec, reading))


def note_skipped(dataset: Any, what: str) -> None:
    """Say which lines of a dataset file were skipped (as gensim skips them), if any."""
    lines = dataset.invalid_lines
    if lines:
        listed = ", ".join(str(n) for n in lines[:5]) + (", ..." if len(lines) > 5 else "")
        say("note", f"{shown(dataset.path)}: skipped {len(lines)} line"
                    f"{'s' if len(lines) > 1 else ''} that {'are' if len(lines) > 1 else 'is'} "
                    f"not {what} (line{'s' if len(lines) > 1 else ''} {listed}), as gensim does")


def progress_columns(width: int, description: str, total: int | None,
                     unit: str) -> list[Any]:
    """A progress display's columns that fit ``width``: the spinner, the description and a
    bar, then, while they fit, the counts ("1.2/256.0 MB", "1,234/5,000", or "42%" for
    unit "percent"), the speed, the time spent and the time left; a narrow terminal drops
    the last ones first, and never cuts a number."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    fits = width - 2 - len(description) - 1 - 11  # spinner, text, a short bar
    optional: list[tuple[int, Any]] = []
    if unit == "percent":
        optional.append((4, TaskProgressColumn()))
    elif total and unit == "bytes":
        optional += [(18, DownloadColumn()), (11, TransferSpeedColumn())]
    elif total:
        optional.append((2 * len(f"{total:,}") + 2, MofNCompleteColumn()))
    optional.append((8, TimeElapsedColumn()))
    if total or unit == "percent":
        optional.append((8, TimeRemainingColumn()))
    kept = []
    for need, column in optional:
        if need + 1 > fits:
            break
        fits -= need + 1
        kept.append(column)
    return [SpinnerColumn(), TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=10 + max(0, min(30, fits))), *kept]
