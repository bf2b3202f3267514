"""Lines -> query specs: the front-ends of ``embedcli batch`` and ``embedcli shell``.

Both make a :class:`embedcli.queries.Spec`, answered and checked on the one path every
command takes; they differ only in how a line is read. Pure: no I/O, no model.

Batch lines
-----------
A batch line is a command and its arguments, as on the command line after ``embedcli``::

    analogy king - man + woman -n 3
    analogy "man : king :: woman : ?" --method mul
    neighbors cat --top 5 --restrict 30000
    similarity cat dog
    doesnt-match breakfast cereal dinner lunch
    rank cat dog
    vector cat
    axis man woman doctor nurse
    axis "king - man" "queen - woman" crown --top 3
    axis --pair man:woman --pair he:she doctor nurse

* Words are separated by white space. No shell quoting: an apostrophe is part of a word
  (``neighbors don't``). Double quotes may group a query (``analogy "king - man + woman"``)
  when a token starts with ``"`` and a later one ends with ``"``; a quoted text is never
  read as an option. A ``"`` that is not closed is a word.
* Options may stand anywhere after the command: ``-n N`` / ``-nN`` / ``--top N`` /
  ``--top=N``, ``--method add|mul``, ``--restrict N``, ``--include-inputs``, ``--pair
  A:B``. Only the ranking commands and axis take them (analogy the first four, neighbors
  all but ``--method``, axis ``--top``, ``--restrict`` and ``--pair``); the
  ``batch`` command's own options are the defaults. ``--`` ends the options, for a query
  word that looks like one.
* Any other token that starts with ``-`` is part of the query (``-`` itself,
  ``-king + queen``, ``-lrb-``), except ``--`` followed by a letter when it is not a
  vocabulary word: that is an unknown option.
* Blank lines and lines whose first non-blank character is ``#`` are skipped.

Shell lines
-----------
The shell reads the query language itself, with short forms: a word (or a one-term
expression) asks for its neighbours, a line with ``~`` for a similarity, any other query
is an analogy; ``:name value`` lines change settings (see :func:`read_shell_line`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from embedcli.errors import UsageError
from embedcli.queries import Spec

COMMANDS = ("analogy", "neighbors", "similarity", "doesnt-match", "rank", "vector", "axis")
# the per-line options each command takes
LINE_OPTIONS: dict[str, tuple[str, ...]] = {
    "analogy": ("top", "method", "restrict", "include_inputs"),
    "neighbors": ("top", "restrict", "include_inputs"),
    "axis": ("top", "restrict", "pair"),
}
_SPELLING = {"top": "-n/--top", "method": "--method", "restrict": "--restrict",
             "include_inputs": "--include-inputs", "pair": "--pair"}
# a token, or a double-quoted text that ends where a token ends
_TOKEN = re.compile(r'"(?P<quoted>[^"]*)"(?=\s|$)|(?P<bare>\S+)')
_LONG_OPTION = re.compile(r"--[A-Za-z]")


def _never(_: str) -> bool:
    return False


def is_skipped(text: str) -> bool:
    """Blank lines and ``#`` comments carry no query."""
    stripped = text.strip()
    return not stripped or stripped.startswith("#")


def split_line(text: str) -> list[tuple[str, bool]]:
    """The tokens of a line, each with whether it was quoted."""
    tokens = []
    for match in _TOKEN.finditer(text):
        quoted = match.group("quoted")
        tokens.append((quoted, True) if quoted is not None else (match.group("bare"), False))
    return tokens


def _number(option: str, value: str | None) -> int:
    if value is None:
        raise UsageError(f"option {option} needs a number")
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"invalid value for {option}: '{value}' is not a whole number") from None


