"""``embedcli batch``: many queries, one a line, answered in chunks and streamed in order.

A line is read by ``embedcli.lines`` into the spec the single command would make, and
answered on the same path (``embedcli.queries.answer_many``).
"""

from __future__ import annotations

import io
import itertools
import os
import select
import stat
import sys
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from embedcli.cli.io import (
    chosen_format,
    json_for_stdout,
    load_model,
    make_resolver,
    quiet_when_the_reader_leaves,
    say,
    write,
)
from embedcli.cli.options import (
    AS_GIVEN,
    CaseOpt,
    IncludeOpt,
    ModelOpt,
    Reading,
    RestrictOpt,
    TopOpt,
    reads_model,
)
from embedcli.errors import EmbedcliError, ExitStatus, UsageError
from embedcli.formats import Format, Method

if TYPE_CHECKING:
    from embedcli.engine.words import Resolver
    from embedcli.models import Model
    from embedcli.queries import Spec

app = typer.Typer()

# Lines read and answered together. Output is flushed after each chunk; a chunk ends
# early when no more input is waiting on a pipe or terminal, so a coprocess gets its
# answer at once.
CHUNK_LINES = 1024
_READ_BYTES = 1 << 16
_BATCH_FORMATS = (Format.jsonl, Format.tsv, Format.table)


# --------------------------------------------------------------------------- input


def _waiting(fd: int) -> bool:
    """Whether more input can be read from ``fd`` without blocking."""
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _stream_fd(stream: IO[bytes]) -> int | None:
    """The descriptor of a pipe or terminal; None for a regular file or an in-memory stream."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    return None if stat.S_ISREG(mode) else fd


def _raw_lines(stream: IO[bytes], size: int) -> Iterator[list[bytes]]:
    """Lines without their newlines, in lists of at most ``size``; memory stays bounded."""
    fd = _stream_fd(stream)
    if fd is None:
        while True:
            lines = list(itertools.islice(stream, size))
            if not lines:
                return
            yield [line.rstrip(b"\n") for line in lines]
    # a pipe or terminal: read what is there, and answer when the writer pauses
    pending: list[bytes] = []
    partial = b""
    while True:
        if pending and not _waiting(fd):
            yield pending
            pending = []
            continue
        data = os.read(fd, _READ_BYTES)
        if not data:
            break
        parts = (partial + data).split(b"\n")
        partial = parts.pop()
        pending.extend(parts)
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if partial:
        pending.append(partial)
    for start in range(0, len(pending), size):
        yield pending[start:start + size]


def read_chunks(stream: IO[bytes], size: int = CHUNK_LINES) -> Iterator[list[tuple[int, str]]]:
    """Numbered lines (1-based), in chunks; undecodable bytes become U+FFFD."""
    number = 0
    for raw in _raw_lines(stream, size):
        chunk = []
        for line in raw:
            number += 1
            chunk.append((number, line.decode("utf-8", "replace").rstrip("\r")))
        yield chunk


# --------------------------------------------------------------------------- batch


@app.command()
@reads_model
def batch(
    file: Annotated[str, typer.Argument(
        metavar="[FILE|-]", help="The queries, one a line; - or nothing: standard input.",
        show_default=False)] = "-",
    model_spec: ModelOpt = None,
    top: TopOpt = 10,
    method: Annotated[Method, typer.Option(
        "--method", case_sensitive=False,
        help="The analogy method of lines that do not say (add or mul).")] = Method.add,
    restrict: RestrictOpt = None,
    include_inputs: IncludeOpt = False,
    case_sensitive: CaseOpt = False,
    format: Annotated[Format | None, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="jsonl, tsv or table. Default: table on a terminal, jsonl otherwise.")] = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Answer many queries, one a line, streaming the answers in input order.

    A line is a command and its arguments, as after 'embedcli' (no shell quoting):

    analogy king - man + woman -n 3  |  neighbors cat --restrict 30000  |
    similarity cat dog  |  doesnt-match breakfast cereal dinner lunch  |
    rank cat dog  |  vector cat

    Lines may set -n/--top, --method, --restrict and --include-inputs (analogy and
    neighbors); this command's options are the defaults. Blank lines and # comments are
    skipped. A line that fails gives {"line", "input", "error"} and the rest go on; the
    exit status is then 1.

    Examples:

    embedcli batch queries.txt --format jsonl

    printf 'analogy king - man + woman\\nneighbors cat -n 3\\n' | embedcli batch
    """
    from embedcli.queries import Spec, check_options

    defaults = Spec("", (), top, method.value, restrict, include_inputs)
    check_options(defaults)
    fmt = chosen_format(format, Format.jsonl)
    if fmt not in _BATCH_FORMATS:
        raise UsageError(f"batch writes jsonl, tsv or table, not {fmt.value} "
                         "(each line of jsonl is the object a single command's json prints)")
    stream = _open_input(file)
    try:
        m = load_model(model_spec, reading)
        resolver = make_resolver(m, case_sensitive, memo=1 << 14)  # a batch repeats words
        answered, failed = _run(m, resolver, defaults, stream, fmt)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if failed:
        say("error", f"{failed:,} of {answered:,} queries failed (their output lines carry "
                     "the error)")
        raise typer.Exit(ExitStatus.NO_ANSWER)


