"""Batch queries and the smaller query commands: batch, doesnt-match, vector, vocab, rank.

Commands register themselves on ``embedcli.cli.app``; shared options and plumbing
come from ``embedcli.cli``. The line syntax of ``batch`` is in ``embedcli.batch``.
"""

from __future__ import annotations

import io
import itertools
import os
import select
import stat
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Annotated

import typer

from embedcli.cli import (
    AS_GIVEN,
    CaseOpt,
    FormatOpt,
    IncludeOpt,
    Method,
    ModelOpt,
    Reading,
    RestrictOpt,
    TopOpt,
    app,
    emit,
    is_terminal,
    json_for_stdout,
    load_model,
    make_resolver,
    quiet_when_the_reader_leaves,
    reads_model,
    say,
    usage_error,
)
from embedcli.errors import EmbedcliError, ExitStatus
from embedcli.render import Format

if TYPE_CHECKING:
    from embedcli.batch import Spec

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


# --------------------------------------------------------------------------- output


def _write(text: str) -> None:
    with quiet_when_the_reader_leaves():
        sys.stdout.write(text)
        sys.stdout.flush()


def _default_format(chosen: Format | None) -> Format:
    if chosen is not None:
        return chosen
    return Format.table if is_terminal(sys.stdout) else Format.jsonl


# --------------------------------------------------------------------------- batch


