"""The errors a user can meet, each with the exit status the CLI gives it.

The core raises these; only ``cli.py`` turns them into a stderr line and a status.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    NO_ANSWER = 1  # the query is well formed but cannot be answered (unknown word, zero vector)
    USAGE = 2  # malformed expression, bad option or argument
    MODEL = 3  # the model cannot be found, read or converted
    INTERNAL = 70  # a bug in embedcli (EX_SOFTWARE): one line, no traceback
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # the reader closed stdout early (128 + SIGPIPE), as coreutils do


SHOWN_MAX = 80  # characters of a word or query that a message repeats


def shown(text: str, limit: int | None = None) -> str:
    """Text safe to print in a one-line message: undecodable bytes and control
    characters (a NUL, a newline) appear as escapes such as \\x00, and text longer than
    ``limit`` is cut, saying how long it was."""
    if limit is not None and len(text) > limit:
        return f"{shown(text[: limit - 20], None)}... ({len(text):,} characters)"
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a byte
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
