"""The errors a user can meet, each with the exit status the CLI gives it.

The core raises these; only ``cli.py`` turns them into a stderr line and a status.
"""

from __future__ import annotations

import re
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    NO_ANSWER = 1  # the query is well formed but cannot be answered (unknown word, zero vector)
    USAGE = 2  # malformed expression, bad option or argument
    MODEL = 3  # the model cannot be found, read or converted
    INTERNAL = 70  # a bug in embedcli (EX_SOFTWARE): one line, no traceback
    OUTPUT = 74  # standard output cannot be written: closed (>&-), a full disk (EX_IOERR)
    HANGUP = 129  # SIGHUP (128 + 1): the terminal went away; ends as Ctrl-C does
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # the reader closed stdout early (128 + SIGPIPE), as coreutils do
    TERMINATED = 143  # SIGTERM (128 + 15): kill, a supervisor; ends as Ctrl-C does


SHOWN_MAX = 80  # characters of a word or query that a message repeats

# What must never reach a terminal, or a reader of lines, as it is: the C0 and C1 control
# characters (ESC starts terminal commands, CR and VT move the cursor, BEL rings, NEL and
# the separators below end a line for some readers), DEL, the line and paragraph
# separators, the bidirectional embeddings, overrides and isolates (which reorder the text
# after them on the screen), and lone surrogates (an argument's undecodable bytes). Every
# format a person or a line-oriented program reads writes them escaped (see ``safe``).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")


def _escape(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # an undecodable byte, kept by surrogateescape
        return f"\\x{ord(c) - 0xdc00:02x}"
    return repr(c)[1:-1]  # \x1b, \r, \t, \u202e, \ud800


def _redecoded(text: str) -> str:
    """Undecodable bytes that together are UTF-8 read as the characters they spell."""
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a byte
        return text


def safe(text: str) -> str:
    r"""``text`` with the characters of ``CONTROL`` escaped as Python writes them
    (``\x1b``, ``\r``, ``\u202e``; an undecodable byte as ``\xff``) and nothing else
    changed: what tables, tsv, csv and plain output write for every word, query and name.
    Words cannot hold a newline, so a line of output stays one line."""
    if CONTROL.search(text) is None:
        return text
    return CONTROL.sub(lambda m: _escape(m.group()), _redecoded(text))


def shown(text: str, limit: int | None = None) -> str:
    r"""Text safe to print in a one-line message: undecodable bytes and every character
    that does not print (the ``CONTROL`` ones, and also such as a non-breaking space) appear
    as escapes such as \x00, and text longer than ``limit`` is cut, saying how long it
    was. The one escaping that every stderr line goes through (``cli.io.say``)."""
    if limit is not None and len(text) > limit:
        return f"{shown(text[: limit - 20], None)}... ({len(text):,} characters)"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in _redecoded(text))


class EmbedcliError(Exception):
    """Base class: ``str(error)`` is the one line shown to the user."""

    status: ExitStatus = ExitStatus.NO_ANSWER


class UnknownWordError(EmbedcliError):
    status = ExitStatus.NO_ANSWER

    def __init__(self, word: str, model: str, vocab_size: int, suggestions: list[str]):
        self.word = word
        self.model = model
        self.vocab_size = vocab_size
        self.suggestions = suggestions
        message = (f"'{shown(word, SHOWN_MAX)}' is not in the vocabulary of {model} "
                   f"({vocab_size:,} words)")
        if suggestions:
            message += "; did you mean: " + ", ".join(map(shown, suggestions)) + "?"
        else:
            message += "; no close words found"
        super().__init__(message)


class QueryError(EmbedcliError):
    """A well-formed query that has no answer (e.g. its terms cancel out)."""

    status = ExitStatus.NO_ANSWER


class UsageError(EmbedcliError):
    status = ExitStatus.USAGE


class ExpressionError(UsageError):
    """A malformed query expression; ``position`` is a 0-based index into ``text``."""

    def __init__(self, message: str, text: str, position: int):
        self.message = message
        self.text = text
        self.position = max(0, min(position, len(text)))
        super().__init__(f"{message} (at column {self.position + 1})")

    def caret_lines(self) -> list[str]:
        """The query and a caret under the offending position (escapes kept aligned); a
        long query is shown as a window around the position."""
        start = max(0, self.position - SHOWN_MAX // 2)
        end = min(len(self.text), start + SHOWN_MAX)
        before = ("..." if start else "") + shown(self.text[start:self.position], None)
        after = shown(self.text[self.position:end], None) + ("..." if end < len(self.text) else "")
        return [f"  {before}{after}", "  " + " " * len(before) + "^"]


class ModelError(EmbedcliError):
    status = ExitStatus.MODEL


class DamagedCache(ModelError):
    """A cache entry found damaged while answering (past the checks at open): it has been
    removed, so loading the model again converts it anew."""


class StreamError(Exception):
    """A standard stream cannot be used: stdin cannot be read, or stdout written (closed,
    a full disk). It ends the run with one stderr line and its status, wherever it is met:
    it is no ``EmbedcliError``, so no per-line handler (batch, shell, quiz) takes it for
    one line's failure. A reader that left a pipe is not one of these: that is status 141,
    quietly."""

    status: ExitStatus = ExitStatus.OUTPUT


class InputError(StreamError):
    """``cannot read standard input: ...``: closed (``<&-``), a directory, a read error."""

    status = ExitStatus.USAGE


class OutputError(StreamError):
    """``cannot write to standard output: ...``: closed (``>&-``), full (``> /dev/full``)."""

    status = ExitStatus.OUTPUT

    @classmethod
    def of(cls, exc: BaseException) -> OutputError:
        """The error of a write to standard output that failed with ``exc``."""
        return cls(f"cannot write to standard output: {getattr(exc, 'strerror', None) or exc}")
