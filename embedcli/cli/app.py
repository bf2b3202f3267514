"""The Typer app: the group, ``main``, and the ordered list of command areas. Every way a
run can end becomes one stderr line and one exit status here, in one place.

A command area is a module with its own ``app = typer.Typer()``; adding a command means
writing it in an area's module (or a new module, with one line in ``AREAS``).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from embedcli import __version__
from embedcli.cli import io
from embedcli.errors import EmbedcliError, ExitStatus, StreamError, shown

# The command areas, in the order `embedcli --help` lists them.
AREAS = (
    "embedcli.cli.queries",    # analogy, neighbors, similarity, doesnt-match, vector, rank, vocab
    "embedcli.cli.batch",      # batch
    "embedcli.cli.shell",      # shell
    "embedcli.cli.classroom",  # explain, interpolate, plot, quiz
    "embedcli.cli.evaluate",   # evaluate analogies|similarity
    "embedcli.cli.models",     # models list|info|add|remove|default
)


class EmbedcliGroup(TyperGroup):
    """Maps every way a run can end to one stderr line and one exit status."""

    def main(self, args: Sequence[str] | None = None,  # type: ignore[override]
             prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        io.interrupt_handled()  # a Ctrl-C of an earlier run in this process is history
        try:
            try:
                status = super().main(args, prog_name or io.PROG, complete_var,
                                      standalone_mode=False, **extra)
                status = status if isinstance(status, int) else 0
            except typer.TyperException as exc:  # click's usage errors (typer vendors click)
                status = _usage(exc)  # (NoArgsIsHelp writes the help: that may fail too)
        except EmbedcliError as exc:
            if io.interrupted():  # see _on_signal
                status = _stopped()
            else:
                io.report_error(exc)
                status = exc.status
        except StreamError as exc:  # stdin cannot be read, or stdout written
            if io.interrupted():
                status = _stopped()
            else:
                io.say("error", str(exc))
                status = exc.status
        except SystemExit:
            # rich's and typer's own answer to a closed pipe while they print help: exit
            # 1 (rich points stdout at /dev/null first). Ours is 141, as for answers.
            if not _stdout_was_closed():
                raise
            status = io.the_reader_left()
        except (KeyboardInterrupt, typer.Abort):
            io.to_stderr("\n")
            status = _stopped()
        except io.Stopped:  # SIGTERM, SIGHUP: the work has unwound as for Ctrl-C
            status = _stopped()
        except Exception as exc:  # a bug: still one line, no traceback (EMBEDCLI_DEBUG=1 shows it)
            if io.interrupted():  # see _on_signal
                status = _stopped()
            elif os.environ.get("EMBEDCLI_DEBUG"):
                raise
            else:
                io.say("internal error", f"{type(exc).__name__}: {shown(str(exc))} (please "
                       "report this; EMBEDCLI_DEBUG=1 shows the traceback)")
                status = ExitStatus.INTERNAL
        sys.exit(int(status))


def _stopped() -> ExitStatus:
    """The status of the interrupting signals recorded (130 if none is: a Ctrl-C that
    typer saw as an Abort); SIGTERM and SIGHUP say so in one line (Ctrl-C's newline is
    enough at a terminal)."""
    status = io.interrupt_status()
    if status != ExitStatus.INTERRUPTED:
        io.say("", f"stopped by {signal.Signals(status - 128).name}")
    return status


def _usage(exc: typer.TyperException) -> int:
    if type(exc).__name__ == "NoArgsIsHelpError":
        try:
            sys.stdout.write(exc.format_message() + "\n")
            sys.stdout.flush()
            return ExitStatus.OK
        except BrokenPipeError:
            return io.the_reader_left()
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and type(exc).__name__ == "NoSuchOption" and \
            ctx.command.name in ("analogy", "neighbors", "explain"):
        message += (" (a query that starts with '-' goes after '--': "
                    f"{ctx.command_path} -- \"-king + woman\")")
    elif ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    io.say("error", message)
    return int(getattr(exc, "exit_code", ExitStatus.USAGE))


def _stdout_was_closed() -> bool:
    if io.closed_at_start(sys.stdout):  # (its descriptor leads to /dev/null, from the start)
        return False
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's wrapper
        return True
    try:  # rich's: stdout's descriptor now leads to /dev/null
        here, null = os.fstat(1), os.stat(os.devnull)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


app = typer.Typer(
    cls=EmbedcliGroup,
    name=io.PROG,
    help="Word-embedding arithmetic at the command line: analogies, neighbours, similarity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"{io.PROG} {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Word-embedding arithmetic at the command line: analogies, neighbours, similarity.

    Example: embedcli analogy "king - man + woman"
    """


for _area in AREAS:
    app.add_typer(importlib.import_module(_area).app)


def main() -> None:
    """Console-script entry point (``embedcli``, ``python -m embedcli``)."""
    io.set_up_streams()
    _arguments_as_utf8()
    _width_from_the_environment()
    for signum in io.STOPPING:  # Ctrl-C, SIGTERM, SIGHUP
        signal.signal(signum, _on_signal)
    try:
        app()
        status: int = ExitStatus.OK
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
