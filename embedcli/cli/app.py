"""The entry point, ``main``, and the ordered list of command areas. The Typer app itself
(``embedcli.cli.root``, where every way a run can end becomes one stderr line and one exit
status) is built for the run with the areas it needs, after ``main`` has answered a
plain ``embedcli --version`` without importing typer at all.

A command area is a module with its own ``app = typer.Typer()``; adding a command means
writing it in an area's module (or a new module) and naming it in ``COMMANDS``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from embedcli import __version__
from embedcli.cli import io
from embedcli.errors import EmbedcliError, ExitStatus, StreamError

if TYPE_CHECKING:
    import typer

# Each command and the area (a module with its own typer.Typer()) that registers it, in
# the order `embedcli --help` lists them; a test checks this against the areas' apps. A run
# whose first argument names a command builds the app of that area alone (the others are
# not imported); any other run (--help, a usage error, an unknown command) builds them
# all, so that the help lists every command and the suggestions know them all.
COMMANDS = {
    **dict.fromkeys(("analogy", "neighbors", "similarity", "doesnt-match", "vector", "rank",
                     "axis", "vocab"), "embedcli.cli.queries"),
    "batch": "embedcli.cli.batch",
    "shell": "embedcli.cli.shell",
    **dict.fromkeys(("explain", "interpolate", "plot", "explore", "dims", "quiz"),
                    "embedcli.cli.classroom"),
    "evaluate": "embedcli.cli.evaluate",  # evaluate analogies|similarity
    "models": "embedcli.cli.models",  # models list|info|add|remove|default|check
}
AREAS = tuple(dict.fromkeys(COMMANDS.values()))  # the areas, in that order


def for_arguments(args: Sequence[str]) -> typer.Typer:
    """The app a run with ``args`` needs: only the command it names, if it names one
    first (its area alone imported); else the whole app."""
    from embedcli.cli.root import build

    args = _completed() or args
    area = COMMANDS.get(args[0]) if args else None
    if area is not None:
        return build((area,), args[0])
    if list(args) in ([], ["--help"], ["-h"]):  # the list of commands: no parameters needed
        return build(AREAS, listing=True)
    return __getattr__("app")


def _completion_as_typer_names_it() -> None:
    """click 8 names the shell's request ``bash_complete``; typer, whose scripts
    ``--show-completion`` writes, ``complete_bash``. Both are answered."""
    value = os.environ.get("_EMBEDCLI_COMPLETE", "")
    shell, _, action = value.partition("_")
    if action in ("complete", "source"):
        os.environ["_EMBEDCLI_COMPLETE"] = f"{action}_{shell}"


def _completed() -> list[str]:
    """While the shell asks for completions (``_EMBEDCLI_COMPLETE`` set by the script of
    ``--show-completion``), the words typed after ``embedcli`` up to the one completed,
    so that completing a command's arguments builds its area alone; [] otherwise. bash
    gives the words in COMP_WORDS and COMP_CWORD, zsh, fish and PowerShell in
    _TYPER_COMPLETE_ARGS."""
    if not os.environ.get("_EMBEDCLI_COMPLETE"):
        return []
    import shlex

    try:
        if "COMP_WORDS" in os.environ:
            words = shlex.split(os.environ["COMP_WORDS"])
            typed = words[1:int(os.environ.get("COMP_CWORD", "0"))]
        else:
            text = os.environ.get("_TYPER_COMPLETE_ARGS", "")
            words = shlex.split(text)
            typed = words[1:] if text.endswith(" ") else words[1:-1]
    except ValueError:  # an unclosed quote, a COMP_CWORD that is no number
        return []
    return typed if typed and typed[0] in COMMANDS else []


def __getattr__(name: str) -> Any:
    """``app``, the whole CLI, built on first use (``main`` builds only what a run needs)."""
    if name == "app":
        whole = globals().get("_whole")
        if whole is None:
            from embedcli.cli.root import build

            whole = globals()["_whole"] = build(AREAS)
        return whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version() -> int:
    """``embedcli --version`` and nothing else: answered before typer is imported (the
    app's ``--version`` option says the same, in any other company)."""
    try:
        sys.stdout.write(f"{io.PROG} {__version__}\n")
    except BrokenPipeError:  # the reader left: 141, quietly
        return io.the_reader_left()
    except EmbedcliError as exc:
        io.report_error(exc)
        return exc.status
    except StreamError as exc:
        io.say("error", str(exc))
        return exc.status
    except (KeyboardInterrupt, io.Stopped) as exc:  # as the app's group ends them
        from embedcli.cli.root import stopped

        if isinstance(exc, KeyboardInterrupt):
            io.to_stderr("\n")
        return stopped()
    return ExitStatus.OK


def main() -> None:
    """Console-script entry point (``embedcli``, ``python -m embedcli``)."""
    io.set_up_streams()
    _completion_as_typer_names_it()
    _arguments_as_utf8()
    _width_from_the_environment()
    for signum in io.STOPPING:  # Ctrl-C, SIGTERM, SIGHUP
        signal.signal(signum, _on_signal)
    status: int
    try:
        if sys.argv[1:] == ["--version"]:
            status = _version()
        else:
            for_arguments(sys.argv[1:])()
            status = ExitStatus.OK
    except SystemExit as exit:
        code = exit.code
        status = 0 if code is None else code if isinstance(code, int) else 1
    except StreamError as exc:  # met while another ending was being said (help, a usage error)
        io.say("error", str(exc))
        status = exc.status
    failed = io.finish_stdout()
    if failed is not None and status in (ExitStatus.OK, ExitStatus.NO_ANSWER):
        status = failed
    if status in (ExitStatus.INTERRUPTED, ExitStatus.TERMINATED, ExitStatus.HANGUP):
        _exit_interrupted(status)
    sys.exit(status)


def _arguments_as_utf8() -> None:
    """Arguments read as UTF-8 where they are: under a locale whose encoding is not UTF-8
    (``LC_ALL=C PYTHONUTF8=0``) Python decodes them as ASCII with surrogateescape, and
    ``café`` would be no word of any model. An argument that is not UTF-8 is left as the
    locale read it (its bytes escaped in messages); paths go back to the bytes typed
    (``io.os_path``)."""
    if sys.getfilesystemencoding().lower().replace("-", "") == "utf8":
        return
    sys.argv = [_as_utf8(arg) for arg in sys.argv]


def _as_utf8(arg: str) -> str:
    try:
        return os.fsencode(arg).decode("utf-8")
    except (UnicodeError, TypeError):
        return arg


def _width_from_the_environment() -> None:
    """COLUMNS and LINES that are not a positive number are no width at all (rich took
    COLUMNS=0 for a width of 0, and tables and help printed nothing)."""
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name)
        if value is not None and not (value.strip().isdigit() and int(value) > 0):
            del os.environ[name]


