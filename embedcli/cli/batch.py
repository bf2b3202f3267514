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
    MAX_LINE,
    bounded_lines,
    chosen_format,
    console,
    input_failed,
    json_for_stdout,
    load_model,
    make_resolver,
    os_path,
    quiet_when_the_reader_leaves,
    require_stdin,
    say,
    too_long,
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
from embedcli.errors import EmbedcliError, ExitStatus, UsageError, safe, shown
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


def _raw_lines(stream: IO[bytes], size: int) -> Iterator[list[bytes | None]]:
    """Lines without their newlines, in lists of at most ``size``; memory stays bounded:
    a line longer than ``MAX_LINE`` bytes comes as None, read past and never held."""
    fd = _stream_fd(stream)
    if fd is None:
        lines = bounded_lines(stream)
        while True:
            chunk = [line if line is None else line.rstrip(b"\n")
                     for line in itertools.islice(lines, size)]
            if not chunk:
                return
            yield chunk
    # a pipe or terminal: read what is there, and answer when the writer pauses
    pending: list[bytes | None] = []
    partial = b""
    skipping = False  # inside a line longer than MAX_LINE: read to its end, keep nothing
    while True:
        if pending and not _waiting(fd):
            yield pending
            pending = []
            continue
        data = os.read(fd, _READ_BYTES)
        if not data:
            break
        if skipping:
            end = data.find(b"\n")
            if end < 0:
                continue
            pending.append(None)
            skipping = False
            data = data[end + 1:]
        parts = (partial + data).split(b"\n")
        partial = parts.pop()
        pending.extend(part if len(part) <= MAX_LINE else None for part in parts)
        if len(partial) > MAX_LINE:
            skipping, partial = True, b""
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if skipping:
        pending.append(None)
    elif partial:
        pending.append(partial)
    for start in range(0, len(pending), size):
        yield pending[start:start + size]


def read_chunks(stream: IO[bytes], size: int = CHUNK_LINES, name: str = "standard input"
                ) -> Iterator[list[tuple[int, str | None]]]:
    """Numbered lines (1-based), in chunks; undecodable bytes become U+FFFD; a line longer
    than ``MAX_LINE`` bytes is None. A failed read is an ``InputError`` naming ``name``."""
    number = 0
    lines = _raw_lines(stream, size)
    while True:
        try:
            raw = next(lines, None)
        except OSError as exc:
            raise input_failed(exc, name) from None
        if raw is None:
            return
        chunk: list[tuple[int, str | None]] = []
        for line in raw:
            number += 1
            chunk.append((number, None if line is None else
                          line.decode("utf-8", "replace").rstrip("\r")))
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
        # a batch repeats words: remember them
        resolver = make_resolver(m, case_sensitive, memo=1 << 14, reading=reading)
        answered, failed = _run(m, resolver, defaults, stream, fmt,
                                "standard input" if file == "-" else file)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if failed:
        say("error", f"{failed:,} of {answered:,} queries failed (their output lines carry "
                     "the error)")
        raise typer.Exit(ExitStatus.NO_ANSWER)


def _open_input(file: str) -> IO[bytes]:
    if file == "-":
        require_stdin()
        return sys.stdin.buffer
    try:
        return open(os_path(file), "rb")  # noqa: SIM115 (closed by the caller)
    except FileNotFoundError:
        raise UsageError(f"cannot read {file}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"cannot read {file}: it is a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None


def _run(model: Model, resolver: Resolver, defaults: Spec, stream: IO[bytes],
         fmt: Format, name: str) -> tuple[int, int]:
    """Answer the input chunk by chunk; (queries answered or failed, failed)."""
    from embedcli.lines import read_batch_line
    from embedcli.queries import Spec, answer_many
    from embedcli.render import batch as lines_out

    writer = _table_writer() if fmt is Format.table else None
    carry = json_for_stdout() if fmt is Format.jsonl else (lambda text: text)
    if fmt is Format.tsv:
        write("\t".join(lines_out.TSV_HEADER) + "\n")
    total = failed = 0
    for chunk in read_chunks(stream, name=name):
        slots: list[tuple[int, str, Spec | EmbedcliError]] = []
        for number, text in chunk:
            if text is None:
                slots.append((number, "", too_long()))
                continue
            try:
                spec = read_batch_line(text, defaults, resolver.is_word)
            except EmbedcliError as exc:
                slots.append((number, text, exc))
                continue
            if spec is not None:
                slots.append((number, text, spec))
        for group in _by_size(slots, len(model)):
            specs = [item for _, _, item in group if isinstance(item, Spec)]
            answers = iter(answer_many(model, specs, resolver))
            pieces = []
            for number, text, item in group:
                answer = next(answers) if isinstance(item, Spec) else item
                total += 1
                failed += isinstance(answer, EmbedcliError)
                if writer is not None:
                    writer(number, text, answer)
                elif isinstance(answer, EmbedcliError):
                    pieces.append(lines_out.error_jsonl(number, text, str(answer),
                                                        answer.status)
                                  if fmt is Format.jsonl else
                                  lines_out.tsv_error(number, text, str(answer)))
                elif fmt is Format.jsonl:
                    pieces.append(lines_out.jsonl(number, answer))
                else:
                    assert isinstance(item, Spec)
                    pieces.append(lines_out.tsv(number, item.command, list(item.args), answer))
            write(carry("".join(pieces)))
    return total, failed


def _by_size(slots: list[Any], vocabulary: int) -> Iterator[list[Any]]:
    """A chunk's slots in runs whose answers, held and written together, hold at most
    ``queries.PASS_CANDIDATES`` answer words (a ranking holds its --top, capped at the
    vocabulary; another answer counts one): a chunk of full-vocabulary rankings holds one
    of them at a time, not 1,024."""
    from embedcli.queries import PASS_CANDIDATES, RANKINGS, Spec

    run: list[Any] = []
    size = 0
    for slot in slots:
        item = slot[2]
        cost = min(item.top, vocabulary) if isinstance(item, Spec) and \
            item.command in RANKINGS else 1
        if run and size + cost > PASS_CANDIDATES:
            yield run
            run, size = [], 0
        run.append(slot)
        size += cost
    if run:
        yield run


def _table_writer() -> Callable[[int, str, Any], None]:
    from rich.text import Text

    from embedcli.render import to_renderable

    out = console()

    def write_table(number: int, text: str, answer: Any) -> None:
        with quiet_when_the_reader_leaves():
            out.print(Text(f"line {number}: {safe(text.strip())}", style="dim"))
            if isinstance(answer, EmbedcliError):
                out.print(Text(f"error: {shown(str(answer))}", style="bold red"))
            else:
                out.print(to_renderable(answer))

    return write_table
