"""``embedcli shell``: queries at a prompt, on a model loaded once.

Two modes, chosen by whether standard input is a terminal:

* interactive: a prompt with GNU readline's line editing, history kept across sessions
  in the user's data directory, Tab completion of vocabulary words; answers as tables.
  Ctrl-C cancels the line, Ctrl-D (or ``:quit``) leaves.
* driven by a program (stdin a pipe or a file): no banner and no prompts; each query line
  gives exactly one JSON line on stdout, the object ``embedcli batch`` writes for it
  (``{"line": N, ...}``, or ``{"line", "input", "error"}`` for a line that failed, whose
  message also goes to stderr). Settings lines print nothing. Output is flushed after
  every answer, so a program can write a line and read its answer.

The line language is in :func:`interpret`; answers come from the engine and
``embedcli.classroom``, and are drawn by ``render.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedcli.errors import EmbedcliError, UsageError

if TYPE_CHECKING:
    from embedcli.engine import Resolver
    from embedcli.models import Model

PROMPT = "embedcli> "
HISTORY_LENGTH = 1000
COMPLETIONS = 200  # at most this many words offered for one Tab, the most frequent first
COMMANDS = (":top", ":method", ":restrict", ":model", ":explain", ":settings", ":help",
            ":quit")

HELP = """\
Queries (the same language as the commands):
  cat                          nearest neighbours of a word
  king - man + woman           an analogy: any + and - terms (weights: 0.5*paris)
  king man woman               the same: A B C means A - B + C
  man : king :: woman : ?      man is to king as woman is to ?
  cat ~ dog                    cosine similarity (cat ~ dog ~ car: the matrix)
Commands:
  :top N            how many answers
  :method add|mul   3CosAdd or 3CosMul for analogies
  :restrict N|off   only the N most frequent words are candidates
  :model NAME       another model (a registered name, a file, a gensim-data name)
  :explain QUERY    an analogy with the figures of 'embedcli explain'
  :settings         the current settings
  :help             this help
  :quit             leave (Ctrl-D too); Ctrl-C cancels the line being typed