_stopping = False  # a SIGTERM or SIGHUP is unwinding the run


def _on_signal(signum: int, frame: Any) -> None:
    """Ctrl-C, SIGTERM and SIGHUP, remembered, and raised where they land: Ctrl-C as
    Python's KeyboardInterrupt, the others as ``io.Stopped``, so that each unwinds the
    work (a half-written cache entry is removed). Remembered because an interrupt that
    lands while an extension module initialises comes out as an ImportError
    ("initialization failed", seen in CI), which must end as the signal does, not as an
    internal error. A second SIGTERM or SIGHUP is only remembered: the clean-up of the
    first one runs to its end."""
    global _stopping
    io.INTERRUPTS.append(signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    if not _stopping:
        _stopping = True
        raise io.Stopped(signum)


def _exit_interrupted(status: int) -> None:
    """Exit with the signal's status (130, 143, 129), every time.

    By now the interrupted work has cleaned up after itself (a half-written cache entry is
    removed as the interrupt unwinds). A plain ``sys.exit(130)`` is not enough: when the
    interrupt lands while an extension module is importing, CPython sets its flag for an
    unhandled KeyboardInterrupt even though typer caught it, and at exit kills the process
    with SIGINT instead (status -2, seen in CI). Ending without the interpreter's shutdown
    gives the documented status.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, StreamError):
            pass
    os._exit(status)