@app.command()
@reads_model
def batch(
    file: Annotated[str, typer.Argument(
        metavar="[FILE|-]", help="The queries, one a line; - or nothing: standard input.",
        show_default=False)] = "-",
    model: ModelOpt = None,
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
    from embedcli.batch import Spec
    from embedcli.engine import Resolver

    fmt = _default_format(format)
    if fmt not in _BATCH_FORMATS:
        raise usage_error(f"batch writes jsonl, tsv or table, not {fmt.value} "
                          "(each line of jsonl is the object a single command's json prints)")
    stream = _open_input(file)
    try:
        m = load_model(model, reading)
        # make_resolver's resolver, remembering words: a batch repeats them
        resolver = Resolver(m, case_sensitive=case_sensitive,
                            on_note=lambda message: say("note", message), memo=1 << 14)
        defaults = Spec(0, "", "", (), top, method.value, restrict, include_inputs)
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
        raise usage_error(f"cannot read {file}: no such file") from None
    except IsADirectoryError:
        raise usage_error(f"cannot read {file}: it is a directory") from None
    except OSError as exc:
        raise usage_error(f"cannot read {file}: {exc.strerror}") from None


def _run(model, resolver, defaults: Spec, stream: IO[bytes], fmt: Format) -> tuple[int, int]:
    """Answer the input chunk by chunk; (queries answered or failed, failed)."""
    from embedcli.batch import Spec, parse_line
    from embedcli.engine import answer_batch

    writer = _table_writer() if fmt is Format.table else None
    carry = json_for_stdout() if fmt is Format.jsonl else (lambda text: text)
    if fmt is Format.tsv:
        from embedcli.render import BATCH_TSV_HEADER

        _write("\t".join(BATCH_TSV_HEADER) + "\n")
    total = failed = 0
    for chunk in read_chunks(stream):
        slots: list[tuple[int, str, Spec | EmbedcliError]] = []
        for number, text in chunk:
            try:
                spec = parse_line(text, number, defaults, resolver.is_word)
            except EmbedcliError as exc:
                slots.append((number, text, exc))
                continue
            if spec is not None:
                slots.append((number, text, spec))
        specs = [item for _, _, item in slots if isinstance(item, Spec)]
        answers = iter(answer_batch(model, specs, resolver))
        pieces = []
        for number, text, item in slots:
            answer = next(answers) if isinstance(item, Spec) else item
            total += 1
            failed += isinstance(answer, EmbedcliError)
            if writer is not None:
                writer(number, text, answer)
            else:
                pieces.append(_render_line(number, text, item, answer, fmt))
        if writer is None:
            _write(carry("".join(pieces)))
        else:
            _write("")
    return total, failed


def _render_line(number: int, text: str, item, answer, fmt: Format) -> str:
    from embedcli.render import batch_error_jsonl, batch_jsonl, batch_tsv, batch_tsv_error

    if isinstance(answer, EmbedcliError):
        if fmt is Format.jsonl:
            return batch_error_jsonl(number, text, str(answer))
        return batch_tsv_error(number, text, str(answer))
    if fmt is Format.jsonl:
        return batch_jsonl(number, answer)
    return batch_tsv(number, item.command, list(item.words), answer)


def _table_writer():
    from rich.console import Console
    from rich.text import Text

    from embedcli.render import to_renderable

    console = Console()

    def write(number: int, text: str, answer) -> None:
        with quiet_when_the_reader_leaves():
            console.print(Text(f"line {number}: {text.strip()}", style="dim"))
            if isinstance(answer, EmbedcliError):
                console.print(Text(f"error: {answer}", style="bold red"))
            else:
                console.print(to_renderable(answer))

    return write


# --------------------------------------------------------------------------- small commands


WordsArg = Annotated[list[str], typer.Argument(
    metavar="W1 W2 W3...", help="Three or more words.", show_default=False)]


@app.command("doesnt-match")
@reads_model
def doesnt_match(
    words: WordsArg,
    model: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Which word does not go with the others? (gensim's doesnt_match)

    The odd one out is the word farthest from the mean of the words' unit vectors;
    every word is shown with its cosine distance to that mean, farthest first.

    Example: embedcli doesnt-match breakfast cereal dinner lunch
    """
    from embedcli.engine import doesnt_match as odd_one_out

    if len(words) < 3:
        raise usage_error("doesnt-match needs at least three words")
    m = load_model(model, reading)
    emit(odd_one_out(m, words, make_resolver(m, case_sensitive)), format)


@app.command()
@reads_model
def vector(
    word: Annotated[str, typer.Argument(metavar="WORD", help="The word.", show_default=False)],
    model: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """A word's vector, as the model's file holds it (fastText's print-word-vectors).

    --format plain prints the word and its values on one line, separated by spaces
    (a line of a GloVe or word2vec text file); json prints {"word", "vector"}.

    Examples:

    embedcli vector cat --format plain

    embedcli vector cat --format json
    """
    from embedcli.engine import word_vector

    m = load_model(model, reading)
    emit(word_vector(m, word, make_resolver(m, case_sensitive)), format)


@app.command()
@reads_model
def rank(
    a: Annotated[str, typer.Argument(metavar="A", help="The word whose neighbours count.",
                                     show_default=False)],
    b: Annotated[str, typer.Argument(metavar="B", help="The word to place among them.",
                                     show_default=False)],
    model: ModelOpt = None,
    case_sensitive: CaseOpt = False,
    format: FormatOpt = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """Where B stands among A's neighbours (gensim's rank): 1 is the nearest.

    It is B's place in 'embedcli neighbors A --top N'.

    Example: embedcli rank cat dog
    """
    from embedcli.engine import word_rank

    m = load_model(model, reading)
    emit(word_rank(m, a, b, make_resolver(m, case_sensitive)), format)


@app.command()
@reads_model
def vocab(
    prefix: Annotated[str | None, typer.Option(
        "--prefix", metavar="TEXT", help="Only words that start with TEXT.")] = None,
    contains: Annotated[str | None, typer.Option(
        "--contains", metavar="TEXT", help="Only words that contain TEXT.")] = None,
    top: Annotated[int | None, typer.Option(
        "--top", "-n", min=1, metavar="N",
        help="Only the first N (most frequent) words that match.")] = None,
    has: Annotated[str | None, typer.Option(
        "--has", metavar="WORD",
        help="Print nothing; exit 0 if a query can use WORD, 1 if not.")] = None,
    model: ModelOpt = None,
    case_sensitive: Annotated[bool, typer.Option(
        "--case-sensitive",
        help="Match case exactly (filters, and --has without the lower-case fallback).")]
    = False,
    format: Annotated[Format | None, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="Output format. Default: plain (one word a line).")] = None,
    reading: Reading = AS_GIVEN,
) -> None:
    """List the vocabulary in frequency order, or test whether it has a word.

    Examples:

    embedcli vocab --top 20

    embedcli vocab --prefix photo --top 5

    if embedcli vocab --has e-mail; then echo known; fi
    """
    from embedcli.engine import vocabulary

    if has is not None and (prefix is not None or contains is not None or top is not None):
        raise usage_error("--has answers by its exit status alone; it takes no "
                          "--prefix, --contains or --top")
    m = load_model(model, reading)
    if has is not None:
        from embedcli.engine import Resolver

        # the lower-case fallback of queries, without its note
        known = Resolver(m, case_sensitive=case_sensitive).is_word(has)
        raise typer.Exit(ExitStatus.OK if known else ExitStatus.NO_ANSWER)
    emit(vocabulary(m, prefix=prefix, contains=contains, top=top,
                    case_sensitive=case_sensitive), format or Format.plain)