def read_batch_line(text: str, defaults: Spec,
                    is_word: Callable[[str], bool] = _never) -> Spec | None:
    """Read one batch line; None for a blank or comment line.

    ``defaults`` gives the options a line does not set (its command and words are
    ignored); ``is_word`` tells a vocabulary word that starts with ``--`` from an option.

    Raises
    ------
    UsageError
        An unknown command, an unknown or misplaced option, or a value that is not a
        number. The rest (limits, the number of words) is :func:`embedcli.queries.check`'s,
        as for every entry point.
    """
    if is_skipped(text):
        return None
    tokens = split_line(text)
    command, quoted = tokens[0]
    if quoted or command not in COMMANDS:
        raise UsageError(f"unknown command '{command}'; a batch line starts with one of: "
                         + ", ".join(COMMANDS))
    allowed = LINE_OPTIONS.get(command, ())
    words: list[str] = []
    found: dict[str, object] = {}
    rest = tokens[1:]
    i = 0
    only_words = False
    while i < len(rest):
        token, quoted = rest[i]
        i += 1
        if quoted or only_words or not token.startswith("-") or token == "-":
            words.append(token)
            continue
        if token == "--":
            only_words = True
            continue
        name, value, takes_value = _option(token)
        if name is None:
            if _LONG_OPTION.match(token) and not is_word(token):
                raise UsageError(f"no such option: {token.split('=', 1)[0]} (a batch line "
                                 "takes -n/--top, --method, --restrict, --include-inputs, --pair)")
            words.append(token)  # a query word such as '-king' or '-lrb-'
            continue
        if name not in allowed:
            takes = ", ".join(_SPELLING[o] for o in allowed) if allowed else "no options"
            raise UsageError(f"{command} takes no {_SPELLING[name]} in a batch line "
                             f"({command} takes {takes})")
        if takes_value and value is None:
            if i >= len(rest):
                raise UsageError(f"option {_SPELLING[name]} needs a value")
            value = rest[i][0]
            i += 1
        if name in ("top", "restrict"):
            found[name] = _number(_SPELLING[name], value)
        elif name == "method":
            found[name] = (value or "").lower()  # checked, as everywhere, by queries.check
        elif name == "pair":
            found["pairs"] = (*found.get("pairs", ()), value or "")  # type: ignore[misc]
        else:
            found[name] = True
    if command == "axis" and "top" in found:  # axis's --top: the words furthest toward each end
        found["furthest"] = found.pop("top")
    return replace(defaults, command=command, args=tuple(words), **found)  # type: ignore[arg-type]


def _option(token: str) -> tuple[str | None, str | None, bool]:
    """(option name, inline value, takes a value) of an option token, or (None, ...)."""
    if token == "-n" or token == "--top":
        return "top", None, True
    if token.startswith("--top="):
        return "top", token[len("--top="):], True
    if token.startswith("-n") and token[2:].isdigit():
        return "top", token[2:], True
    if token == "--method":
        return "method", None, True
    if token.startswith("--method="):
        return "method", token[len("--method="):], True
    if token == "--restrict":
        return "restrict", None, True
    if token.startswith("--restrict="):
        return "restrict", token[len("--restrict="):], True
    if token == "--include-inputs":
        return "include_inputs", None, False
    if token == "--pair":
        return "pair", None, True
    if token.startswith("--pair="):
        return "pair", token[len("--pair="):], True
    return None, None, False




# --------------------------------------------------------------------------- shell lines


@dataclass(frozen=True)
class Setting:
    """A ``:name [value]`` line of the shell: ``name`` is top, method, restrict or model
    (with a value), or settings, help or quit."""

    name: str
    value: str = ""


SHELL_COMMANDS = (":top", ":method", ":restrict", ":model", ":explain", ":axis", ":settings",
                  ":help", ":quit")
_ALIASES = {"n": "top", "top": "top", "method": "method", "restrict": "restrict",
            "model": "model", "m": "model", "explain": "explain", "axis": "axis",
            "settings": "settings",
            "set": "settings", "help": "help", "h": "help", "?": "help", "quit": "quit",
            "q": "quit", "exit": "quit"}
_EXAMPLES = {"top": ":top 5", "method": ":method mul", "restrict": ":restrict 30000",
             "model": ":model glove-6b-50d"}


def read_shell_line(line: str, defaults: Spec,
                    is_word: Callable[[str], bool] = _never) -> Spec | Setting | None:
    """Read one shell line; None for a blank line or a ``#`` comment.

    ``defaults`` holds the shell's settings (top, method, restrict). A query becomes the
    spec the command would make: ``cat`` that of ``neighbors cat``, ``cat ~ dog`` that of
    ``similarity "cat ~ dog"``, ``king - man + woman`` that of ``analogy``, ``:explain Q``
    that of ``explain Q``, ``:axis A B WORD...`` that of the batch line ``axis A B WORD...``
    (the shell's :restrict applies to its --top; the shell's :top is not axis's --top).

    Raises UsageError for an unknown ``:command`` or one without its value.
    """
    from embedcli.expr import parse, split_sides

    text = line.strip()
    if is_skipped(text):
        return None
    if text.startswith(":"):
        head, _, rest = text[1:].partition(" ")
        name = _ALIASES.get(head.lower())
        rest = rest.strip()
        if name is None:
            raise UsageError(f"unknown command ':{head}' (:help lists them)")
        if name in _EXAMPLES and not rest:
            raise UsageError(f":{name} needs a value, such as {_EXAMPLES[name]}")
        if name == "explain":
            if not rest:
                raise UsageError(":explain needs an analogy: :explain king - man + woman")
            return replace(defaults, command="explain", args=(rest,))
        if name == "axis":  # read as the batch line 'axis ...' is: --pair and --top too
            spec = read_batch_line("axis " + rest, defaults, is_word)
            assert spec is not None
            return spec
        return Setting(name, rest)
    if split_sides(text, is_word) is not None:
        return replace(defaults, command="similarity", args=(text,))
    query = parse(text, is_word)
    lone = query.form == "expression" and len(query.terms) == 1
    return replace(defaults, command="neighbors" if lone else "analogy", args=(text,))
