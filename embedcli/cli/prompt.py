"""Reading answers at a terminal, for the shell and the quiz: GNU readline with Tab
completion of vocabulary words, a history kept across sessions, and lines of a pipe as
they arrive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedcli.cli.io import say
from embedcli.errors import EmbedcliError

if TYPE_CHECKING:
    from embedcli.models import Model

HISTORY_LENGTH = 1000
COMPLETIONS = 200  # at most this many words offered for one Tab, the most frequent first


def history_path() -> Path:
    """The shell's history, in the user's data directory (or ``EMBEDCLI_DATA_DIR``)."""
    from embedcli.dirs import user_dir

    return user_dir("data") / "shell_history"


# --------------------------------------------------------------------------- completion


class Completer:
    """readline's completer: vocabulary words by prefix (most frequent first), command
    names after ':', and the values of :method and :model.

    ``session`` is anything with a ``model`` attribute, read at each Tab (``:model``
    changes it).
    """

    def __init__(self, session: Any):
        self.session = session
        self._matches: list[str] = []

    def candidates(self, line: str, begin: int, text: str) -> list[str]:
        before = line[:begin].split()
        if line.lstrip().startswith(":") and not before:
            from embedcli.lines import SHELL_COMMANDS

            return [c for c in SHELL_COMMANDS if c.startswith(text.lower())]
        if before and before[0] in (":method",) and len(before) == 1:
            return [m for m in ("add", "mul") if m.startswith(text)]
        if before and before[0] in (":model", ":m") and len(before) == 1:
            return [m for m in _model_names() if m.startswith(text)]
        if not text or text in ("+", "-", "*", ":", "::", "~", "?"):
            return []
        return prefix_words(self.session.model, text, COMPLETIONS)

    def __call__(self, text: str, state: int) -> str | None:
        if state == 0:
            import readline

            try:
                self._matches = self.candidates(readline.get_line_buffer(),
                                                readline.get_begidx(), text)
            except Exception:  # a completer must never break the prompt
                self._matches = []
        return self._matches[state] if state < len(self._matches) else None


def prefix_words(model: Model, prefix: str, limit: int) -> list[str]:
    """Up to ``limit`` words that start with ``prefix``, most frequent first; the lower-case
    prefix's words when the prefix as typed has none."""
    from embedcli.engine.ranking import vocabulary

    found = [e.word for e in vocabulary(model, prefix=prefix, top=limit,
                                        case_sensitive=True).entries]
    if not found and prefix.lower() != prefix:
        found = [e.word for e in vocabulary(model, prefix=prefix.lower(), top=limit,
                                            case_sensitive=True).entries]
    return found


def _model_names() -> list[str]:
    from embedcli.models import BUNDLED_NAME, GENSIM_DATA_MODELS, Registry

    try:
        registered = sorted(Registry.load().models)
    except EmbedcliError:
        registered = []
    return list(dict.fromkeys([*registered, BUNDLED_NAME, *GENSIM_DATA_MODELS]))


# --------------------------------------------------------------------------- history


class History:
    """readline's history, kept in a file: read at the start, each new line appended."""

    def __init__(self, readline: Any, path: Path):
        self.readline = readline
        self.path = path
        self.ok = True
        readline.set_history_length(HISTORY_LENGTH)
        try:
            readline.read_history_file(str(path))
            if readline.get_current_history_length() >= HISTORY_LENGTH:
                readline.write_history_file(str(path))  # keep the file bounded
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._warn(exc)
        self.length = readline.get_current_history_length()

    def _warn(self, exc: OSError) -> None:
        if self.ok:
            say("warning", f"cannot keep the shell's history in {self.path}: "
                           f"{exc.strerror or exc}")
        self.ok = False

    def added(self) -> None:
        """Append the line just entered (readline skips blank lines and repeats)."""
        now = self.readline.get_current_history_length()
        if now == self.length or not self.ok:
            self.length = now
            return
        self.length = now
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                self.path.touch(mode=0o600)
            self.readline.append_history_file(1, str(self.path))
        except OSError as exc:
            self._warn(exc)


def setup_readline(session: Any) -> Any:
    """GNU readline (or macOS's libedit) with our completer; raises ImportError without."""
    import readline

    readline.set_completer(Completer(session))
    readline.set_completer_delims(" \t\n")
    if "libedit" in (readline.__doc__ or ""):  # macOS's readline stand-in
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    return readline


def read_lines(stream: Any) -> Iterator[str | None]:
    """Lines of a pipe as they arrive (not after a buffer fills), decoded as UTF-8; bytes
    that are not UTF-8 become U+FFFD, so such a word is reported as unknown. A line longer
    than ``io.MAX_LINE`` bytes is None (read past, never held); a failed read is an
    ``InputError`` (``cannot read standard input: Is a directory``)."""
    from embedcli.cli.io import bounded_lines, input_failed

    buffer = getattr(stream, "buffer", None)
    lines = bounded_lines(buffer) if buffer is not None else iter(stream.readline, "")
    while True:
        try:
            raw = next(lines, "")
        except OSError as exc:
            raise input_failed(exc) from None
        if raw == "" or raw == b"":
            return
        yield raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