Tab completes words; Up and Down recall earlier lines, also from earlier sessions."""


def data_dir() -> Path:
    """Where the shell keeps its history: ``EMBEDCLI_DATA_DIR``, else the user's data
    directory (``~/.local/share/embedcli`` on Linux)."""
    env = os.environ.get("EMBEDCLI_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("embedcli", appauthor=False))


def history_path() -> Path:
    return data_dir() / "shell_history"


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class Action:
    """What one line asks for.

    ``kind`` is ``query`` (an analogy or neighbours), ``similarity``, ``explain``, ``set``
    (``name`` and ``value``), ``settings``, ``help`` or ``quit``.
    """

    kind: str
    text: str = ""
    words: tuple[str, ...] = ()
    name: str = ""
    value: str = ""


_ALIASES = {"n": "top", "top": "top", "method": "method", "restrict": "restrict",
            "model": "model", "m": "model", "explain": "explain", "settings": "settings",
            "set": "settings", "help": "help", "h": "help", "?": "help", "quit": "quit",
            "q": "quit", "exit": "quit"}


def interpret(line: str, is_word: Callable[[str], bool]) -> Action | None:
    """Read one line; None for a blank line or a ``#`` comment.

    Raises UsageError for an unknown ``:command`` or a malformed similarity line.
    """
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith(":"):
        head, _, rest = text[1:].partition(" ")
        name = _ALIASES.get(head.lower())
        rest = rest.strip()
        if name is None:
            raise UsageError(f"unknown command ':{head}' (:help lists them)")
        if name in ("top", "method", "restrict", "model"):
            if not rest:
                raise UsageError(f":{name} needs a value, such as "
                                 + {"top": ":top 5", "method": ":method mul",
                                    "restrict": ":restrict 30000",
                                    "model": ":model glove-6b-50d"}[name])
            return Action("set", text, name=name, value=rest)
        if name == "explain":
            if not rest:
                raise UsageError(":explain needs an analogy: :explain king - man + woman")
            return Action("explain", rest)
        return Action(name, text)
    # '~' joins the words of a similarity; a lone '~' is always the operator, and a chunk
    # holding '~' is split at it unless it is a vocabulary word itself.
    tokens: list[str | None] = []  # None: the operator
    for chunk in text.split():
        if chunk == "~":
            tokens.append(None)
        elif "~" in chunk and not is_word(chunk):
            for k, piece in enumerate(chunk.split("~")):
                tokens += ([None] if k else []) + ([piece] if piece else [])
        else:
            tokens.append(chunk)
    if None in tokens:
        groups: list[list[str]] = [[]]
        for token in tokens:
            if token is None:
                groups.append([])
            else:
                groups[-1].append(token)
        if any(len(g) != 1 for g in groups):
            raise UsageError("similarity takes single words joined by '~': cat ~ dog")
        return Action("similarity", text, words=tuple(g[0] for g in groups))
    return Action("query", text)


@dataclass(frozen=True)
class Settings:
    top: int = 10
    method: str = "add"
    restrict: int | None = None
    case_sensitive: bool = False


class Session:
    """A model loaded once and the settings; answers lines. Never prints."""

    def __init__(self, load: Callable[[str | None], Model], spec: str | None,
                 settings: Settings, note: Callable[[str], None]):
        self._load = load
        self._note = note
        self.settings = settings
        self.model = load(spec)
        self.resolver = self._resolver()

    def _resolver(self) -> Resolver:
        from embedcli.engine import Resolver

        return Resolver(self.model, case_sensitive=self.settings.case_sensitive,
                        on_note=self._note)

    def describe(self) -> str:
        s = self.settings
        return (f"model {self.model.name} ({len(self.model):,} words, {self.model.dim} "
                f"dimensions); top {s.top}; method {s.method}; restrict "
                f"{'off' if s.restrict is None else f'{s.restrict:,}'}")

    def answer(self, action: Action) -> Any:
        """The result of a query, a message (str) for settings, or None."""
        from embedcli.engine import rank_query, similarity, similarity_matrix
        from embedcli.expr import parse

        s = self.settings
        if action.kind == "query":
            query = parse(action.text, self.resolver.is_word)
            if query.form == "expression" and len(query.terms) == 1:
                return rank_query(self.model, query, self.resolver, method="add", top=s.top,
                                  restrict=s.restrict, label="cosine")
            return rank_query(self.model, query, self.resolver, method=s.method, top=s.top,
                              restrict=s.restrict)
        if action.kind == "similarity":
            words = list(action.words)
            if len(words) == 2:
                return similarity(self.model, words[0], words[1], self.resolver)
            return similarity_matrix(self.model, words, self.resolver)
        if action.kind == "explain":
            from embedcli.classroom import explain

            query = parse(action.text, self.resolver.is_word)
            return explain(self.model, query, self.resolver, top=s.top, restrict=s.restrict)
        if action.kind == "set":
            return self._set(action.name, action.value)
        if action.kind == "settings":
            return self.describe()
        if action.kind == "help":
            return HELP
        raise UsageError(f"cannot answer a '{action.kind}' line")

    def _set(self, name: str, value: str) -> str:
        s = self.settings
        if name == "top":
            if not value.isdigit() or int(value) < 1:
                raise UsageError(f":top takes a whole number of at least 1, not '{value}'")
            self.settings = replace(s, top=int(value))
            return f"top {int(value)}"
        if name == "method":
            if value.lower() not in ("add", "mul"):
                raise UsageError(f":method takes add or mul, not '{value}'")
            self.settings = replace(s, method=value.lower())
            return f"method {value.lower()}"
        if name == "restrict":
            if value.lower() in ("off", "none", "0"):
                self.settings = replace(s, restrict=None)
                return "restrict off"
            if not value.isdigit():
                raise UsageError(f":restrict takes a whole number or off, not '{value}'")
            self.settings = replace(s, restrict=int(value))
            return f"restrict {int(value):,}"
        model = self._load(value)  # an error leaves the current model in place
        self.model = model
        self.resolver = self._resolver()
        return f"model {model.name} ({len(model):,} words, {model.dim} dimensions)"


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
            return [c for c in COMMANDS if c.startswith(text.lower())]
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
    from embedcli.engine import vocabulary

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


# --------------------------------------------------------------------------- loops


class _History:
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
        from embedcli.cli import say

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


def interactive(session: Session, answer: Callable[[int, Any], None],
                show: Callable[[str], None]) -> int:
    """The prompt loop on a terminal; returns the exit status (0).

    ``answer(line_number, result)`` writes an answer; ``show`` writes messages (the
    banner, help, settings) where the person reads them: on stderr when stdout is a pipe,
    which then gets the answers alone.
    """
    from embedcli.cli import report_error

    readline = None
    history = None
    prompt_here = sys.stdout.isatty()
    person = sys.stdout if prompt_here else sys.stderr  # where the person is looking
    try:
        readline = setup_readline(session)
        history = _History(readline, history_path())
    except ImportError:  # a Python without readline: a plain prompt still works
        pass
    show(f"embedcli shell: {session.describe()}\n"
         "A word gives its neighbours, 'cat ~ dog' a similarity, 'king - man + woman' an "
         "analogy. :help for more, Tab completes, Ctrl-D leaves.")
    number = 0
    while True:
        try:
            if prompt_here:
                line = input(PROMPT)
            else:  # stdout is a pipe: the prompt goes where the person is looking
                sys.stderr.write(PROMPT)
                sys.stderr.flush()
                line = input()
        except KeyboardInterrupt:  # Ctrl-C: the line is dropped, a new prompt
            person.write("\n")
            continue
        except EOFError:  # Ctrl-D
            person.write("\n")
            person.flush()
            return 0
        number += 1
        if history is not None:
            history.added()
        try:
            action = interpret(line, session.resolver.is_word)
            if action is None:
                continue
            if action.kind == "quit":
                return 0
            result = session.answer(action)
            if isinstance(result, str):
                show(result)
            elif result is not None:
                answer(number, result)
        except EmbedcliError as exc:
            report_error(exc)
        except KeyboardInterrupt:  # Ctrl-C during a long answer (:model converting)
            sys.stderr.write("\n")
            from embedcli.cli import say

            say("", "cancelled")


def driven(session: Session, lines: Any, answer: Callable[[int, Any], None],
           failure: Callable[[int, str, str], None]) -> int:
    """Answer lines from a program: ``answer(line_number, result)`` for each query (and for
    ``:settings``, a record of them), ``failure(line_number, line, message)`` for a line
    that failed, after its message went to stderr. Other settings lines give nothing.

    Returns 0, or 1 when some line failed (as ``embedcli batch`` does).
    """
    from embedcli.cli import report_error, say
    from embedcli.render import Records

    failed = answered = 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        try:
            action = interpret(line, session.resolver.is_word)
            if action is None:
                continue
            if action.kind == "quit":
                break
            if action.kind == "help":
                sys.stderr.write(HELP + "\n")
                continue
            if action.kind == "settings":
                s = session.settings
                answer(number, Records("settings", [{
                    "model": session.model.name, "top": s.top, "method": s.method,
                    "restrict": s.restrict}], single=True))
                continue
            result = session.answer(action)
            if isinstance(result, str):  # a setting was changed
                continue
            answered += 1
            answer(number, result)
        except EmbedcliError as exc:
            failed += 1
            report_error(exc)
            failure(number, line, str(exc))
    if failed:
        say("error", f"{failed:,} of {answered + failed:,} lines failed (their output lines "
                     "carry the error)")
        return 1
    return 0


def read_lines(stream: Any) -> Any:
    """Lines of a pipe as they arrive (not after a buffer fills), decoded as UTF-8; bytes
    that are not UTF-8 become U+FFFD, so such a word is reported as unknown."""
    buffer = getattr(stream, "buffer", None)
    while True:
        raw = buffer.readline() if buffer is not None else stream.readline()
        if not raw:
            return
        yield raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