def _open_input(file: str) -> IO[bytes]:
    if file == "-":
        return sys.stdin.buffer
    try:
        return open(file, "rb")  # noqa: SIM115 (closed by the caller)
    except FileNotFoundError:
        raise UsageError(f"cannot read {file}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"cannot read {file}: it is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None


def _run(model: Model, resolver: Resolver, defaults: Spec, stream: IO[bytes],
         fmt: Format) -> tuple[int, int]:
    """Answer the input chunk by chunk; (queries answered or failed, failed)."""
    from embedcli.lines import read_batch_line
    from embedcli.queries import Spec, answer_many
    from embedcli.render import batch as lines_out

    writer = _table_writer() if fmt is Format.table else None
    carry = json_for_stdout() if fmt is Format.jsonl else (lambda text: text)
    if fmt is Format.tsv:
        write("\t".join(lines_out.TSV_HEADER) + "\n")
    total = failed = 0
    for chunk in read_chunks(stream):
        slots: list[tuple[int, str, Spec | EmbedcliError]] = []
        for number, text in chunk:
            try:
                spec = read_batch_line(text, defaults, resolver.is_word)
            except EmbedcliError as exc:
                slots.append((number, text, exc))
                continue
            if spec is not None:
                slots.append((number, text, spec))
        specs = [item for _, _, item in slots if isinstance(item, Spec)]
        answers = iter(answer_many(model, specs, resolver))
        pieces = []
        for number, text, item in slots:
            answer = next(answers) if isinstance(item, Spec) else item
            total += 1
            failed += isinstance(answer, EmbedcliError)
            if writer is not None:
                writer(number, text, answer)
            elif isinstance(answer, EmbedcliError):
                pieces.append(lines_out.error_jsonl(number, text, str(answer), answer.status)
                              if fmt is Format.jsonl else
                              lines_out.tsv_error(number, text, str(answer)))
            elif fmt is Format.jsonl:
                pieces.append(lines_out.jsonl(number, answer))
            else:
                assert isinstance(item, Spec)
                pieces.append(lines_out.tsv(number, item.command, list(item.args), answer))
        write(carry("".join(pieces)))
    return total, failed


def _table_writer() -> Callable[[int, str, Any], None]:
    from rich.console import Console
    from rich.text import Text

    from embedcli.render import to_renderable

    console = Console()

    def write_table(number: int, text: str, answer: Any) -> None:
        with quiet_when_the_reader_leaves():
            console.print(Text(f"line {number}: {text.strip()}", style="dim"))
            if isinstance(answer, EmbedcliError):
                console.print(Text(f"error: {answer}", style="bold red"))
            else:
                console.print(to_renderable(answer))

    return write_table
